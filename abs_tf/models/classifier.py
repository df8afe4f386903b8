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


def assert_valid_images_graph(images):
  """In-graph checks for a SavedModel signature (shape and dtype are fixed by the signature).

  Returns the images with the checks as control dependencies; a failed check raises
  InvalidArgumentError with a message that says what was expected.
  """
  checks = [
      tf.debugging.assert_equal(tf.reduce_any(tf.math.is_nan(images)), False,
                                message="images contain NaN; expected values in [0, 1]"),
      tf.debugging.assert_greater_equal(images, 0.0,
                                        message="images must lie in [0, 1]: found < 0"),
      tf.debugging.assert_less_equal(images, 1.0,
                                     message="images must lie in [0, 1]: found > 1"),
  ]
  with tf.control_dependencies(checks):
    return tf.identity(images)


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

  def extra_signatures(self) -> dict:
    """Further tf.functions to export beside `serving_default`, by name."""
    return {}
