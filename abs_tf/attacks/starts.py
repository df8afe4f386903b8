"""Adversarial starting points for attacks that walk along the decision boundary.

`blended_noise` is the start of Foolbox 3's Brendel & Bethge attack
(`LinearSearchBlendedUniformNoiseAttack`), with a binary instead of a linear search: per
sample, uniform noise the model misclassifies, blended towards the original as far as the
model still misclassifies it. From there a gradient attack sees the model's gradient near the
boundary, far from the original, where a model with masked gradients around its inputs (e.g.
Madry et al.'s thresholding first layer) may still have informative ones.

The Boundary attack's own start (`boundary.BoundaryAttack._starting_points`) is the same idea
under that attack's per-sample query budget and random streams; its rows' results depend on
them, so it keeps its own.

References:
  Brendel, Rauber & Bethge, ICLR 2018 (blended uniform noise starts);
  Brendel, Rauber, Kümmerer, Ustyuzhaninov & Bethge, NeurIPS 2019 (its use as a start for a
  gradient-based boundary attack); Rauber et al., Foolbox Native (2020).
"""

from typing import Tuple

import numpy as np

from abs_tf.attacks import base
from abs_tf.attacks import bisection


def blended_noise(model: base.CountingModel, images: np.ndarray, labels: np.ndarray,
                  rng: np.random.Generator, draws: int = 100,
                  search_steps: int = 20) -> Tuple[np.ndarray, np.ndarray]:
  """Adversarial starts by blended uniform noise.

  Per sample, up to `draws` uniform noise images until the model misclassifies one; where
  none is, the closest image of the batch with another label, if the model misclassifies it
  (models may put all noise in one class); then `search_steps` halvings of the segment from
  the original to it (`bisection.blend_search`). Costs at most draws + 1 + search_steps
  queries per sample.

  Args:
    model: the counting model.
    images: float32 [N, 28, 28, 1], classified as `labels`.
    labels: int [N].
    rng: the attack's generator.
    draws: noise images tried per sample, >= 1.
    search_steps: halvings of the blend, >= 0.

  Returns:
    (starts float32 [N, 28, 28, 1], found bool [N]): where found, a misclassified image;
    elsewhere the original.
  """
  if draws < 1 or search_steps < 0:
    raise ValueError(f"Need draws >= 1 and search_steps >= 0, got {draws}, {search_steps}.")
  n = len(images)
  labels = np.asarray(labels)
  x = images.reshape(n, -1)
  targets = x.copy()
  found = np.zeros(n, bool)
  for _ in range(draws):
    rows = np.flatnonzero(~found)
    if not len(rows):
      break
    noise = rng.uniform(size=(len(rows), x.shape[1])).astype(np.float32)
    hit = model.is_adversarial(noise.reshape((-1,) + images.shape[1:]), labels[rows], rows)
    targets[rows[hit]], found[rows[hit]] = noise[hit], True
  for i in np.flatnonzero(~found):
    others = np.flatnonzero(labels != labels[i])
    if len(others):
      j = others[np.argmin(np.linalg.norm(x[others] - x[i], axis=1))]
      if model.is_adversarial(images[j:j + 1], labels[i:i + 1], np.array([i]))[0]:
        targets[i], found[i] = x[j], True
  starts = images.copy()
  rows = np.flatnonzero(found)
  if len(rows):
    starts[rows] = bisection.blend_search(
        model, images[rows], targets[rows].reshape((-1,) + images.shape[1:]), labels[rows],
        search_steps, sample_indices=rows)
  return starts, found
