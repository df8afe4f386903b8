"""Your own classifier as a SavedModel with this project's serving signature.

  abs_tf.export.export_classifier(keras_model, "my_model/1")
  python -m abs_tf.evaluate --models=my_model/1 --profile=smoke

writes the signature every loader of this project reads (`saved_model.py`): `serving_default`,
input `images` float32 [B, 28, 28, 1] in [0, 1] (checked in the graph), outputs `logits` and
`probabilities` float32 [B, 10]. The model may be a Keras model, a `tf.Module` or any
TF-traceable callable; its own conventions are applied inside the graph:

- inputs in 0..255 (`input_scale=255`) or normalised (`mean`, `std`): the model sees
  `(images * input_scale - mean) / std`;
- probabilities instead of logits (`outputs="probabilities"`): the logits are their log,
  log max(p, 1e-30). Softmax of these logits is p again, so decisions and the decision-based,
  noise and transfer attacks are unaffected. The gradient attacks (fgsm, fgm, bim_*, mim and
  their `_ge` versions) minimise the cross-entropy of these logits, -log p_y, as for a model
  with logits, but where p_y rounds to 1 in float32 its gradient is exactly zero: such samples
  resist them (the evaluation warns about zero gradients). Export logits where you can;
- a model that binarises its input (`binarized=True`) is recorded in
  `assets/abs_tf_classifier.json`, so that the evaluation applies the paper's post-processing
  to its adversarials (`abs_tf.attacks.base`).

References:
  Schott et al., ICLR 2019, section 5 (the binarised models' post-processing).
"""

import dataclasses
import json
import pathlib
from typing import Callable, Optional, Sequence

import keras
import tensorflow as tf

from abs_tf.export import saved_model
from abs_tf.models import classifier

OUTPUTS = ("logits", "probabilities")
# The log of probabilities is floored here, so that a zero probability gives finite logits.
MIN_PROBABILITY = 1e-30
TRACEABLE = ("must be TF-traceable: TensorFlow operations on its input only (no NumPy calls, "
             "no .numpy(), no Python branches on tensor values)")


@dataclasses.dataclass(frozen=True)
class Adaptation:
  """How a model's own conventions differ from the contract (see the module docstring).

  Attributes:
    input_scale: the model takes images * input_scale (255 for pixels in 0..255).
    mean, std: it then takes (images * input_scale - mean) / std.
    outputs: "logits" or "probabilities".
    binarized: it binarises its input (recorded for the evaluation).
  """
  input_scale: float = 1.0
  mean: float = 0.0
  std: float = 1.0
  outputs: str = "logits"
  binarized: bool = False

  def __post_init__(self):
    if self.outputs not in OUTPUTS:
      raise ValueError(f"outputs must be one of {OUTPUTS}, got {self.outputs!r}.")
    if not self.std > 0 or not self.input_scale > 0:
      raise ValueError(f"input_scale and std must be > 0, got {self.input_scale}, {self.std}.")


def _tf_variables(model, variables) -> list:
  """The tf.Variables to save: `variables` if given, else the model's own."""
  if variables is None:
    variables = getattr(model, "variables", ())
    if callable(variables):  # e.g. a method of some object that is not a model
      variables = ()
  return [v.value if isinstance(v, keras.Variable) else v for v in variables]


class AdaptedClassifier(classifier.Classifier):
  """A Keras model, tf.Module or TF-traceable callable as a `Classifier`, with its own
  input convention and outputs adapted to the contract."""

  def __init__(self, model: Callable, adaptation: Adaptation = Adaptation(),
               variables: Optional[Sequence] = None):
    super().__init__(name="adapted")
    if not callable(model):
      raise TypeError(f"model must be a Keras model, a tf.Module with __call__ or a callable; "
                      f"got {type(model).__name__}.")
    self._call = model
    self.adaptation = adaptation
    self._variables = _tf_variables(model, variables)

  def logits_graph(self, images):
    a = self.adaptation
    outputs = self._call((images * a.input_scale - a.mean) / a.std)
    outputs = tf.cast(outputs, tf.float32)
    if a.outputs == "probabilities":
      outputs = tf.math.log(tf.maximum(outputs, MIN_PROBABILITY))
    return outputs

  def export_variables(self):
    return self._variables

  def config_dict(self) -> dict:
    return dataclasses.asdict(self.adaptation)


def _check(adapted: AdaptedClassifier):
  """Calls the model eagerly and traced on two blank images; says what was expected."""
  images = tf.zeros([2, *classifier.IMAGE_SHAPE])
  expected = "the model must map float32 [B, 28, 28, 1] to [B, 10]"
  try:
    eager = adapted.logits_graph(images)
  except Exception as error:  # pylint: disable=broad-except
    raise ValueError(f"{expected}; calling it on [2, 28, 28, 1] failed: {error}") from error
  if tuple(eager.shape) != (2, classifier.NUM_CLASSES):
    raise ValueError(f"{expected}; got shape {list(eager.shape)} for 2 images.")
  try:
    tf.function(adapted.logits_graph).get_concrete_function(
        tf.TensorSpec([None, *classifier.IMAGE_SHAPE], tf.float32))
  except Exception as error:  # pylint: disable=broad-except
    raise TypeError(f"The model {TRACEABLE}; tracing it failed: {error}") from error


def export_classifier(model, export_dir, *, input_scale: float = 1.0, mean: float = 0.0,
                      std: float = 1.0, outputs: str = "logits", binarized: bool = False,
                      variables: Optional[Sequence] = None) -> pathlib.Path:
  """Writes `model` as a SavedModel with this project's serving signature.

  Args:
    model: a Keras model, a `tf.Module` with `__call__`, or a callable, mapping float32
      [B, 28, 28, 1] (after the conversion below) to logits (or probabilities) [B, 10]. A
      callable must be TF-traceable: TensorFlow operations only (no NumPy calls, no
      `.numpy()`, no Python branches on tensor values); it is traced into the SavedModel.
    export_dir: the SavedModel directory to write (e.g. "my_model/1").
    input_scale: the model takes pixels in [0, input_scale] (e.g. 255).
    mean, std: the model takes (images * input_scale - mean) / std (e.g. 0.1307, 0.3081).
    outputs: "logits", or "probabilities" (logits = their log; see the module docstring for
      the attacks this affects).
    binarized: the model binarises its input (the evaluation then applies the paper's
      post-processing to adversarials).
    variables: the variables the model uses, if not its `variables` (e.g. those of Keras
      layers a callable closes over); each is saved once.

  Returns:
    The export directory.

  Raises:
    ValueError: the model does not give [B, 10] for [B, 28, 28, 1], or bad arguments.
    TypeError: the model cannot be traced into a graph.
  """
  adapted = AdaptedClassifier(model, Adaptation(input_scale, mean, std, outputs, binarized),
                              variables)
  _check(adapted)
  export_dir = saved_model.save_serving_module(adapted, export_dir)
  (export_dir / "assets" / saved_model.ADAPTER_JSON).write_text(
      json.dumps(dict(adapted.config_dict(), model=type(model).__name__), indent=2) + "\n")
  return export_dir
