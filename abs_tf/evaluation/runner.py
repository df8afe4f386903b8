"""Runs one work unit: builds the attack from its budget, attacks the chunk, returns rows.

A `UnitRunner` lives in one process (the driver's, a worker process's or a cluster
worker's) and keeps what is costly to rebuild while units of one model follow each other:
the model (`ModelCache`), the test images and the attacks, whose compiled graphs are reused
across chunks. A unit of another model releases the models and attacks of the previous one
first, so that a runner holds one model at a time (with a transfer attack's substitute).
`run` has no side effect on disk: the driver alone writes results.

References:
  Schott et al., ICLR 2019, sections 4 and 5.
"""

import dataclasses
import json
import time
from typing import Dict, Optional, Tuple

import numpy as np

from abs_tf.attacks import ATTACKS
from abs_tf.attacks import base
from abs_tf.attacks import catalog
from abs_tf.data import mnist
from abs_tf.evaluation import models as models_lib
from abs_tf.evaluation import plan
from abs_tf.evaluation import results


@dataclasses.dataclass(frozen=True)
class UnitResult:
  """What one work unit produced (plain, picklable data).

  Attributes:
    unit: the work unit.
    rows: one `results.Row` per test index of the chunk.
    adversarials: test index -> float32 [28, 28, 1], for the unit's `keep_adversarials`
      where the attack succeeded.
    seconds: wall time of the unit, model loading excluded.
  """
  unit: plan.WorkUnit
  rows: Tuple[results.Row, ...]
  adversarials: Dict[int, np.ndarray]
  seconds: float


class UnitRunner:
  """Runs work units in this process."""

  def __init__(self, cache: Optional[models_lib.ModelCache] = None,
               test_split: Optional[mnist.Split] = None):
    self.cache = cache or models_lib.ModelCache()
    self._test = test_split
    self._attacks = {}
    self._model = None  # the model name of the last unit

  @property
  def test(self) -> mnist.Split:
    if self._test is None:
      self._test = mnist.load("test")
    return self._test

  def attack(self, name: str, budget_json: str, seed: int) -> base.MinimizationAttack:
    """The attack `name` with a budget, built once per (name, budget, seed)."""
    key = (name, budget_json, seed)
    if key not in self._attacks:
      budget = json.loads(budget_json)
      entry = ATTACKS[name]
      if entry.kind == catalog.TRANSFER:
        budget["load_model"] = self.cache.get  # the substitute, loaded once per model
      self._attacks[key] = entry(**budget, seed=seed)
    return self._attacks[key]

  def run(self, unit: plan.WorkUnit) -> UnitResult:
    """Attacks the unit's chunk of test images and returns its rows."""
    if unit.model.name != self._model:
      self._attacks.clear()  # their traced graphs hold the previous model
      self.cache.release_all()
      self._model = unit.model.name
    model = self.cache.load(unit.model)
    attack = self.attack(unit.attack, unit.budget_json, unit.seed)
    images = self.test.images[unit.start:unit.stop]
    labels = self.test.labels[unit.start:unit.stop]
    start = time.perf_counter()
    found = attack(model, images, labels, binarized=unit.model.binarized)
    seconds = time.perf_counter() - start
    rows = tuple(
        results.Row(model=unit.model.name, attack=unit.attack, metric=found.metric,
                    test_index=int(index), label=int(label), distance=float(distance),
                    queries=int(queries), seconds=seconds / len(labels),
                    profile=unit.profile, fingerprint=unit.fingerprint,
                    batch=(unit.start, unit.stop))
        for index, label, distance, queries in zip(unit.indices, labels, found.distances,
                                                   found.queries))
    kept = {int(i): found.adversarials[i - unit.start] for i in unit.keep_adversarials
            if found.success[i - unit.start]}
    return UnitResult(unit, rows, kept, seconds)
