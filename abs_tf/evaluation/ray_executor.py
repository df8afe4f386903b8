"""Runs work units on a Ray cluster: one actor per worker process, each with a `UnitRunner`.

  executor = RayExecutor(address="head-node:6379")   # None: start a local cluster
  summary = driver.evaluate(config, executor)

Each actor holds one `runner.UnitRunner`, so a SavedModel is loaded once per worker process,
not once per unit. Units are handed out a few at a time per actor and the driver takes them
back with `ray.wait` as they finish, in any order; it alone writes them to results.jsonl, so
resuming and de-duplication work as in a local run. A unit whose actor dies (its worker
process or its node) is run again on another actor, up to `max_retries` times; a replacement
actor is started, and joins once it is placed (it may wait for resources that never come if
the cluster shrank, without holding up the run). Work units are seeded, so the rows do not
depend on where they ran.

Ray is imported only when the executor runs: the package works without it
(`pip install abs-tf[ray]` adds it).

References:
  Moritz et al., "Ray: A Distributed Framework for Emerging AI Applications", OSDI 2018.
"""

import collections
import dataclasses
from typing import Deque, Dict, Iterable, Iterator, Optional

from absl import logging

from abs_tf.evaluation import executor as executor_lib
from abs_tf.evaluation import plan
from abs_tf.evaluation import runner as runner_lib


class UnitWorker:
  """The actor: a `UnitRunner` in one Ray worker process."""

  def __init__(self):
    self.runner = runner_lib.UnitRunner()

  def ready(self) -> bool:
    return True

  def run(self, unit: plan.WorkUnit) -> runner_lib.UnitResult:
    return self.runner.run(unit)


@dataclasses.dataclass
class _Pending:
  unit: plan.WorkUnit
  attempts: int = 0


class RayExecutor(executor_lib.Executor):
  """Runs units as calls on Ray actors and yields their results as they finish.

  Attributes:
    retried: units run again because their actor died (counted over this executor's runs).
    lost_actors: actors that died.
  """

  def __init__(self, address: Optional[str] = None, num_workers: Optional[int] = None,
               units_per_worker: int = 2, max_retries: int = 3,
               cpus_per_worker: float = 1.0):
    """
    Args:
      address: a running cluster's HOST:PORT (or "auto"); None starts a local cluster
        (or uses the one this process is already connected to).
      num_workers: actors to start; None: one per CPU of the cluster.
      units_per_worker: units queued on each actor at once (the next one is ready when
        the previous finishes).
      max_retries: times a unit is run again after its actor died, before the run fails.
      cpus_per_worker: CPUs Ray reserves for each actor.
    """
    if num_workers is not None and num_workers < 1:
      raise ValueError(f"num_workers must be >= 1 or None, got {num_workers}.")
    if units_per_worker < 1:
      raise ValueError(f"units_per_worker must be >= 1, got {units_per_worker}.")
    if max_retries < 0:
      raise ValueError(f"max_retries must be >= 0, got {max_retries}.")
    if not cpus_per_worker > 0:
      raise ValueError(f"cpus_per_worker must be > 0, got {cpus_per_worker}.")
    self.address = address
    self.num_workers = num_workers
    self.units_per_worker = units_per_worker
    self.max_retries = max_retries
    self.cpus_per_worker = cpus_per_worker
    self.retried = 0
    self.lost_actors = 0

  def run(self, units: Iterable[plan.WorkUnit]) -> Iterator[runner_lib.UnitResult]:
    ray = _import_ray()
    todo: Deque[_Pending] = collections.deque(_Pending(u) for u in units)
    if not todo:
      return
    if not ray.is_initialized():
      ray.init(address=self.address, logging_level="WARNING")
    worker_class = ray.remote(num_cpus=self.cpus_per_worker, max_restarts=0)(UnitWorker)
    count = self.num_workers or max(1, int(ray.cluster_resources().get("CPU", 1)
                                           // self.cpus_per_worker))
    count = min(count, len(todo))
    logging.info("Ray: %d units on %d workers (%s).", len(todo), count,
                 self.address or "local cluster")

    def start_actor():
      actor = worker_class.options(scheduling_strategy="SPREAD").remote()
      starting[actor.ready.remote()] = actor

    starting: Dict = {}   # ready() ref -> actor not yet placed
    running: Dict = {}    # run() ref -> (actor, pending unit)
    load: Dict = {}       # actor -> units queued on it
    for _ in range(count):
      start_actor()
    try:
      while todo or running:
        self._submit(todo, running, load)
        ready, _ = ray.wait(list(running) + list(starting), num_returns=1)
        ref = ready[0]
        if ref in starting:
          actor = starting.pop(ref)
          try:
            ray.get(ref)
            load[actor] = 0
          except ray.exceptions.RayActorError:  # died before it was placed
            self.lost_actors += 1
            start_actor()
          continue
        actor, pending = running.pop(ref)
        try:
          result = ray.get(ref)
        except ray.exceptions.RayActorError as error:
          if load.pop(actor, None) is not None:  # the first of its units to report it
            self.lost_actors += 1
            start_actor()
          self._requeue(pending, todo, error)
          continue
        load[actor] -= 1
        yield result
    finally:
      for actor in list(load) + list(starting.values()):
        ray.kill(actor)

  def _submit(self, todo, running, load):
    """Queues units on the least loaded actors, up to `units_per_worker` each."""
    while todo and load:
      actor = min(load, key=load.get)
      if load[actor] >= self.units_per_worker:
        return
      pending = todo.popleft()
      running[actor.run.remote(pending.unit)] = (actor, pending)
      load[actor] += 1

  def _requeue(self, pending, todo, error):
    """Puts the unit of a dead actor back in the queue, or fails after max_retries."""
    pending.attempts += 1
    unit = pending.unit
    if pending.attempts > self.max_retries:
      raise RuntimeError(
          f"Unit {unit.model.name} / {unit.attack} images {unit.start}-{unit.stop - 1} lost "
          f"its worker {pending.attempts} times (max_retries={self.max_retries}).") from error
    logging.warning("Ray: the worker of %s / %s images %d-%d died (%s); running it again.",
                    unit.model.name, unit.attack, unit.start, unit.stop - 1,
                    type(error).__name__)
    self.retried += 1
    todo.appendleft(pending)


def _import_ray():
  try:
    import ray  # pylint: disable=import-outside-toplevel
  except ImportError as error:
    raise ImportError("--executor=ray needs Ray: pip install 'abs-tf[ray]'.") from error
  return ray
