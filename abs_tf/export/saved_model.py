"""Export of any zoo model as a SavedModel that TF Serving, TF Hub and Keras can load.

Layout (TF Serving's versioned directories): `saved_models/<name>/<version>/`, with

  signature `serving_default`: input `images` float32 [B, 28, 28, 1] in [0, 1];
                               outputs `logits` and `probabilities`, float32 [B, 10].

The SignatureDef advertises `images` as float32 of unknown shape: the graph checks the shape
first, then NaN and the range, and refuses bad input with "expected images: float32 [batch,
28, 28, 1] with values in [0, 1]; got ..." before any other computation (the runtime itself
refuses other dtypes, naming float32). An empty batch gives empty outputs, [0, 10]. `assets/abs_tf_model.json` records the model's kind and configuration
so that `load_in_memory` can rebuild the Python model with the exported weights.

What is saved, and why each once: the serving module tracks the model's `export_variables()`
(`model_variables`, in order; `load_in_memory` reads them back, and the session-based loader of
TF Serving and `saved_model_cli run` need Keras 3 variables tracked explicitly) and the
model's resources (`model_resources`: caches' lookup tables, assets such as the nearest
neighbour's training files). It does not track the model itself: through its Keras layers
every Keras variable would be saved a second time under another checkpoint key.
"""

import json
import pathlib

import tensorflow as tf

from abs_tf.export import serving
from abs_tf.models import classifier

SERVING_SIGNATURE = "serving_default"
MODEL_JSON = "abs_tf_model.json"
# Any shape: the graph checks it first, with a message naming the expected one
# (classifier.assert_valid_images_graph).
INPUT_SPEC = tf.TensorSpec(None, tf.float32, name="images")


def _is_resource(value) -> bool:
  return isinstance(value, (tf.saved_model.Asset, tf.saved_model.experimental.TrackableResource))


def model_resources(model: classifier.Classifier) -> list:
  """The assets and resources (e.g. `cache.ComputedOnce`'s tables) in the model's tf.Module
  tree, in a fixed order. Keras layers are not tf.Modules, so their variables are not
  visited (they are saved through `export_variables`)."""
  return list(model._flatten(predicate=_is_resource))  # pylint: disable=protected-access


class ServingModule(tf.Module):
  """Wraps a `Classifier` for export; tracks each variable once (see the module docstring).

  A signature that captures a variable or resource outside `export_variables()` and
  `model_resources()` makes `tf.saved_model.save` fail ("untracked resource"), loudly.
  """

  def __init__(self, model: classifier.Classifier):
    super().__init__(name="serving")
    # The model is reached only through the functions' closures, never as an attribute:
    # tracked, its Keras layers would save every variable a second time.
    self.model_variables = list(model.export_variables())
    self.model_resources = model_resources(model)

    def serve(images):
      """Args: images float32 [B, 28, 28, 1] in [0, 1]. Returns: dict of logits and
      probabilities, float32 [B, 10]."""
      logits = classifier.unless_empty(
          classifier.assert_valid_images_graph(images), model.logits_graph,
          tf.zeros([0, classifier.NUM_CLASSES]))
      return {"logits": logits, "probabilities": model.probabilities(logits)}

    self.serve = tf.function(serve, input_signature=[INPUT_SPEC])
    self.extra = model.extra_signatures()
    for name, function in self.extra.items():
      setattr(self, name, function)


def export(model: classifier.Classifier, export_dir) -> pathlib.Path:
  """Writes `model` as a SavedModel to `export_dir` (e.g. saved_models/abs/1), with TF
  Serving warmup requests for the batch sizes it compiles for (`serving.py`), if any."""
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
  sizes = serving.warmup_batch_sizes(model)
  if sizes:
    name = export_dir.parent.name if export_dir.name.isdigit() else export_dir.name
    serving.write_warmup_requests(export_dir, sizes, name)
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
