"""Where work units run. The default runs them one after the other in this process.

An `Executor` takes picklable `plan.WorkUnit`s and yields `runner.UnitResult`s as they
finish, in any order; the driver alone writes them to the results. Another executor (e.g.
on a Ray cluster, where each worker process holds its own `UnitRunner`, so models load once
per worker) only has to implement `run`.
"""

import abc
from typing import Iterable, Iterator

from abs_tf.evaluation import plan
from abs_tf.evaluation import runner as runner_lib


class Executor(abc.ABC):
  """Runs work units and yields their results as they finish."""

  @abc.abstractmethod
  def run(self, units: Iterable[plan.WorkUnit]) -> Iterator[runner_lib.UnitResult]:
    """Yields one `UnitResult` per unit, in any order."""


class LocalExecutor(Executor):
  """Runs the units in order in this process, with one `UnitRunner`."""

  def __init__(self, runner: runner_lib.UnitRunner = None):
    self.runner = runner or runner_lib.UnitRunner()

  def run(self, units):
    for unit in units:
      yield self.runner.run(unit)


EXECUTORS = {"local": LocalExecutor}
