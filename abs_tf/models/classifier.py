"""The interface every model of the zoo implements, and input validation.

A `Classifier` maps float32 images [B, 28, 28, 1] in [0, 1] to logits [B, 10]. Subclasses
implement `logits_graph` (no validation, callable inside graphs) and name the variables and
configuration that rebuild them (`export_variables`, `config_dict`); `__call__` validates, so bad
input is refused at every public entry point.
"""

from typing import List

import numpy as np
import tensorflow as tf

IMAGE_SHAPE = (28, 28, 1)
NUM_PIXELS = 28 * 28 * 1  # the one definition; other modules read it from here
NUM_CLASSES = 10


def validate_images(images, name="images"):
  """Checks a batch of MNIST images.

  Args:
    images: array-like, expected float32 [B, 28, 28, 1] with values in [0, 1], no NaN.

  Returns:
    The images as a float32 tensor.

  Raises:
    ValueError: any of the above does not hold (value checks run in eager mode).
  """
  if isinstance(images, np.ndarray) and images.dtype != np.float32:
    raise ValueError(f"{name} must be float32, got {images.dtype}.")
  images = tf.convert_to_tensor(images)
  if images.dtype != tf.float32:
    raise ValueError(f"{name} must be float32, got {images.dtype.name}.")
  if images.shape.rank != 4 or tuple(images.shape[1:]) != IMAGE_SHAPE:
    raise ValueError(f"{name} must have shape [batch, 28, 28, 1], got {images.shape}.")
  if tf.executing_eagerly():
    values = images.numpy()
    if np.isnan(values).any():
      raise ValueError(f"{name} contains NaN.")
    if values.size and (values.min() < 0.0 or values.max() > 1.0):
      raise ValueError(f"{name} must lie in [0, 1], got values in "
                       f"[{values.min()}, {values.max()}].")
  return images


# What every entry point takes, as its error messages say it.
EXPECTED_IMAGES = "images: float32 [batch, 28, 28, 1] with values in [0, 1]"


def assert_valid_images_graph(images):
  """In-graph checks of a SavedModel signature's input, before any other computation.

  The signatures take a float32 tensor of any shape (the runtime itself refuses other
  dtypes), so that a wrong rank or shape is refused here, with a message naming the expected
  [batch, 28, 28, 1], instead of inside some operation of the model. Then NaN and values
  outside [0, 1] are refused. Everything computed from the returned tensor waits for the
  checks.

  Args:
    images: float32 tensor of any shape.

  Returns:
    The images, float32 [B, 28, 28, 1] (static shape), with the checks as control
    dependencies; a failed check raises InvalidArgumentError "expected images: ...".
  """
  shape = tf.shape(images)
  # Pads the shape so that any rank can be compared (a scalar's is []).
  dims = tf.concat([shape, tf.zeros([4], tf.int32)], axis=0)[1:4]
  shape_ok = tf.logical_and(tf.equal(tf.size(shape), 4),
                            tf.reduce_all(tf.equal(dims, IMAGE_SHAPE)))
  shape_check = tf.debugging.Assert(
      shape_ok, [f"expected {EXPECTED_IMAGES}; got shape", shape], summarize=8,
      name="check_shape")
  with tf.control_dependencies([shape_check]):
    value_checks = [
        tf.debugging.Assert(tf.logical_not(tf.reduce_any(tf.math.is_nan(images))),
                            [f"expected {EXPECTED_IMAGES}; got NaN"], name="check_nan"),
        tf.debugging.Assert(
            tf.logical_and(tf.reduce_all(images >= 0.0), tf.reduce_all(images <= 1.0)),
            [f"expected {EXPECTED_IMAGES}; got values in", tf.reduce_min(images),
             tf.reduce_max(images)], name="check_range"),
    ]
  with tf.control_dependencies(value_checks):
    return tf.ensure_shape(tf.identity(images), [None] + list(IMAGE_SHAPE))


def has_latent_inference(model) -> bool:
  """Whether `model` exposes ABS's latent inference (`infer_graph`: per class the optimal
  latent, its loss and reconstruction): the one test, for a loaded model, of what Latent
  Descent and the envelope gradient need (`ModelSpec.is_abs` declares it for the zoo)."""
  return hasattr(model, "infer_graph")


def unless_empty(images, compute, empty_outputs):
  """`compute(images)`, or `empty_outputs` where the batch is empty (no model runs then).

  Args:
    images: float32 [B, 28, 28, 1].
    compute: images -> a structure of tensors with a leading batch axis.
    empty_outputs: the same structure for B = 0.
  """
  return tf.cond(tf.shape(images)[0] > 0, lambda: compute(images), lambda: empty_outputs)


class Classifier(tf.Module):
  """Base of all models: float32 images [B, 28, 28, 1] in [0, 1] -> logits [B, 10].

  Attributes:
    kind: the builder that rebuilds this model from `config_dict()` (see registry.py).
  """
  kind: str = ""

  def __call__(self, images):
    """Validated logits, float32 [B, 10]."""
    return self.logits_graph(validate_images(images))

  def logits_graph(self, images):
    """Logits without validation, for use inside graphs. Subclasses implement it."""
    raise NotImplementedError

  def probabilities(self, logits):
    """Class probabilities from logits, float32 [B, 10]."""
    return tf.nn.softmax(logits)

  def export_variables(self) -> List[tf.Variable]:
    """Every variable that `config_dict()` does not determine, in a fixed order."""
    raise NotImplementedError

  def config_dict(self) -> dict:
    """JSON-serialisable settings that, with `export_variables`, rebuild the model."""
    raise NotImplementedError

  def prepare_export(self):
    """Drops caches that must not be saved (e.g. ABS's decoded prototypes)."""

  def batch_buckets(self) -> tuple:
    """Batch sizes the model compiles its computation for (pads other sizes to one);
    empty if any batch size runs without compiling."""
    return ()

  def extra_signatures(self) -> dict:
    """Further tf.functions to export beside `serving_default`, by name."""
    return {}
