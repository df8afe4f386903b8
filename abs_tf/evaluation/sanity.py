"""Warnings about results that deserve distrust, in the spirit of AutoAttack's checks.

- A model whose input gradients are all zero: gradient attacks see nothing, so their rows
  overestimate robustness (gradient masking; Athalye et al., 2018).
- An attack that never succeeds on a model (every correctly classified image at infinity):
  a broken attack or a masked model, worth a look before trusting the table.
- A chunk that, attacked again with the same seed, gives other distances: the result is not
  reproducible (nondeterministic model or attack), so resumed runs may differ.

References:
  Croce & Hein, ICML 2020 (AutoAttack's flags). Athalye, Carlini & Wagner, ICML 2018.
"""

import math
from typing import Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf


def zero_gradient_fraction(model, images: np.ndarray, labels: np.ndarray) -> float:
  """Fraction of images whose cross-entropy gradient w.r.t. the input is exactly zero.

  Args:
    model: a `Classifier`.
    images: float32 [B, 28, 28, 1] in [0, 1].
    labels: int [B].
  """
  images = tf.constant(images, tf.float32)
  with tf.GradientTape() as tape:
    tape.watch(images)
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
        tf.constant(labels, tf.int64), model.logits_graph(images))
  gradient = tape.gradient(loss, images)
  if gradient is None:
    return 1.0
  flat = tf.reshape(gradient, [len(labels), -1]).numpy()
  return float(np.mean(np.all(flat == 0, axis=1)))


def never_succeeding(rows: Sequence) -> List[str]:
  """Warnings for (model, attack) pairs that failed on every correctly classified image."""
  outcomes: Dict[Tuple[str, str], List[float]] = {}
  for row in rows:
    if row.distance > 0:
      outcomes.setdefault((row.model, row.attack), []).append(row.distance)
  return [f"{attack} never succeeded on {model} ({len(found)} correctly classified images, "
          "all at infinity): a too small budget, a broken attack or a masked model."
          for (model, attack), found in sorted(outcomes.items())
          if all(math.isinf(d) for d in found)]


def cheapest_batches(rows: Sequence, count: int, allowed) -> List[Tuple[str, str, tuple]]:
  """The `count` cheapest (model, attack, batch) groups with a finite positive distance.

  Args:
    rows: result rows.
    count: how many groups.
    allowed: (model, attack) pairs that may be chosen (those this run can rebuild).
  """
  groups: Dict[Tuple[str, str, tuple], List] = {}
  for row in rows:
    if (row.model, row.attack) in allowed:
      groups.setdefault((row.model, row.attack, tuple(row.batch)), []).append(row)
  useful = [(sum(r.seconds for r in group), key) for key, group in groups.items()
            if any(0 < r.distance < math.inf for r in group)]
  return [key for _, key in sorted(useful)[:count]]


def relative_difference(stored: float, again: float) -> float:
  """|again - stored| / |stored| (inf where either is not finite)."""
  if not (math.isfinite(stored) and math.isfinite(again)):
    return math.inf
  return abs(again - stored) / max(abs(stored), 1e-12)


def compare_rerun(stored: Sequence, rerun: Sequence, rtol: float = 1e-4) -> List[str]:
  """Warnings where a rerun's distances differ from the stored rows of the same images."""
  again = {row.key: row.distance for row in rerun}
  warnings = []
  for row in stored:
    other = again.get(row.key)
    if other is None:
      continue
    same = other == row.distance or relative_difference(row.distance, other) <= rtol
    if not same:
      warnings.append(f"{row.attack} on {row.model}, test image {row.test_index}: stored "
                      f"distance {row.distance:.6g}, {other:.6g} when attacked again with "
                      "the same seed: the result is not reproducible.")
  return warnings
