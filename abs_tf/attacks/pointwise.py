"""The Pointwise Attack (L0): greedy pixel resets, then a bisection per pixel.

From an adversarial start (salt-and-pepper noise, `noise.SaltAndPepperNoiseAttack`):

1. Resets: in a random order, set one perturbed pixel back to its original value; if the
   image stays adversarial keep the reset and start over with a new random order,
   otherwise undo it. Ends when no single pixel can be reset: a local minimum of L0.
2. Bisections: in a random order over the still perturbed pixels, try the reset once more,
   else bisect the pixel's value between the original (not adversarial) and the current
   value (adversarial) for `bisection_steps` steps and keep the adversarial end. Passes
   repeat while any value moved (at most `max_passes`). L0 does not change in this stage;
   L2 shrinks.

Repetitions: the start and stage 1 run `repetitions` times with fresh noise and orders;
the sparsest result goes on to stage 2. Foolbox 1.3 runs them once; on the authors' CNN
that reaches a median L0 of 13.0 on the first 100 test images (as Foolbox 3 does), far from
the paper's 9.0 (scripts/calibrate_cnn_decision.py). With the default 5 repetitions: 9.0,
4,300 queries per sample. Of the alternatives tried on the first 50 images, a single run
from a 30-repetition salt-and-pepper start reached 11.5 (2,600 queries), 5 repetitions from
a cheaper start (20 probabilities, 50 repetitions, `init_lower_fraction=0.5`) 9.0 (3,900).

Batching: samples advance in lockstep, one model call per round for all of them. In the
resets stage each sample tries its next `pixels_per_call` pixels of the current order in
one call (each candidate with one pixel reset); the first success in order wins, so the
result does not depend on `pixels_per_call`, only the number of queries and calls.

References:
  Schott et al., ICLR 2019, section 4 ("Pointwise Attack"); Foolbox 1.3 PointwiseAttack
  (Rauber, Brendel & Bethge, 2017).
"""

from typing import Optional

import numpy as np

from abs_tf.attacks import base
from abs_tf.attacks import bisection
from abs_tf.attacks import noise
from abs_tf.attacks import catalog

_SHAPE = (28, 28, 1)
_UNLIMITED = np.iinfo(np.int64).max // 2


@catalog.register
class PointwiseAttack(base.MinimizationAttack):
  """The Pointwise Attack.

  Args:
    repetitions: independent runs of start and stage 1, the sparsest kept; Foolbox 1.3: 1.
    max_queries: optional budget of queries per sample (the base's two checks aside);
      repetitions run while it lasts, and a sample out of queries keeps its last
      adversarial.
    init_repetitions, init_epsilons, init_lower_fraction: the salt-and-pepper start's
      settings (`noise.SaltAndPepperNoiseAttack`; Foolbox 1.3: 10 repetitions of 100
      probabilities from 0).
    bisection_steps: halvings per pixel in stage 2; Foolbox 1.3: 10. 0 skips stage 2.
    max_passes: cap on stage 2's passes over the pixels (Foolbox 1.3 has none; the passes
      stop by themselves once no value moves).
    pixels_per_call: pixels each sample tries per model call in stage 1.
    seed: seed of the start and of the pixel orders.
  """
  name = "pointwise"
  metric = base.L0
  kind, title, place = catalog.DECISION, "Pointwise Attack", 80

  def __init__(self, *, repetitions: int = 5, max_queries: Optional[int] = None,
               init_repetitions: int = 10, init_epsilons: int = 100,
               init_lower_fraction: float = 0.0,
               bisection_steps: int = 10, max_passes: int = 100, pixels_per_call: int = 1,
               seed: int = 0):
    super().__init__(seed=seed)
    for name, value in dict(repetitions=repetitions, max_passes=max_passes,
                            pixels_per_call=pixels_per_call).items():
      if not (isinstance(value, (int, np.integer)) and value >= 1):
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    if not (isinstance(bisection_steps, (int, np.integer)) and bisection_steps >= 0):
      raise ValueError(f"bisection_steps must be an integer >= 0, got {bisection_steps!r}.")
    self.start = noise.SaltAndPepperNoiseAttack(
        epsilons=init_epsilons, repetitions=init_repetitions,
        lower_fraction=init_lower_fraction, seed=seed)
    if max_queries is not None and max_queries < 1:
      raise ValueError(f"max_queries must be >= 1 or None, got {max_queries!r}.")
    self.repetitions = int(repetitions)
    self.max_queries = max_queries
    self.bisection_steps = int(bisection_steps)
    self.max_passes = int(max_passes)
    self.pixels_per_call = int(pixels_per_call)

  def run(self, model, images, labels, rng):
    n = len(images)
    x = images.reshape(n, -1)
    best = x.copy()
    best_size = np.full(n, np.inf)
    budget = np.full(n, _UNLIMITED if self.max_queries is None else self.max_queries)
    for _ in range(self.repetitions):
      todo = np.flatnonzero(budget > 0)
      if not len(todo):
        break
      sub = base.subset(model, todo) if len(todo) < n else model
      spent = model.queries[todo].copy()
      adv = self.start.search(sub, images[todo], labels[todo], rng, budget[todo]).reshape(
          len(todo), -1).copy()
      budget[todo] -= model.queries[todo] - spent
      rows = np.flatnonzero(np.any(adv != x[todo], axis=1))
      # One generator per sample: its pixel orders do not depend on the other samples.
      sub_budget = budget[todo]
      self._reset_pixels(sub, x[todo], adv, rows, labels[todo], rng.spawn(len(todo)),
                         sub_budget)
      budget[todo] = sub_budget
      changed = adv != x[todo]
      size = np.where(changed.any(axis=1), np.count_nonzero(changed, axis=1), np.inf)
      better = size < best_size[todo]
      best[todo[better]], best_size[todo[better]] = adv[better], size[better]
    rows = np.flatnonzero(np.isfinite(best_size))
    if self.bisection_steps:
      self._bisect_pixels(model, x, best, rows, labels, rng.spawn(n), budget)
    return best.reshape(images.shape)

  def _reset_pixels(self, model, x, adv, rows, labels, rngs, budget):
    """Stage 1, in place on adv float32 [n, 784] for samples `rows`, and on budget
    int64 [n] (queries left per sample; a sample out of queries stops where it is)."""
    orders = {r: rngs[r].permutation(np.flatnonzero(adv[r] != x[r])) for r in rows
              if budget[r] > 0}
    position = dict.fromkeys(orders, 0)
    while orders:
      batch_rows, batch_pixels = [], []
      for r, order in orders.items():
        pixels = order[position[r]:position[r] + min(self.pixels_per_call, budget[r])]
        budget[r] -= len(pixels)
        batch_rows += [r] * len(pixels)
        batch_pixels += list(pixels)
      batch_rows, batch_pixels = np.array(batch_rows), np.array(batch_pixels)
      candidates = adv[batch_rows].copy()
      candidates[np.arange(len(batch_rows)), batch_pixels] = x[batch_rows, batch_pixels]
      still = model.is_adversarial(candidates.reshape((-1,) + _SHAPE), labels[batch_rows],
                                   batch_rows)
      for r in list(orders):
        mine = np.flatnonzero(batch_rows == r)
        hits = mine[still[mine]]
        if len(hits):  # the first success in order; restart with a new order
          adv[r, batch_pixels[hits[0]]] = x[r, batch_pixels[hits[0]]]
          orders[r] = rngs[r].permutation(np.flatnonzero(adv[r] != x[r]))
          position[r] = 0
        else:
          position[r] += len(mine)
        if position[r] >= len(orders[r]) or budget[r] <= 0:
          del orders[r]

  def _bisect_pixels(self, model, x, adv, rows, labels, rngs, budget):
    """Stage 2, in place: per pixel, a reset or a bisection of its value, while the
    sample's budget int64 [n] covers both."""
    cost = 1 + self.bisection_steps
    active = [r for r in rows if budget[r] >= cost]
    for _ in range(self.max_passes):
      if not active:
        break
      orders = {r: rngs[r].permutation(np.flatnonzero(adv[r] != x[r])) for r in active}
      moved = dict.fromkeys(active, False)
      for k in range(max(len(o) for o in orders.values())):
        batch_rows = np.array([r for r in active if k < len(orders[r]) and budget[r] >= cost])
        if not len(batch_rows):
          break
        budget[batch_rows] -= cost
        pixels = np.array([orders[r][k] for r in batch_rows])
        clean = x[batch_rows, pixels]
        current = adv[batch_rows, pixels].copy()

        def with_values(values, sub=slice(None)):
          images = adv[batch_rows[sub]].copy()
          images[np.arange(len(images)), pixels[sub]] = values
          return images.reshape((-1,) + _SHAPE)

        reset_ok = model.is_adversarial(with_values(clean), labels[batch_rows], batch_rows)
        adv[batch_rows[reset_ok], pixels[reset_ok]] = clean[reset_ok]
        search = np.flatnonzero(~reset_ok)

        def pixel_values(t, search=search):
          return (clean[search] + t * (current[search].astype(np.float64) -
                                       clean[search])).astype(np.float32)

        def is_adversarial(t, search=search):
          return model.is_adversarial(with_values(pixel_values(t), search),
                                      labels[batch_rows[search]], batch_rows[search])

        _, high = bisection.bisect(is_adversarial, np.zeros(len(search)),
                                   np.ones(len(search)), self.bisection_steps)
        new_values = pixel_values(high)
        adv[batch_rows[search], pixels[search]] = new_values
        for r, changed in zip(batch_rows, reset_ok):
          moved[r] |= bool(changed)
        for r, old, new in zip(batch_rows[search], current[search], new_values):
          moved[r] |= bool(old != new)
      active = [r for r in active if moved[r]]
