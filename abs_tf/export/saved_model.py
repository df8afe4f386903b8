"""Export of any zoo model as a SavedModel that TF Serving, TF Hub and Keras can load.

Layout (TF Serving's versioned directories): `saved_models/<name>/<version>/`, with

  signature `serving_default`: input `images` float32 [B, 28, 28, 1] in [0, 1];
                               outputs `logits` and `probabilities`, float32 [B, 10].

The SignatureDef advertises `images` as float32 of unknown shape: the graph checks the shape
first, then NaN and the range, and refuses bad input with "expected images: float32 [batch,
28, 28, 1] with values in [0, 1]; got ..." before any other computation (the runtime itself
refuses other dtypes, naming float32). An empty batch gives empty outputs, [0, 10].
`assets/abs_tf_model.json` records the model's kind and configuration so that
`load_in_memory` can rebuild the Python model with the exported weights. (Models of your own:
`export_classifier` in classifier_export.py writes the same signature.)

`SavedModelClassifier` runs any SavedModel whose `serving_default` takes float images and
gives [B, 10] logits, mapping other names (Keras 3's `model.export()`: `keras_tensor` ->
`output_0`) and flat inputs ([B, 784]) by `map_signature`.

What is saved, and why each once: the serving module tracks the model's `export_variables()`
(`model_variables`, in order; `load_in_memory` reads them back, and the session-based loader of
TF Serving and `saved_model_cli run` need Keras 3 variables tracked explicitly) and the
model's resources (`model_resources`: caches' lookup tables, assets such as the nearest
neighbour's training files). It does not track the model itself: through its Keras layers
every Keras variable would be saved a second time under another checkpoint key.
"""

import dataclasses
import json
import pathlib
from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from abs_tf.export import serving
from abs_tf.models import classifier

SERVING_SIGNATURE = "serving_default"
MODEL_JSON = "abs_tf_model.json"
# What `export_classifier` records about a model it adapted (abs_tf/export/classifier_export.py).
ADAPTER_JSON = "abs_tf_classifier.json"
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


def save_serving_module(model: classifier.Classifier, export_dir) -> pathlib.Path:
  """Writes `model`'s `ServingModule` (signatures `serving_default` and its extras) as a
  SavedModel to `export_dir`, without metadata."""
  export_dir = pathlib.Path(export_dir)
  module = ServingModule(model)
  signatures = {SERVING_SIGNATURE: module.serve, **module.extra}
  tf.saved_model.save(module, str(export_dir), signatures=signatures)
  (export_dir / "assets").mkdir(exist_ok=True)
  return export_dir


def export(model: classifier.Classifier, export_dir) -> pathlib.Path:
  """Writes `model` as a SavedModel to `export_dir` (e.g. saved_models/abs/1), with TF
  Serving warmup requests for the batch sizes it compiles for (`serving.py`), if any."""
  if not model.kind:
    raise ValueError(f"{type(model).__name__} has no kind; it cannot be rebuilt on load.")
  model.prepare_export()
  export_dir = save_serving_module(model, export_dir)
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


class SignatureError(ValueError):
  """A SavedModel's signature does not fit the contract; the message is one line naming what
  was expected and what was found."""


# What `SavedModelClassifier` takes, as its errors say it.
EXPECTED_SIGNATURE = (f"signature '{SERVING_SIGNATURE}' with one float input of images "
                      "[batch, 28, 28, 1] or [batch, 784] (named 'images', or any name) and "
                      "output 'logits' (or one float output [batch, 10])")


@dataclasses.dataclass(frozen=True)
class SignatureMapping:
  """How `SavedModelClassifier` calls a signature that is not named as the contract says.

  Attributes:
    input_key: the signature's input that gets the images.
    input_shape: the input's shape per image where the images are reshaped to it (e.g.
      (784,)), or None where they go as [B, 28, 28, 1].
    input_dtype: the input's float dtype (the images are cast to it).
    output_key: the signature's output read as logits [B, 10].
  """
  input_key: str
  input_shape: Optional[Tuple[int, ...]]
  input_dtype: tf.DType
  output_key: str

  def describe(self) -> str:
    shape = ("[B, 28, 28, 1]" if self.input_shape is None
             else f"[B, {', '.join(map(str, self.input_shape))}]")
    return (f"images -> input '{self.input_key}' ({self.input_dtype.name} {shape}), "
            f"output '{self.output_key}' -> logits")


def _spec_text(name: str, spec) -> str:
  shape = "?" if spec.shape.rank is None else [d if d is not None else "?"
                                               for d in spec.shape.as_list()]
  return f"'{name}' {spec.dtype.name} {shape}".replace("'?'", "?")


def _image_shape(spec) -> Optional[Tuple[int, ...]]:
  """None if `spec` takes [B, 28, 28, 1] as it is; the per-image shape to reshape to if it
  takes 784 values per image otherwise. Raises ValueError if it takes neither."""
  if spec.shape.rank is None or spec.shape.is_compatible_with([None, *classifier.IMAGE_SHAPE]):
    return None
  dims = spec.shape.as_list()[1:]
  if spec.shape.rank >= 2 and None not in dims and int(np.prod(dims)) == 784:
    return tuple(dims)
  raise ValueError("not 784 values per image")


def map_signature(signature, input_key: Optional[str] = None,
                  output_key: Optional[str] = None, where: str = "") -> SignatureMapping:
  """Finds the signature's input for the images and its output of logits.

  The signature must have one input (a signature is called with all its inputs; `input_key`,
  if given, must name it), float, of shape [batch, 28, 28, 1] (or unknown), or of 784 values
  per image (e.g. [batch, 784]: the images are reshaped). The output is `output_key`, else
  'logits', else the only float output of shape [batch, 10].

  Raises:
    SignatureError: no such input or output; the message names what was found.
  """
  inputs = signature.structured_input_signature[1]
  outputs = signature.structured_outputs
  found_in = ", ".join(_spec_text(k, v) for k, v in sorted(inputs.items())) or "none"
  found_out = ", ".join(_spec_text(k, v) for k, v in sorted(outputs.items())) or "none"

  def fail(expected, found):
    raise SignatureError(f"{where}expected {expected}; found {found}.")

  if len(inputs) != 1:  # a signature is called with all its inputs
    fail(EXPECTED_SIGNATURE, f"inputs {found_in}")
  (key,) = inputs
  if input_key is not None and input_key != key:
    fail(f"input '{input_key}' (--input_key)", f"inputs {found_in}")
  input_key = key
  spec = inputs[input_key]
  try:
    if not spec.dtype.is_floating:
      raise ValueError("not float")
    shape = _image_shape(spec)
  except ValueError:
    fail("an input of float images [batch, 28, 28, 1] or [batch, 784]",
         f"input {_spec_text(input_key, spec)}")

  def fits(spec):
    return spec.dtype.is_floating and spec.shape.is_compatible_with(
        [None, classifier.NUM_CLASSES])

  if output_key is None:
    candidates = (["logits"] if "logits" in outputs
                  else sorted(k for k, v in outputs.items() if fits(v)))
    if len(candidates) != 1:
      fail(f"{EXPECTED_SIGNATURE} (or --output_key)", f"outputs {found_out}")
    output_key = candidates[0]
  elif output_key not in outputs:
    fail(f"output '{output_key}' (--output_key)", f"outputs {found_out}")
  if not fits(outputs[output_key]):
    fail("logits float32 [batch, 10]", f"output {_spec_text(output_key, outputs[output_key])}")
  return SignatureMapping(input_key, shape, spec.dtype, output_key)


def read_adapter_json(export_dir) -> dict:
  """What `export_classifier` recorded about the model (e.g. `binarized`); {} for others."""
  path = pathlib.Path(export_dir) / "assets" / ADAPTER_JSON
  return json.loads(path.read_text()) if path.is_file() else {}


class SavedModelClassifier(classifier.Classifier):
  """Any SavedModel with a classifier's serving signature, as a `Classifier`.

  This project's signature (input `images`, output `logits`) is called as it is; another
  (e.g. Keras 3's `model.export()`: `keras_tensor` -> `output_0`) is mapped by
  `map_signature`. Gradients flow through the restored signature where the exported graph
  is differentiable.

  Attributes:
    mapping: how the signature is called.
    binarized: `export_classifier` recorded that the model binarises its input.
  """

  def __init__(self, export_dir, input_key: Optional[str] = None,
               output_key: Optional[str] = None):
    """Raises:
      SignatureError: no `serving_default` signature, or no input or output that fits.
    """
    super().__init__(name="saved_model")
    self.export_dir = str(export_dir)
    self.loaded = tf.saved_model.load(self.export_dir)
    if SERVING_SIGNATURE not in self.loaded.signatures:
      raise SignatureError(f"{export_dir}: expected {EXPECTED_SIGNATURE}; found signatures "
                           f"{sorted(self.loaded.signatures) or 'none'}.")
    self.signature = self.loaded.signatures[SERVING_SIGNATURE]
    self.mapping = map_signature(self.signature, input_key, output_key, f"{export_dir}: ")
    self.binarized = bool(read_adapter_json(export_dir).get("binarized", False))

  def logits_graph(self, images):
    mapping = self.mapping
    if mapping.input_shape is not None:
      images = tf.reshape(images, [-1, *mapping.input_shape])
    outputs = self.signature(**{mapping.input_key: tf.cast(images, mapping.input_dtype)})
    return tf.cast(outputs[mapping.output_key], tf.float32)
