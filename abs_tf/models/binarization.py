"""Input binarisation of Binary ABS and Binary CNN, with the straight-through gradient.

References:
  Schott et al., ICLR 2019, section 3 ("Binarization") and section 4 (straight-through
  gradients, Bengio, Leonard & Courville, 2013).
"""

import tensorflow as tf

THRESHOLD = 0.5


def binarize(images):
  """0 below 0.5, 1 from 0.5 on (as the authors' code: x < 0.5 -> 0, else 1).

  The forward value is binary; the gradient passes straight through unchanged.

  Args:
    images: float32 [...], values in [0, 1].
  """
  hard = tf.cast(images >= THRESHOLD, images.dtype)
  return images + tf.stop_gradient(hard - images)
