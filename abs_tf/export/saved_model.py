"""Export of any zoo model as a SavedModel that TF Serving, TF Hub and Keras can load.

Layout (TF Serving's versioned directories): `saved_models/<name>/<version>/`, with

  signature `serving_default`: input `images` float32 [None, 28, 28, 1] in [0, 1];
                               outputs `logits` and `probabilities`, float32 [None, 10].

Bad input is refused in the graph (NaN, values outside [0, 1]); the signature itself refuses
other dtypes and shapes. The module's variables are tracked explicitly (`model_variables`),
which the session-based loader of TF Serving and `saved_model_cli run` need for Keras 3
layers. `assets/abs_tf_model.json` records the model's kind and configuration so that
`load_in_memory` can rebuild the Python model with the exported weights.
"""

import json
import pathlib

import tensorflow as tf

from abs_tf.models import classifier

SERVING_SIGNATURE = "serving_default"
MODEL_JSON = "abs_tf_model.json"
INPUT_SPEC = tf.TensorSpec([None] + list(classifier.IMAGE_SHAPE), tf.float32, name="images")


class ServingModule(tf.Module):
  """Wraps a `Classifier` for export."""

  def __init__(self, model: classifier.Classifier):
    super().__init__(name="serving")
    self.model = model
    self.model_variables = list(model.export_variables())
    self.serve = tf.function(self._serve, input_signature=[INPUT_SPEC])
    self.extra = model.extra_signatures()
    for name, function in self.extra.items():
      setattr(self, name, function)

  def _serve(self, images):
    """Args: images float32 [B, 28, 28, 1] in [0, 1]. Returns: dict of logits and
    probabilities, float32 [B, 10]."""
    logits = self.model.logits_graph(classifier.assert_valid_images_graph(images))
    return {"logits": logits, "probabilities": self.model.probabilities(logits)}


def export(model: classifier.Classifier, export_dir) -> pathlib.Path:
  """Writes `model` as a SavedModel to `export_dir` (e.g. saved_models/abs/1)."""
  if not model.kind:
    raise ValueError(f"{type(model).__name__} has no kind; it cannot be rebuilt on load.")
  export_dir = pathlib.Path(export_dir)
  model.prepare_export()
  module = ServingModule(model)
  signatures = {SERVING_SIGNATURE: module.serve, **module.extra}
  tf.saved_model.save(module, str(export_dir), signatures=signatures)
  (export_dir / "assets").mkdir(exist_ok=True)
  (export_dir / "assets" / MODEL_JSON).write_text(
      json.dumps({"kind": model.kind, "config": model.config_dict()}, indent=2) + "\n")
  return export_dir


def read_model_json(export_dir) -> dict:
  path = pathlib.Path(export_dir) / "assets" / MODEL_JSON
  if not path.is_file():
    raise FileNotFoundError(f"{path} is missing: {export_dir} was not exported by abs_tf.")
  return json.loads(path.read_text())


def load_in_memory(export_dir, kinds) -> classifier.Classifier:
  """Rebuilds the Python model of an exported SavedModel.

  Args:
    export_dir: a directory written by `export`.
    kinds: model classes by kind, each with `from_config(dict)`.

  Returns:
    A `Classifier` whose `export_variables()` hold the exported values.
  """
  meta = read_model_json(export_dir)
  if meta["kind"] not in kinds:
    raise ValueError(f"Unknown model kind {meta['kind']!r} in {export_dir}; known: "
                     f"{sorted(kinds)}.")
  model = kinds[meta["kind"]].from_config(meta["config"])
  loaded = tf.saved_model.load(str(export_dir))
  targets = model.export_variables()
  if len(targets) != len(loaded.model_variables):
    raise ValueError(f"{export_dir} holds {len(loaded.model_variables)} variables, the "
                     f"model needs {len(targets)}.")
  for target, value in zip(targets, loaded.model_variables):
    target.assign(value)
  return model


class SavedModelClassifier(classifier.Classifier):
  """Any SavedModel with this project's serving signature, as a `Classifier`.

  Gradients flow through the restored signature where the exported graph is differentiable.
  """

  def __init__(self, export_dir):
    super().__init__(name="saved_model")
    self.export_dir = str(export_dir)
    self.loaded = tf.saved_model.load(self.export_dir)
    if SERVING_SIGNATURE not in self.loaded.signatures:
      raise ValueError(f"{export_dir} has no '{SERVING_SIGNATURE}' signature.")
    self.signature = self.loaded.signatures[SERVING_SIGNATURE]

  def logits_graph(self, images):
    return self.signature(images=images)["logits"]
