"""The Boundary Attack (L2): a random walk along the decision boundary towards the original.

Start: uniform noise that the model misclassifies (else the closest image of the batch with
another label), blended towards the original by a binary search. Then, per iteration and
sample, up to `max_directions` candidates are drawn as in Foolbox 1.3: with the current
adversarial a, the original x, d = x - a and a Gaussian direction eta projected
orthogonally to d and scaled to `spherical_step * |d|`,

  spherical = clip(x + (eta - d) / sqrt(1 + spherical_step^2))        (on the sphere around x)
  candidate = clip(spherical + l (x - spherical) / |x - spherical|),  (towards x)
  l = max(0, source_step |d| + |x - spherical| - |d|),

and the first adversarial candidate (in drawing order) replaces a if it is closer.

Step sizes adapt to success rates over recent trials: every `stats_every`-th iteration
the spherical candidates are checked too (only candidates whose spherical point is
adversarial are then queried) and the outcomes enter windows of the last 100 spherical and
30 candidate trials. When the spherical window is full, a success rate above 0.5 multiplies
both steps by `step_adaptation`, one below 0.2 divides them; the candidate window does the
same to the source step alone. A full window that changed a step is cleared. When the
source step falls below `convergence_threshold` the steps are reset once; the second time
the sample stops.

Batching: all samples move together. Each iteration draws all directions at once;
candidates are evaluated `directions_per_call` at a time for every sample still without a
success (one model call per round; by default one round, i.e. one call per iteration).
Since the first success in drawing order wins, the result does not depend on
`directions_per_call`; smaller values save queries.

Budget: `steps` iterations and, optionally, `max_queries` model queries per sample spent in
`run` (the base's two checks come on top).

References:
  Brendel, Rauber & Bethge, "Decision-Based Adversarial Attacks: Reliable Attacks Against
  Black-Box Machine Learning Models", ICLR 2018; Foolbox 1.3 BoundaryAttack (Rauber et
  al., 2017); Schott et al., ICLR 2019, section 4.
"""

import collections
from typing import Optional

from absl import logging
import numpy as np

from abs_tf.attacks import base
from abs_tf.attacks import bisection
from abs_tf.attacks import catalog

_SHAPE = (28, 28, 1)


class _Trials:
  """Windows of the most recent trial outcomes of one sample (Foolbox's deques)."""

  def __init__(self, spherical_window: int, step_window: int):
    self.spherical = collections.deque(maxlen=spherical_window)
    self.step = collections.deque(maxlen=step_window)


@catalog.register
class BoundaryAttack(base.MinimizationAttack):
  """The Boundary Attack with Foolbox 1.3's multi-direction steps.

  Args:
    steps: iterations; Foolbox 1.3 and the paper: 5000.
    max_directions: candidates tried per iteration; Foolbox 1.3: 25.
    directions_per_call: candidates per sample per model call (1..max_directions); default
      max_directions (one call per iteration).
    max_queries: optional budget of model queries per sample.
    spherical_step, source_step: initial step sizes, relative to the distance; 0.01.
    step_adaptation: factor of the step-size updates; 1.5.
    stats_every: the spherical check and statistics run every this many iterations; 10.
    spherical_window, step_window: lengths of the success windows; 100 and 30.
    convergence_threshold: a source step below it counts as converged; 1e-7.
    init_draws: uniform noise images tried per sample to find a start; 1000.
    init_search_steps: binary search steps blending the start towards the original.
    seed: seed of the noise and directions.
  """
  name = "boundary"
  metric = base.L2
  kind, title, place = catalog.DECISION, "Boundary Attack", 30

  def __init__(self, *, steps: int = 5000, max_directions: int = 25,
               directions_per_call: Optional[int] = None, max_queries: Optional[int] = None,
               spherical_step: float = 1e-2, source_step: float = 1e-2,
               step_adaptation: float = 1.5, stats_every: int = 10,
               spherical_window: int = 100, step_window: int = 30,
               convergence_threshold: float = 1e-7, init_draws: int = 1000,
               init_search_steps: int = 20, seed: int = 0):
    super().__init__(seed=seed)
    for name, value in dict(steps=steps, max_directions=max_directions,
                            stats_every=stats_every, spherical_window=spherical_window,
                            step_window=step_window, init_draws=init_draws).items():
      if not (isinstance(value, (int, np.integer)) and value >= 1):
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    directions_per_call = max_directions if directions_per_call is None else directions_per_call
    if not 1 <= directions_per_call <= max_directions:
      raise ValueError(f"directions_per_call must lie in 1..{max_directions}, got "
                       f"{directions_per_call!r}.")
    if max_queries is not None and max_queries < 1:
      raise ValueError(f"max_queries must be >= 1 or None, got {max_queries!r}.")
    if not (spherical_step > 0 and source_step > 0 and step_adaptation > 1):
      raise ValueError("spherical_step and source_step must be > 0, step_adaptation > 1.")
    if init_search_steps < 0:
      raise ValueError(f"init_search_steps must be >= 0, got {init_search_steps!r}.")
    self.steps = int(steps)
    self.max_directions = int(max_directions)
    self.directions_per_call = int(directions_per_call)
    self.max_queries = None if max_queries is None else int(max_queries)
    self.spherical_step = float(spherical_step)
    self.source_step = float(source_step)
    self.step_adaptation = float(step_adaptation)
    self.stats_every = int(stats_every)
    self.spherical_window = int(spherical_window)
    self.step_window = int(step_window)
    self.convergence_threshold = float(convergence_threshold)
    self.init_draws = int(init_draws)
    self.init_search_steps = int(init_search_steps)

  # -- queries ------------------------------------------------------------------------

  def _evaluate(self, model, flat, rows, labels):
    """Asks the model about images flat [N, 784] (cast to float32) of samples `rows` [N]."""
    self._used += np.bincount(rows, minlength=len(self._used))
    images = flat.astype(np.float32).reshape((-1,) + _SHAPE)
    return model.is_adversarial(images, labels[rows], rows)

  def _budget(self, rows):
    """Queries each of `rows` may still spend (a large number without a budget)."""
    if self.max_queries is None:
      return np.full(len(rows), np.iinfo(np.int64).max // 2)
    return np.maximum(self.max_queries - self._used[rows], 0)

  # -- start --------------------------------------------------------------------------

  def _starting_points(self, model, x, labels, rngs):
    """Blended uniform noise: (adversarials float64 [n, 784], found bool [n])."""
    n = len(x)
    noise = np.zeros_like(x)
    found = np.zeros(n, bool)
    for _ in range(self.init_draws):
      rows = np.flatnonzero(~found & (self._budget(np.arange(n)) > 0))
      if not len(rows):
        break
      draws = np.stack([rngs[r].uniform(size=x.shape[1]) for r in rows])
      hit = self._evaluate(model, draws, rows, labels)
      noise[rows[hit]] = draws[hit]
      found[rows[hit]] = True
    # Models may put all uniform noise into one class (the paper's CNN calls all uniform
    # and salt-and-pepper noise 8), which leaves that class's images without a start (Foolbox
    # 1.3 fails there). Then the closest image of the batch with another label is the start:
    # the model classifies it as that label.
    for i in np.flatnonzero(~found & (self._budget(np.arange(n)) > 0)):
      others = np.flatnonzero(labels != labels[i])
      if len(others):
        j = others[np.argmin(np.linalg.norm(x[others] - x[i], axis=1))]
        if self._evaluate(model, x[j:j + 1], np.array([i]), labels)[0]:
          noise[i], found[i] = x[j], True
    rows = np.flatnonzero(found)
    high = np.ones(len(rows))
    if len(rows) and self.init_search_steps:
      # Without a budget for the whole search, a sample keeps the noise itself.
      affordable = self._budget(rows) >= self.init_search_steps
      sub = rows[affordable]

      def is_adversarial(t):
        return self._evaluate(model, bisection.blend(x[sub], noise[sub], t), sub, labels)

      _, high[affordable] = bisection.bisect(is_adversarial, np.zeros(len(sub)),
                                             np.ones(len(sub)), self.init_search_steps)
    starts = x.copy()
    starts[rows] = bisection.blend(x[rows], noise[rows], high)
    return starts, found

  # -- one iteration ------------------------------------------------------------------

  def _candidates(self, x, adv, spherical_step, source_step, rngs):
    """Foolbox 1.3's candidates for samples x, adv float64 [a, 784], steps [a].

    `rngs` are the samples' generators: a sample's walk does not depend on the others.

    Returns:
      (candidates, spherical), float64 [a, max_directions, 784] each.
    """
    source = x - adv
    source_norm = np.linalg.norm(source, axis=1)
    direction = source / source_norm[:, None]
    eta = np.stack([g.standard_normal((self.max_directions, x.shape[1])) for g in rngs])
    eta -= np.einsum("akd,ad->ak", eta, direction)[..., None] * direction[:, None, :]
    eta *= (spherical_step * source_norm)[:, None, None] / np.linalg.norm(
        eta, axis=2, keepdims=True)
    shrink = 1.0 / np.sqrt(spherical_step**2 + 1.0)
    spherical = np.clip(x[:, None, :] + shrink[:, None, None] * (eta - source[:, None, :]),
                        0.0, 1.0)
    towards = x[:, None, :] - spherical
    towards_norm = np.linalg.norm(towards, axis=2)
    length = np.maximum(0.0, (source_step * source_norm)[:, None] + towards_norm -
                        source_norm[:, None]) / np.maximum(towards_norm, 1e-30)
    candidates = np.clip(spherical + length[..., None] * towards, 0.0, 1.0)
    return candidates, spherical

  def _try_directions(self, model, rows, candidates, spherical, labels, with_stats,
                      trials):
    """Evaluates candidates of samples `rows` in rounds; returns the chosen index or -1."""
    a, k = candidates.shape[:2]
    chosen = np.full(a, -1)
    for start in range(0, k, self.directions_per_call):
      open_ = np.flatnonzero(chosen < 0)
      if not len(open_):
        break
      cols = np.arange(start, min(start + self.directions_per_call, k))
      ask = base.within_budget(np.ones((len(open_), len(cols)), bool),
                                self._budget(rows[open_]))
      if with_stats:
        sph_adv = self._ask(model, rows, open_, cols, ask, spherical, labels)
        for i, j in zip(*np.nonzero(ask)):
          trials[rows[open_[i]]].spherical.append(bool(sph_adv[i, j]))
        ask = base.within_budget(ask & sph_adv, self._budget(rows[open_]))
      adv = self._ask(model, rows, open_, cols, ask, candidates, labels)
      if with_stats:
        for i, j in zip(*np.nonzero(ask)):
          trials[rows[open_[i]]].step.append(bool(adv[i, j]))
      hit = adv.any(axis=1)
      chosen[open_[hit]] = cols[adv[hit].argmax(axis=1)]
    return chosen

  def _ask(self, model, rows, open_, cols, ask, points, labels):
    """bool [len(open_), len(cols)]: which asked points are adversarial (False if not asked)."""
    out = np.zeros(ask.shape, bool)
    i, j = np.nonzero(ask)
    if len(i):
      out[i, j] = self._evaluate(model, points[open_[i], cols[j]], rows[open_[i]], labels)
    return out

  def _adapt(self, row, trials, spherical_step, source_step):
    """Foolbox 1.3's step-size update from the success windows of sample `row`."""
    t = trials[row]
    if len(t.spherical) == t.spherical.maxlen:
      p = np.mean(t.spherical)
      if p > 0.5 or p < 0.2:
        factor = self.step_adaptation if p > 0.5 else 1.0 / self.step_adaptation
        spherical_step[row] *= factor
        source_step[row] *= factor
        t.spherical.clear()
    if len(t.step) == t.step.maxlen:
      p = np.mean(t.step)
      if p > 0.5 or p < 0.2:
        source_step[row] *= self.step_adaptation if p > 0.5 else 1.0 / self.step_adaptation
        t.step.clear()

  # -- the attack ---------------------------------------------------------------------

  def run(self, model, images, labels, rng):
    n = len(images)
    self._used = np.zeros(n, np.int64)
    x = images.reshape(n, -1).astype(np.float64)
    rngs = rng.spawn(n)
    adv, active = self._starting_points(model, x, labels, rngs)
    distance = np.where(active, np.linalg.norm(adv - x, axis=1), np.inf)
    spherical_step = np.full(n, self.spherical_step)
    source_step = np.full(n, self.source_step)
    was_reset = np.zeros(n, bool)
    trials = [_Trials(self.spherical_window, self.step_window) for _ in range(n)]
    for step in range(1, self.steps + 1):
      converged = source_step < self.convergence_threshold
      active &= ~(converged & was_reset)
      again = converged & active
      spherical_step[again], source_step[again] = self.spherical_step, self.source_step
      was_reset |= again
      active &= self._budget(np.arange(n)) > 0
      rows = np.flatnonzero(active)
      if not len(rows):
        break
      candidates, spherical = self._candidates(x[rows], adv[rows], spherical_step[rows],
                                               source_step[rows], [rngs[r] for r in rows])
      with_stats = step % self.stats_every == 0
      chosen = self._try_directions(model, rows, candidates, spherical, labels, with_stats,
                                    trials)
      for i in np.flatnonzero(chosen >= 0):
        new = candidates[i, chosen[i]]
        new_distance = np.linalg.norm(new - x[rows[i]])
        if new_distance < distance[rows[i]]:  # else a numerical artefact; Foolbox skips too
          adv[rows[i]], distance[rows[i]] = new, new_distance
      if with_stats:
        for row in rows:
          self._adapt(row, trials, spherical_step, source_step)
      logging.log_every_n_seconds(
          logging.INFO, "boundary: step %d, %d samples active, median L2 %.4f", 60, step,
          len(rows), np.median(distance))
    return adv.astype(np.float32).reshape(images.shape)
