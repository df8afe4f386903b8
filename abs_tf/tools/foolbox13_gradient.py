"""Foolbox 1.3's FGSM and FGM, ported line by line, as references for `fgsm` and `fgm`.

The paper (Schott et al., ICLR 2019, section 4) ran Foolbox 1.3's `GradientSignAttack` (FGSM)
and `GradientAttack` (FGM) with their defaults. Both are `SingleStepGradientBaseAttack._run`
(foolbox/attacks/gradient.py of Foolbox 1.x), per sample:

  g = gradient of the cross-entropy of the model's logits at the clean image and its label
      (computed once; Foolbox 1.3's `Adversarial.gradient()`)
  FGSM: d = sign(g) * (max - min);  FGM: d = g / (sqrt(mean(g^2)) + 1e-8) * (max - min)
  epsilons = linspace(0, max_epsilon, 1000 + 1)[1:], max_epsilon = 1
  twice: for i, eps in enumerate(epsilons):
           if clip(x + eps d, min, max) is adversarial:
             if i < 20: leave the loop (then epsilons = linspace(0, epsilons[i], 21)[1:])
             else: stop
  the result is the closest adversarial any check found (Foolbox's `Adversarial` keeps it).

(A sample that no epsilon fools also "repeats", at 20 epsilons up to max_epsilon that its
first scan already tried; the port skips those checks, which cannot succeed.) There is no
bisection: the result is the first adversarial epsilon of a grid 1/1000 apart
(in FGM's RMS units an L2 step of 28/1000), refined 20-fold only when that epsilon is among
the first 20. This module is that procedure in numpy, vectorised over samples (each sample
runs its own scan; a sample spends queries only until its own stop), behind this project's
verifying base, so the distances are computed as for every attack here. The gradient comes
from `tf.GradientTape` on the model's logits, not from CleverHans, so a comparison with
`gradient_attacks.FGSM` / `FGM` checks the CleverHans adapters too.

Used by scripts/compare_foolbox.py and tests/test_foolbox13.py; not by the library.

References:
  Rauber, Brendel & Bethge, Foolbox: a Python toolbox to benchmark the robustness of machine
  learning models, arXiv:1707.04131 (2017); v1.3, foolbox/attacks/gradient.py.
  Goodfellow et al., arXiv:1412.6572 (FGSM). Schott et al., ICLR 2019, section 4.
"""

import time

import numpy as np
import tensorflow as tf

from abs_tf.attacks import base

BOUNDS = (0.0, 1.0)      # Foolbox's (min_, max_) for MNIST in [0, 1]
REFINE_BELOW = 20        # Foolbox 1.3: repeat with finer epsilons if the first success is i < 20
REFINED_EPSILONS = 20    # ... linspace(0, epsilons[i], 20 + 1)[1:]


def cross_entropy_gradient(model: base.CountingModel, images: np.ndarray,
                           labels: np.ndarray) -> np.ndarray:
  """Gradient of each sample's cross-entropy at its label, float32 [B, 28, 28, 1].

  One counted query per sample (as this project counts a gradient evaluation).
  """
  start = time.perf_counter()
  x = tf.constant(images)
  with tf.GradientTape() as tape:
    tape.watch(x)
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
        tf.constant(labels, tf.int64), model.model.logits_graph(x))
  gradient = tape.gradient(loss, x).numpy()
  model.add_queries(1, np.arange(len(images)), time.perf_counter() - start)
  return gradient


class Foolbox13SingleStep(base.MinimizationAttack):
  """Foolbox 1.3's `SingleStepGradientBaseAttack._run`; subclasses implement `direction`.

  The metric decides which adversarial is kept when a sample's scans find several (Foolbox's
  `Adversarial` with the paper's distance); with one upward scan that is the first one found.
  """

  def __init__(self, *, epsilons: int = 1000, max_epsilon: float = 1.0, seed: int = 0):
    """Args:
      epsilons: number of epsilons in (0, max_epsilon] (Foolbox 1.3's default 1000).
      max_epsilon: the scan's end, in Foolbox 1.3's units (default 1).
      seed: unused (deterministic); kept for the common interface.
    """
    super().__init__(seed=seed)
    if int(epsilons) != epsilons or epsilons < 1 or not max_epsilon > 0:
      raise ValueError(f"Expected epsilons >= 1 and max_epsilon > 0, got {epsilons!r}, "
                       f"{max_epsilon!r}.")
    self.epsilons = np.linspace(0, max_epsilon, num=int(epsilons) + 1)[1:]

  def direction(self, gradient: np.ndarray) -> np.ndarray:
    """Foolbox 1.3's `_gradient(a)`: the perturbation of epsilon 1, float64 [B, 28, 28, 1]."""
    raise NotImplementedError

  def run(self, model, images, labels, rng):
    del rng  # deterministic
    min_, max_ = BOUNDS
    directions = self.direction(cross_entropy_gradient(model, images, labels))
    num = len(images)
    best = images.copy()
    best_distance = np.full(num, np.inf)
    grids = np.tile(self.epsilons, (num, 1))          # each sample's current epsilons
    todo = np.ones(num, bool)
    for _ in range(2):                                 # Foolbox: "repeat with decreased epsilons"
      first = np.full(num, -1)                         # index of each sample's first success
      scanning = todo.copy()
      for i in range(grids.shape[1]):
        indices = np.flatnonzero(scanning)
        if not len(indices):
          break
        epsilons = grids[indices, i]
        perturbed = np.clip(images[indices] + directions[indices] * epsilons[:, None, None, None],
                            min_, max_).astype(np.float32)
        adversarial = model.is_adversarial(perturbed, labels[indices], indices)
        distances = base.distance(images[indices], perturbed, self.metric)
        closer = adversarial & (distances < best_distance[indices])
        best[indices[closer]] = perturbed[closer]
        best_distance[indices[closer]] = distances[closer]
        first[indices[adversarial]] = i
        scanning[indices[adversarial]] = False
      # Only samples whose first success came among the first 20 epsilons scan again.
      todo &= (first >= 0) & (first < REFINE_BELOW)
      rows = np.flatnonzero(todo)
      if not len(rows):
        break
      refined = np.zeros((num, REFINED_EPSILONS))
      refined[rows] = np.linspace(0, grids[rows, first[rows]], REFINED_EPSILONS + 1, axis=1)[:, 1:]
      grids = refined
    return best


class Foolbox13FGSM(Foolbox13SingleStep):
  """Foolbox 1.3's `GradientSignAttack` (FGSM): the sign of the gradient times (max - min)."""
  name, metric = "foolbox13_fgsm", base.LINF

  def direction(self, gradient):
    min_, max_ = BOUNDS
    return np.sign(gradient).astype(np.float64) * (max_ - min_)


class Foolbox13FGM(Foolbox13SingleStep):
  """Foolbox 1.3's `GradientAttack` (FGM): the gradient over its RMS, times (max - min).

  An epsilon of 1 is a perturbation of RMS 1 (L2 norm sqrt(784) = 28) before clipping.
  """
  name, metric = "foolbox13_fgm", base.L2

  def direction(self, gradient):
    min_, max_ = BOUNDS
    gradient = gradient.astype(np.float64)
    rms = np.sqrt(np.mean(np.square(gradient), axis=(1, 2, 3), keepdims=True))
    return gradient / (rms + 1e-8) * (max_ - min_)
