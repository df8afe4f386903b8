"""Noise attacks: Gaussian noise (L2) and salt-and-pepper noise (L0) of growing strength.

The paper's baselines among the decision-based attacks, as in Foolbox 1.3:

- Gaussian noise: for epsilon on a grid of `epsilons` values in (0, 1], the candidate is
  clip(x + epsilon * n) with n ~ N(0, (epsilon / sqrt(3))^2 I) (Foolbox 1.3 scales by epsilon
  twice, so the standard deviation grows as epsilon^2 / sqrt(3)); the first adversarial on
  the grid ends a repetition.
- Salt and pepper: for p on a grid of `epsilons` values in (0, p_max], each pixel turns white
  with probability p / 2 and black with probability p / 2; candidates not smaller (in L0)
  than the best so far are skipped unqueried; the first adversarial ends a repetition and
  sets p_max to 1.2 p for the next one.

The smallest adversarial over all repetitions is kept. Grid points are evaluated
`epsilons_per_call` at a time for all samples (one model call); within a call the smallest
adversarial wins, so a call never does worse than Foolbox's sequential loop.

References:
  Schott et al., ICLR 2019, section 4 ("Decision-based attacks"); Rauber, Brendel & Bethge,
  Foolbox (2017), v1.3 AdditiveGaussianNoiseAttack and SaltAndPepperNoiseAttack.
"""

from typing import Optional

import numpy as np

from abs_tf.attacks import base
from abs_tf.attacks import bisection
from abs_tf.attacks import catalog
from abs_tf.models import classifier

_UNLIMITED = np.iinfo(np.int64).max // 2


def _check_positive(**values):
  for name, value in values.items():
    if not (isinstance(value, (int, np.integer)) and value >= 1):
      raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")


def salt_and_pepper(x, probabilities, rngs) -> np.ndarray:
  """Salt-and-pepper noise on images.

  Args:
    x: float64 [a, 784], images in [0, 1].
    probabilities: float64 [a, m], per image m noise levels p: each pixel turns white with
      probability p / 2 and black with probability p / 2 (for p > 1 both may apply and
      cancel, as in Foolbox 1.3).
    rngs: a numpy Generator per image.

  Returns:
    float64 [a, m, 784] noisy images.
  """
  u = np.stack([g.uniform(size=(probabilities.shape[1], classifier.NUM_PIXELS))
                for g in rngs])
  p = probabilities[..., None]
  salt = (u >= 1.0 - p / 2.0).astype(np.float64)
  pepper = (u < p / 2.0).astype(np.float64)
  return np.clip(x[:, None, :] + salt - pepper, 0.0, 1.0)


class _NoiseAttack(base.MinimizationAttack):
  """Shared loop: grids of noise strengths, repeated, the smallest adversarial kept."""

  def __init__(self, *, epsilons: int, repetitions: int, epsilons_per_call: int,
               max_queries: Optional[int] = None, seed: int = 0):
    super().__init__(seed=seed)
    _check_positive(epsilons=epsilons, repetitions=repetitions,
                    epsilons_per_call=epsilons_per_call)
    if max_queries is not None:
      _check_positive(max_queries=max_queries)
    self.max_queries = max_queries
    self.epsilons = int(epsilons)
    self.repetitions = int(repetitions)
    self.epsilons_per_call = int(epsilons_per_call)

  def _max_strength(self, n):
    """float64 [n], the grid's upper end for each sample at the start."""
    return np.ones(n)

  def _noisy(self, x, strengths, rngs):
    """Candidates float64 [a, m, 784] from originals x [a, 784], strengths [a, m] and the
    samples' generators (one per sample: a sample's noise does not depend on the others)."""
    raise NotImplementedError

  def _size(self, x, candidates):
    """Per-candidate distance [a, m] in this attack's metric."""
    raise NotImplementedError

  def _next_max_strength(self, max_strength, strength):
    return max_strength

  def _next_min_strength(self, min_strength, strength):
    return min_strength

  def run(self, model, images, labels, rng):
    budget = np.full(len(images), _UNLIMITED if self.max_queries is None else self.max_queries)
    return self.search(model, images, labels, rng, budget)

  def search(self, model, images, labels, rng, budget):
    """`run` with a budget: budget int64 [n], queries each sample may still spend."""
    n = len(images)
    budget = np.array(budget, np.int64)
    x = images.reshape(n, -1).astype(np.float64)
    best = x.copy()
    best_size = np.full(n, np.inf)
    max_strength = self._max_strength(n)
    min_strength = np.zeros(n)
    grid = np.arange(1, self.epsilons + 1) / self.epsilons
    rngs = rng.spawn(n)
    for _ in range(self.repetitions):
      searching = budget > 0
      for start in range(0, self.epsilons, self.epsilons_per_call):
        rows = np.flatnonzero(searching & (budget > 0))
        if not len(rows):
          break
        low, high = min_strength[rows, None], max_strength[rows, None]
        strengths = low + (high - low) * grid[None, start:start + self.epsilons_per_call]
        candidates = self._noisy(x[rows], strengths, [rngs[r] for r in rows])
        sizes = self._size(x[rows], candidates)
        # As Foolbox: a candidate that cannot beat the best so far is not queried.
        query = base.within_budget(sizes < best_size[rows, None], budget[rows])
        budget[rows] -= query.sum(axis=1)
        pair_rows, pair_cols = np.nonzero(query)
        adversarial = np.zeros(query.shape, bool)
        if len(pair_rows):
          flat = candidates[pair_rows, pair_cols].astype(np.float32).reshape(-1, 28, 28, 1)
          adversarial[pair_rows, pair_cols] = model.is_adversarial(
              flat, labels[rows[pair_rows]], rows[pair_rows])
        found = adversarial.any(axis=1)
        masked = np.where(adversarial, sizes, np.inf)
        pick = masked.argmin(axis=1)
        for i in np.flatnonzero(found):
          row = rows[i]
          best[row] = candidates[i, pick[i]].astype(np.float32)
          best_size[row] = masked[i, pick[i]]
          max_strength[row] = self._next_max_strength(max_strength[row], strengths[i, pick[i]])
          min_strength[row] = self._next_min_strength(min_strength[row], strengths[i, pick[i]])
          searching[row] = False
    return self._refine(model, images, best.astype(np.float32).reshape(images.shape), labels,
                        np.isfinite(best_size), budget)

  def _refine(self, model, images, best, labels, found, budget):
    return best


@catalog.register
class GaussianNoiseAttack(_NoiseAttack):
  """Additive Gaussian noise of growing standard deviation (L2).

  Args:
    epsilons: grid size in (0, 1]; Foolbox 1.3: 1000.
    repetitions: independent passes over the grid; Foolbox 1.3: 1.
    epsilons_per_call: grid points evaluated per model call.
    refine_steps: if > 0, a binary search towards the original after the noise search
      (beyond the paper, which keeps the noisy image); 0 reproduces the paper's attack.
    max_queries: optional budget of queries per sample (the base's two checks aside).
    seed: seed of the noise.
  """
  name = "gaussian_noise"
  metric = base.L2
  kind, title, place = catalog.DECISION, "Gaussian Noise", 20

  def __init__(self, *, epsilons: int = 1000, repetitions: int = 1,
               epsilons_per_call: int = 50, refine_steps: int = 0,
               max_queries: Optional[int] = None, seed: int = 0):
    super().__init__(epsilons=epsilons, repetitions=repetitions,
                     epsilons_per_call=epsilons_per_call, max_queries=max_queries, seed=seed)
    if not (isinstance(refine_steps, (int, np.integer)) and refine_steps >= 0):
      raise ValueError(f"refine_steps must be an integer >= 0, got {refine_steps!r}.")
    self.refine_steps = int(refine_steps)

  def _noisy(self, x, strengths, rngs):
    std = strengths**2 / np.sqrt(3.0)
    noise = np.stack([g.standard_normal((strengths.shape[1], classifier.NUM_PIXELS))
                      for g in rngs])
    return np.clip(x[:, None, :] + std[..., None] * noise, 0.0, 1.0)

  def _size(self, x, candidates):
    diff = candidates.astype(np.float32).astype(np.float64) - x[:, None, :]
    return np.sqrt(np.sum(diff**2, axis=-1))

  def _refine(self, model, images, best, labels, found, budget):
    rows = np.flatnonzero(found & (budget >= self.refine_steps))
    if self.refine_steps and len(rows):
      best = best.copy()
      best[rows] = bisection.blend_search(model, images[rows], best[rows], labels[rows],
                                          self.refine_steps, rows)
    return best


@catalog.register
class SaltAndPepperNoiseAttack(_NoiseAttack):
  """Salt-and-pepper noise of growing probability (L0).

  Args:
    epsilons: grid size in (0, p_max]; Foolbox 1.3: 100.
    repetitions: passes over the grid, each below 1.2 times the last success; Foolbox 1.3:
      10.
    epsilons_per_call: grid points evaluated per model call.
    lower_fraction: after a success at p, the next grids start at this fraction of p
      (Foolbox 1.3: 0, from the smallest probabilities again; Foolbox 3 uses 0.5): fewer
      queries on probabilities too small to fool the model.
    max_queries: optional budget of queries per sample (the base's two checks aside).
    seed: seed of the noise.
  """
  name = "salt_and_pepper"
  metric = base.L0
  kind, title, place = catalog.DECISION, "Salt&Pepper Noise", 20

  def __init__(self, *, epsilons: int = 100, repetitions: int = 10,
               epsilons_per_call: int = 10, lower_fraction: float = 0.0,
               max_queries: Optional[int] = None, seed: int = 0):
    super().__init__(epsilons=epsilons, repetitions=repetitions,
                     epsilons_per_call=epsilons_per_call, max_queries=max_queries, seed=seed)
    if not 0.0 <= lower_fraction < 1.0:
      raise ValueError(f"lower_fraction must lie in [0, 1), got {lower_fraction!r}.")
    self.lower_fraction = float(lower_fraction)

  def _noisy(self, x, strengths, rngs):
    return salt_and_pepper(x, strengths, rngs)

  def _size(self, x, candidates):
    return np.count_nonzero(candidates != x[:, None, :], axis=-1).astype(np.float64)

  def _next_max_strength(self, max_strength, strength):
    # The size grows with p, but not strictly: leave some room above the last success.
    return 1.2 * strength

  def _next_min_strength(self, min_strength, strength):
    return self.lower_fraction * strength
