"""Where work units run: in this process, or in a fresh worker process per model.

An `Executor` takes picklable `plan.WorkUnit`s and yields `runner.UnitResult`s as they
finish, in any order; the driver alone writes them to the results. Another executor (e.g.
on a Ray cluster, where each worker process holds its own `UnitRunner`, so models load once
per worker) only has to implement `run`.

`ProcessExecutor` (the command line's default) bounds the memory of a long run. A process
that runs units keeps what they built: each model it loaded (an ABS model's decoded
prototypes alone are 314 MB), the attacks' graphs traced per model and batch size, and the
executables XLA compiled for them, which TensorFlow keeps until the process ends. One
process running every model's units grew to 10 GB resident over 17 units. So each model's
units run in a worker process of their own that ends when they are done (the operating
system takes everything back), and a worker whose resident memory passed a limit after a
unit is replaced by a fresh one for the model's remaining units. The units are seeded per
call, so their rows do not depend on the process they ran in.
"""

import abc
import dataclasses
import multiprocessing
import os
import resource
import sys
import threading
import time
import traceback
from typing import Dict, Iterable, Iterator, List

from absl import logging

from abs_tf.evaluation import plan
from abs_tf.evaluation import runner as runner_lib

MIB = 2 ** 20
# A worker is replaced once its resident memory passed this after a unit. Measured on the
# standard profile (3 images per unit, 8 units per model): ABS's worker peaked at 2,832 MiB,
# Binary ABS's at 3,158; in one process a unit added at most 491 (README "Evaluation").
DEFAULT_WORKER_MEMORY_MB = 4096


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


def status_kib(pid, field: str) -> int:
  """A memory field (e.g. VmRSS, VmHWM) of /proc/<pid>/status in KiB; 0 where there is none
  (a process that is gone, a system without /proc)."""
  try:
    with open(f"/proc/{pid}/status") as status:
      for line in status:
        if line.startswith(field + ":"):
          return int(line.split()[1])
  except OSError:  # FileNotFoundError, ProcessLookupError
    pass
  return 0


def resident_mb() -> float:
  """This process's resident memory in MiB now (Linux); elsewhere its peak so far."""
  resident = status_kib("self", "VmRSS")
  return resident / 1024 if resident else peak_mb()


def peak_mb() -> float:
  """This process's peak resident memory so far in MiB: VmHWM on Linux (the kernel's
  high-water mark of this program, where getrusage's also counts the process it was forked
  from before its exec), elsewhere getrusage's."""
  peak = status_kib("self", "VmHWM")
  if peak:
    return peak / 1024
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB; bytes on macOS
  return peak / (MIB if sys.platform == "darwin" else 1024)


@dataclasses.dataclass(frozen=True)
class Worker:
  """One worker process of a `ProcessExecutor` run, as seen when it ended.

  Attributes:
    model: the model name whose units it ran.
    pid: its process id.
    units: the units it ran.
    resident_mb: its resident memory after its last unit, MiB.
    peak_mb: its peak resident memory up to the end of its last unit, MiB.
  """
  model: str
  pid: int
  units: int
  resident_mb: float
  peak_mb: float


class WorkerError(RuntimeError):
  """A worker process failed or died; the rows of the units it finished are kept."""


class ProcessExecutor(Executor):
  """Runs each model's units in worker processes of their own, one after the other.

  Attributes:
    workers: a `Worker` per process started, over this executor's runs (in order).
  """

  def __init__(self, worker_memory_mb: float = DEFAULT_WORKER_MEMORY_MB):
    """
    Args:
      worker_memory_mb: a worker whose resident memory exceeds this after a unit ends, and
        the model's next units run in a fresh one (the peak is this plus one unit's growth).
    """
    if not worker_memory_mb > 0:
      raise ValueError(f"worker_memory_mb must be > 0, got {worker_memory_mb}.")
    self.worker_memory_mb = worker_memory_mb
    self.workers: List[Worker] = []

  def run(self, units):
    by_model: Dict[str, List[plan.WorkUnit]] = {}
    for unit in units:  # in the order given; the plan gives them model by model
      by_model.setdefault(unit.model.name, []).append(unit)
    for model, todo in by_model.items():
      while todo:
        yield from self._run_worker(model, todo)

  def _run_worker(self, model: str, todo: List[plan.WorkUnit]):
    """Starts a worker, runs units of `todo` in it (removing them) until they are done or
    it passed the memory limit, and ends it."""
    context = multiprocessing.get_context("spawn")  # TensorFlow is not fork-safe
    ours, theirs = context.Pipe()
    process = context.Process(target=_worker_main, args=(theirs, os.getpid()),
                              name=f"abs_tf worker {model}", daemon=True)
    process.start()
    theirs.close()
    count, memory, peak = 0, 0.0, 0.0
    try:
      while todo and (count == 0 or memory <= self.worker_memory_mb):
        unit = todo[0]
        ours.send(unit)
        try:
          status, payload, memory, peak = ours.recv()
        except EOFError:
          process.join(timeout=10)
          raise WorkerError(
              f"The worker process of {model} died (exit code {process.exitcode}) running "
              f"{unit.attack} on images {unit.start}-{unit.stop - 1}; the rows of finished "
              "units are kept: the same command resumes the run.") from None
        if status == "error":
          raise WorkerError(f"{model} / {unit.attack} images {unit.start}-{unit.stop - 1} "
                            f"failed in its worker process:\n{payload}")
        todo.pop(0)
        count += 1
        yield payload
      ours.send(None)
      process.join(timeout=60)
    finally:
      if process.is_alive():
        process.kill()
        process.join()
      ours.close()
    self.workers.append(Worker(model, process.pid, count, memory, peak))
    logging.info("Worker process %d of %s ran %d units; %.0f MiB resident after the last%s, "
                 "peak %.0f MiB.", process.pid, model, count, memory,
                 f" (over {self.worker_memory_mb:.0f}: replaced)" if todo else "", peak)


def _worker_main(connection, parent_pid: int):
  """A worker process: runs the units it receives until it gets None or its parent ends."""
  threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
  runner = runner_lib.UnitRunner()
  while True:
    try:
      unit = connection.recv()
    except EOFError:
      unit = None
    if unit is None:  # done: skip TensorFlow's slow teardown, nothing is left to save
      sys.stdout.flush()
      sys.stderr.flush()
      os._exit(0)  # pylint: disable=protected-access
    try:
      message = ("result", runner.run(unit))
    except Exception:  # pylint: disable=broad-except  # reported to the driver, which raises
      message = ("error", traceback.format_exc())
    connection.send(message + (resident_mb(), peak_mb()))


def _exit_with_parent(parent_pid: int):
  """Ends this worker when the driver is gone (e.g. killed mid-unit), not after the unit."""
  while os.getppid() == parent_pid:
    time.sleep(1)
  os._exit(1)  # pylint: disable=protected-access


EXECUTORS = {"local": LocalExecutor, "processes": ProcessExecutor}
