"""Clean accuracy of a model on a set of labelled images.

References:
  Schott et al., ICLR 2019, Table 1 (clean accuracies of all models).
"""

from typing import Callable

import numpy as np
import tensorflow as tf


def clean_accuracy(logits_fn: Callable[[tf.Tensor], tf.Tensor], images: np.ndarray,
                   labels: np.ndarray, batch_size: int = 1000) -> float:
  """Fraction of images whose largest logit is the label.

  Args:
    logits_fn: float32 [B, 28, 28, 1] in [0, 1] -> logits [B, 10].
    images: float32 [N, 28, 28, 1] in [0, 1].
    labels: int [N].
    batch_size: images per call.

  Returns:
    The accuracy, a float in [0, 1].
  """
  if len(images) != len(labels) or len(images) == 0:
    raise ValueError(f"Expected as many labels as images (> 0), got {len(images)} images "
                     f"and {len(labels)} labels.")
  predict = tf.function(lambda x: tf.argmax(logits_fn(x), axis=1))
  correct = 0
  for start in range(0, len(images), batch_size):
    batch = tf.constant(np.asarray(images[start:start + batch_size], np.float32))
    correct += int(np.sum(predict(batch).numpy() == np.asarray(labels[start:start +
                                                                       batch_size])))
  return correct / len(images)
