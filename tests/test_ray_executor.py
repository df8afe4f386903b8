"""The Ray executor on a 3-node cluster on loopback (`ray.cluster_utils.Cluster`): a smoke
evaluation from the command line gives the local executor's rows, also when its driver is
killed and the command run again, and an evaluation still does after a worker node is
removed mid-run (its units run again elsewhere; no row lost, none duplicated)."""

import collections
import os
import pathlib
import subprocess
import sys
import threading
import time

import pytest

from abs_tf.evaluation import driver
from abs_tf.evaluation import ray_executor
from abs_tf.evaluation import results

ray = pytest.importorskip("ray")
from ray import cluster_utils  # pylint: disable=g-import-not-at-top

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
MODELS = ("cnn", "nearest_neighbor")
ATTACKS = ("gaussian_noise", "salt_and_pepper")
NUM_SAMPLES = 3


@pytest.fixture(scope="module")
def cluster():
  """A head and two worker nodes with one CPU each; this process is the driver."""
  # Worker processes inherit the environment of the nodes started here.
  path = os.environ.get("PYTHONPATH", "")
  os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), path) if p)
  cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
  workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
  ray.init(address=cluster.address, logging_level="WARNING")
  cluster.wait_for_nodes()
  yield cluster, workers
  ray.shutdown()
  cluster.shutdown()


def _config(output_dir):
  # One image per unit: 12 units, so every actor has several and a removed node has some.
  return driver.EvaluationConfig(models=MODELS, attacks=ATTACKS, profile="smoke",
                                 output_dir=str(output_dir), num_samples=NUM_SAMPLES,
                                 chunk_size=1, recheck=0, figures=False)


def _lines(output_dir):
  return (pathlib.Path(output_dir) / results.RESULTS_FILE).read_text().splitlines()


@pytest.fixture(scope="module")
def local_rows(runner, tmp_path_factory):
  output_dir = tmp_path_factory.mktemp("local")
  driver.evaluate(_config(output_dir), runner=runner)
  rows = results.outcomes(output_dir)
  assert len(rows) == len(MODELS) * len(ATTACKS) * NUM_SAMPLES
  return rows


def test_a_worker_loads_each_model_once(runner, tmp_path, monkeypatch):
  """The actor class, without Ray: several units of one model, one load in its process."""
  from abs_tf import registry
  loads = []
  load_model = registry.load_model
  monkeypatch.setattr(registry, "load_model", lambda name, *a, **k: loads.append(name) or
                      load_model(name, *a, **k))
  units = driver.prepare(_config(tmp_path), runner).units
  worker = ray_executor.UnitWorker()
  for unit in units:
    worker.run(unit)
  assert len(units) == 12 and sorted(loads) == sorted(MODELS)


def _command(cluster, output_dir):
  return [sys.executable, "-m", "abs_tf.evaluate", f"--models={','.join(MODELS)}",
          f"--attacks={','.join(ATTACKS)}", "--profile=smoke", f"--num_samples={NUM_SAMPLES}",
          "--chunk_size=1", "--recheck=0", "--nofigures", f"--output_dir={output_dir}",
          "--executor=ray", f"--ray_address={cluster.address}"]


def test_command_line_on_the_cluster_resumes_a_killed_driver_to_the_local_rows(
    cluster, local_rows, tmp_path):
  """The command line on the cluster, killed after its first rows and run again, gives the
  local executor's rows, each once: every row was computed by the command line on the cluster,
  from a fresh start by the first run and to the end by the second."""
  cluster, _ = cluster
  path = tmp_path / results.RESULTS_FILE
  log = tmp_path / "killed_driver.log"
  with open(log, "wb") as stderr:
    driver_process = subprocess.Popen(_command(cluster, tmp_path), cwd=REPO_ROOT,
                                      stdout=subprocess.DEVNULL, stderr=stderr)
  deadline = time.monotonic() + 600
  while (time.monotonic() < deadline and driver_process.poll() is None
         and not (path.exists() and len(path.read_bytes().splitlines()) >= 2)):
    time.sleep(0.02)
  driver_process.kill()  # SIGKILL: no cleanup, possibly in the middle of a write
  driver_process.wait()
  finished_before = len(results.ResultStore(tmp_path).rows)
  assert 2 <= finished_before < len(local_rows), log.read_text()[-3000:]
  result = subprocess.run(_command(cluster, tmp_path), capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  assert results.outcomes(tmp_path) == local_rows
  assert len(_lines(tmp_path)) == len(local_rows)  # nothing repeated


def test_removing_a_worker_node_mid_run_loses_and_repeats_nothing(cluster, runner,
                                                                  local_rows, tmp_path):
  cluster, workers = cluster
  path = tmp_path / results.RESULTS_FILE
  removed = threading.Event()

  def remove_after_first_row():
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (path.exists() and path.stat().st_size):
      time.sleep(0.05)
    cluster.remove_node(workers[-1])
    removed.set()

  remover = threading.Thread(target=remove_after_first_row, daemon=True)
  remover.start()
  executor = ray_executor.RayExecutor()
  summary = driver.evaluate(_config(tmp_path), executor, runner=runner)
  remover.join(timeout=60)
  assert removed.is_set()
  # The removed node's actor either held units (they run again elsewhere: `retried`) or, on a
  # loaded machine, was still starting (it is replaced; nothing to retry). Either way nothing
  # is lost or repeated; `test_a_lost_unit_is_queued_again_then_fails` covers the retry.
  assert executor.lost_actors >= 1
  assert summary.rows_written == len(local_rows)
  lines = _lines(tmp_path)
  assert len(lines) == len(local_rows)  # no duplicates
  assert results.outcomes(tmp_path) == local_rows


def test_a_lost_unit_is_queued_again_then_fails():
  unit = _unit()
  executor = ray_executor.RayExecutor(max_retries=1)
  todo = collections.deque(["other"])
  pending = ray_executor._Pending(unit)  # pylint: disable=protected-access
  executor._requeue(pending, todo, RuntimeError("node gone"))  # pylint: disable=protected-access
  assert list(todo) == [pending, "other"] and pending.attempts == 1 and executor.retried == 1
  with pytest.raises(RuntimeError, match="lost its worker 2 times"):
    executor._requeue(pending, todo, RuntimeError("again"))  # pylint: disable=protected-access


def _unit():
  """One work unit of the CNN (its description only; nothing runs)."""
  from abs_tf.evaluation import models as models_lib  # pylint: disable=import-outside-toplevel
  from abs_tf.evaluation import plan  # pylint: disable=import-outside-toplevel
  ref = models_lib.ModelRef("cnn", "CNN", None)
  return plan.WorkUnit(ref, "gaussian_noise", 0, 2, "{}", 0, "smoke", "f")
