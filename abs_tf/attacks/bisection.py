"""Batched bisection of a decision boundary along one parameter per sample.

Several attacks end with the same refinement: between a point the model classifies
correctly and an adversarial, halve the interval `steps` times and keep the adversarial
end. The Latent Descent attack and the noise attacks search the line between the original
and an adversarial (`blend_search`); the Pointwise attack searches single pixel values; the
Boundary attack's initialisation blends noise towards the original. All call `bisect`.

References:
  Schott et al., ICLR 2019, section 4 (Latent Descent's final binary search; Pointwise);
  Brendel, Rauber & Bethge, ICLR 2018 (Boundary attack initialisation).
"""

from typing import Callable, Tuple

import numpy as np

from abs_tf.attacks import base


def bisect(is_adversarial: Callable[[np.ndarray], np.ndarray], low, high,
           steps: int) -> Tuple[np.ndarray, np.ndarray]:
  """Halves, per row, an interval whose `high` end is adversarial and `low` end is not.

  Each step makes one call for all rows. The adversarial end only moves to parameters the
  callable confirmed adversarial, so `high` stays adversarial whatever the model does
  between the ends.

  Args:
    is_adversarial: maps parameters t, float64 [N], to bool [N]: whether row i's input at
      t[i] is adversarial.
    low: float64 [N], parameters taken as not adversarial.
    high: float64 [N], parameters known to be adversarial.
    steps: number of halvings, >= 0.

  Returns:
    (low, high), float64 [N] each, after `steps` halvings.
  """
  low = np.array(low, np.float64)
  high = np.array(high, np.float64)
  if low.shape != high.shape or low.ndim != 1:
    raise ValueError(f"low and high must be vectors of one shape, got {low.shape}, "
                     f"{high.shape}.")
  if steps < 0:
    raise ValueError(f"steps must be >= 0, got {steps}.")
  for _ in range(steps if len(low) else 0):
    mid = 0.5 * (low + high)
    adversarial = np.asarray(is_adversarial(mid), bool)
    high = np.where(adversarial, mid, high)
    low = np.where(adversarial, low, mid)
  return low, high


def blend(originals, adversarials, t) -> np.ndarray:
  """clip((1 - t) * originals + t * adversarials) in float64, as float32.

  Args:
    originals, adversarials: [N, ...] images in [0, 1].
    t: float [N], one parameter per row.

  Returns:
    float32 [N, ...], the images the model is asked about.
  """
  originals = np.asarray(originals, np.float64)
  t = np.asarray(t, np.float64).reshape((-1,) + (1,) * (originals.ndim - 1))
  mixed = (1.0 - t) * originals + t * np.asarray(adversarials, np.float64)
  return np.clip(mixed, 0.0, 1.0).astype(np.float32)


def blend_search(model: base.CountingModel, originals, adversarials, labels, steps: int,
                 sample_indices=None) -> np.ndarray:
  """Binary search on the segment from each original to its adversarial.

  Args:
    model: the counting model.
    originals: float32 [N, 28, 28, 1], classified as `labels`.
    adversarials: float32 [N, 28, 28, 1], misclassified.
    labels: int [N].
    steps: halvings; the result lies within 2^-steps of the segment's length from the
      boundary crossing found.
    sample_indices: int [N], which attacked sample each row belongs to (query counting).

  Returns:
    float32 [N, 28, 28, 1], adversarials on the segments, at least as close as the inputs.
  """
  labels = np.asarray(labels)

  def is_adversarial(t):
    return model.is_adversarial(blend(originals, adversarials, t), labels, sample_indices)

  n = len(labels)
  _, high = bisect(is_adversarial, np.zeros(n), np.ones(n), steps)
  return blend(originals, adversarials, high)
