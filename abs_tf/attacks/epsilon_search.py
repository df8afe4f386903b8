"""The per-sample search for the smallest epsilon at which a fixed-size attack succeeds.

The gradient attacks (FGSM, FGM, BIM, MIM) find an adversarial within a given epsilon; the
transfer attacks scale a direction by a given factor. Both become minimal-perturbation attacks
through this one search, as Foolbox 1.3 (which the paper used) does it:

1. Schedule: try an increasing sequence of epsilons, each sample until its first success
   (Foolbox 1.3's FGSM and FGM scan 1000 epsilons up to 1 linearly; its BIM and MIM start at
   0.3 and grow by 1.5).
2. Bisection between the last failure (or 0) and the first success (`bisection.bisect`).

Every candidate the model misclassifies is kept if it is closer, in the attack's metric, than
the best so far; the result never depends on the boundary being crossed only once. The line
search along a direction (`line_search`) is this search with `x + eps * d`, clipped, as the
candidates.

References:
  Schott et al., ICLR 2019, section 4. Rauber, Brendel & Bethge, Foolbox (2017), v1.3.
"""

import dataclasses
from typing import Callable, Optional, Sequence

import numpy as np

from abs_tf.attacks import base
from abs_tf.attacks import bisection

# candidates_at(sample_indices int [N], epsilons float64 [N]) -> float32 [N, 28, 28, 1].
CandidatesFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class SearchResult:
  """The closest adversarials a search found, per sample.

  Attributes:
    adversarials: float32 [B, 28, 28, 1], clipped to [0, 1]; the original where none found.
    distances: float64 [B], in the search's metric; inf where none found.
    epsilons: float64 [B], the smallest epsilon that succeeded; inf where none did.
  """
  adversarials: np.ndarray
  distances: np.ndarray
  epsilons: np.ndarray


def linear_schedule(max_epsilon: float, num: int) -> np.ndarray:
  """`num` epsilons evenly spaced in (0, max_epsilon], float64 [num]."""
  if not (max_epsilon > 0 and num >= 1):
    raise ValueError(f"Expected max_epsilon > 0 and num >= 1, got {max_epsilon}, {num}.")
  return np.linspace(0.0, max_epsilon, num + 1)[1:]


def geometric_schedule(initial: float, growth: float, max_epsilon: float) -> np.ndarray:
  """initial * growth^k below max_epsilon, then max_epsilon itself, float64 [K]."""
  if not (0 < initial <= max_epsilon and growth > 1):
    raise ValueError(f"Expected 0 < initial <= max_epsilon and growth > 1, got {initial}, "
                     f"{max_epsilon}, {growth}.")
  values = [initial]
  while values[-1] * growth < max_epsilon:
    values.append(values[-1] * growth)
  if values[-1] < max_epsilon:
    values.append(max_epsilon)
  return np.asarray(values, np.float64)


def search(model: base.CountingModel, images: np.ndarray, labels: np.ndarray,
           candidates_at: CandidatesFn, schedule: Sequence[float], bisection_steps: int,
           metric: str, active: Optional[np.ndarray] = None) -> SearchResult:
  """Smallest successful epsilon per sample: the schedule, then bisection.

  Args:
    model: the counting model (every check is a counted query).
    images: float32 [B, 28, 28, 1] in [0, 1], correctly classified.
    labels: int [B].
    candidates_at: the fixed-size attack; spends and counts its own queries.
    schedule: increasing epsilons > 0.
    bisection_steps: halvings of the interval around each sample's first success.
    metric: base.L2 or base.LINF (or base.L0), for keeping the closest adversarial.
    active: bool [B], the samples to search (the others fail); default all.

  Returns:
    A `SearchResult`.
  """
  schedule = np.asarray(schedule, np.float64)
  if schedule.ndim != 1 or not len(schedule) or schedule[0] <= 0 or np.any(
      np.diff(schedule) <= 0):
    raise ValueError(f"schedule must be increasing epsilons > 0, got {schedule}.")
  labels = np.asarray(labels)
  num = len(images)
  best = images.copy()
  best_distance = np.full(num, np.inf)
  low = np.zeros(num)
  high = np.full(num, np.inf)
  active = np.ones(num, bool) if active is None else np.asarray(active, bool)

  def try_epsilons(indices, epsilons):
    candidates = np.clip(candidates_at(indices, epsilons), 0.0, 1.0).astype(np.float32)
    adversarial = model.is_adversarial(candidates, labels[indices], indices)
    distances = base.distance(images[indices], candidates, metric)
    closer = adversarial & (distances < best_distance[indices])
    best[indices[closer]] = candidates[closer]
    best_distance[indices[closer]] = distances[closer]
    return adversarial

  for epsilon in schedule:
    todo = np.flatnonzero(active & np.isinf(high))
    if not len(todo):
      break
    adversarial = try_epsilons(todo, np.full(len(todo), epsilon))
    high[todo[adversarial]] = epsilon
    low[todo[~adversarial]] = epsilon

  found = np.flatnonzero(np.isfinite(high))
  _, high[found] = bisection.bisect(lambda eps: try_epsilons(found, eps), low[found],
                                    high[found], bisection_steps)
  return SearchResult(best, best_distance, high)


def along_directions(images: np.ndarray, directions: np.ndarray,
                     scales: np.ndarray) -> np.ndarray:
  """clip(images + scales * directions, 0, 1), float32 [N, 28, 28, 1], scales float [N]."""
  moved = images + np.asarray(scales, np.float32).reshape(-1, 1, 1, 1) * directions
  return np.clip(moved, 0.0, 1.0).astype(np.float32)


def line_search(model: base.CountingModel, images: np.ndarray, labels: np.ndarray,
                directions: np.ndarray, schedule: Sequence[float], bisection_steps: int,
                metric: str) -> SearchResult:
  """Smallest scale s per sample such that clip(x + s d) is adversarial.

  Args:
    directions: float32 [B, 28, 28, 1], one direction per sample (a zero direction is
      not searched and fails).
    Others as for `search`; the epsilons are the scales.
  """
  directions = np.asarray(directions, np.float32)
  nonzero = np.any(directions.reshape(len(directions), -1) != 0, axis=1)

  def candidates_at(indices, scales):
    return along_directions(images[indices], directions[indices], scales)

  return search(model, images, labels, candidates_at, schedule, bisection_steps, metric,
                active=nonzero)


def closest(results: Sequence[SearchResult]) -> SearchResult:
  """Per sample, the result with the smallest distance (e.g. over step sizes or directions)."""
  if not results:
    raise ValueError("closest needs at least one result.")
  distances = np.stack([r.distances for r in results])     # [R, B]
  pick = np.argmin(distances, axis=0)                      # first of equals
  rows = np.arange(distances.shape[1])
  return SearchResult(
      np.stack([r.adversarials for r in results])[pick, rows],
      distances[pick, rows],
      np.stack([r.epsilons for r in results])[pick, rows])
