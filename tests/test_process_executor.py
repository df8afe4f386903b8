"""The evaluation's memory bound and its resume command: each model's units run in a worker
process of their own, which ends with them (or is replaced past a memory limit); runners and
the driver release the models they are done with; a run killed after its first unit is
continued by the command its RESUME.md gives, with the rows an in-process run computes."""

import dataclasses
import gc
import json
import os
import pathlib
import re
import shlex
import signal
import subprocess
import sys
import time
import weakref

import pytest
import tensorflow as tf

from abs_tf import registry
from abs_tf.evaluation import driver
from abs_tf.evaluation import executor as executor_lib
from abs_tf.evaluation import models as models_lib
from abs_tf.evaluation import plan
from abs_tf.evaluation import profiles
from abs_tf.evaluation import results
from abs_tf.models import abs_model
from abs_tf.models import latent_search

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
MODELS = ("cnn", "binary_cnn")
ATTACKS = ("gaussian_noise", "salt_and_pepper")
TINY_SEARCH = latent_search.LatentSearchConfig(num_samples=50, num_steps=2)


def _config(output_dir, **kwargs):
  # One image per unit: 4 units per model.
  settings = dict(models=MODELS, attacks=ATTACKS, profile="smoke", output_dir=str(output_dir),
                  num_samples=2, chunk_size=1, recheck=0, figures=False)
  settings.update(kwargs)
  return driver.EvaluationConfig(**settings)


@pytest.fixture(scope="module")
def local_rows(runner, tmp_path_factory):
  """The rows of an in-process run (`LocalExecutor`)."""
  output_dir = tmp_path_factory.mktemp("local")
  driver.evaluate(_config(output_dir), runner=runner)
  rows = results.outcomes(output_dir)
  assert len(rows) == len(MODELS) * len(ATTACKS) * 2
  return rows


def _gone(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return True
  return pathlib.Path(f"/proc/{pid}/stat").exists() and " Z " in (
      pathlib.Path(f"/proc/{pid}/stat").read_text())  # exited, not yet reaped


def test_each_model_runs_in_a_fresh_process_that_ends(local_rows, tmp_path):
  executor = executor_lib.ProcessExecutor()
  summary = driver.evaluate(_config(tmp_path), executor)
  assert summary.rows_written == len(local_rows)
  assert results.outcomes(tmp_path) == local_rows
  assert [(w.model, w.units) for w in executor.workers] == [("cnn", 4), ("binary_cnn", 4)]
  pids = [w.pid for w in executor.workers]
  assert len(set(pids)) == 2 and os.getpid() not in pids
  assert all(_gone(pid) for pid in pids)
  assert all(0 < w.resident_mb <= w.peak_mb < executor_lib.DEFAULT_WORKER_MEMORY_MB
             for w in executor.workers)


def test_a_worker_past_its_memory_limit_is_replaced(local_rows, runner, tmp_path):
  config = _config(tmp_path, models=("cnn",), attacks=ATTACKS[:1])  # 2 units
  units = driver.prepare(config, runner).units
  executor = executor_lib.ProcessExecutor(worker_memory_mb=1)  # every worker is past it
  found = list(executor.run(units))
  assert [r.unit for r in found] == units
  assert [(w.model, w.units) for w in executor.workers] == [("cnn", 1)] * len(units)
  assert len({w.pid for w in executor.workers}) == len(units)
  for result in found:
    for row in result.rows:
      assert row.outcome == local_rows[row.key]


def test_a_failing_unit_stops_the_run_naming_it(runner, tmp_path):
  unit = driver.prepare(_config(tmp_path, models=("cnn",)), runner).units[0]
  missing = models_lib.ModelRef(str(tmp_path / "no_model"), "missing", None)
  broken = plan.WorkUnit(missing, unit.attack, unit.start, unit.stop, unit.budget_json,
                         unit.seed, unit.profile, unit.fingerprint)
  executor = executor_lib.ProcessExecutor()
  with pytest.raises(executor_lib.WorkerError,
                     match=r"no_model / gaussian_noise images 0-0 failed in its worker"):
    list(executor.run([broken]))
  with pytest.raises(ValueError, match="worker_memory_mb must be > 0"):
    executor_lib.ProcessExecutor(worker_memory_mb=0)


def test_a_runner_releases_the_previous_model(runner, tmp_path, monkeypatch):
  """An ABS model (prototypes, compiled search) is freed once a unit of another model runs.

  (TensorFlow keeps a model whose methods are `tf.function`s, such as the CNNs, alive
  after its last reference goes: the runner cannot free those, but they are small.)
  """
  shipped = registry.load_model("abs")
  made = []
  monkeypatch.setattr(registry, "load_model", lambda name, **keys: made.append(
      abs_model.ABS(shipped.decoders, abs_model.ABSConfig(search=TINY_SEARCH))) or made[-1])
  cnn_unit = driver.prepare(_config(tmp_path, models=("cnn",)), runner).units[0]
  abs_ref = models_lib.ModelRef("abs", "ABS (tiny search)", registry.ENVELOPE, is_abs=True,
                                fingerprint="tiny-search")
  abs_unit = dataclasses.replace(cnn_unit, model=abs_ref, attack="fgsm_envelope",
                                 budget_json=json.dumps(profiles.SMOKE.budget("fgsm", True)))
  runner.run(abs_unit)
  prototypes = made[0]._prototypes  # pylint: disable=protected-access
  assert prototypes.is_filled()
  handle = dict(dtype=tf.float32, shape=[prototypes.num_rows, prototypes.row_size],
                shared_name=prototypes.shared_name)
  model = weakref.ref(made[0])
  del prototypes
  made.clear()
  runner.run(cnn_unit)
  gc.collect()
  assert "abs" not in runner.cache and "cnn" in runner.cache
  assert model() is None  # freed, with what its attacks' traced graphs held
  assert not tf.raw_ops.VarIsInitializedOp(resource=tf.raw_ops.VarHandleOp(**handle))


def test_the_driver_holds_no_model_while_units_run(runner, tmp_path):
  """The gradient check loads each model in the driver's process, and releases it."""

  class Watching(executor_lib.LocalExecutor):
    held = None

    def run(self, units):
      Watching.held = [name for name in MODELS if name in self.runner.cache]
      yield from super().run(units)

  summary = driver.evaluate(_config(tmp_path, attacks=("fgsm",)), Watching(runner), runner)
  assert summary.rows_written == 4 and Watching.held == []


def test_resume_md_says_where_to_run_the_command(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  (tmp_path / "results" / "mine").mkdir(parents=True)
  command = ["python", "-m", "abs_tf.evaluate", "--models=cnn,my model/1"]
  text = driver.write_resume("results/mine", command).read_text()
  assert ("Run, from the directory that holds `results/mine` (`../..` from this file):\n\n"
          "    python -m abs_tf.evaluate '--models=cnn,my model/1'\n") in text
  text = driver.write_resume(str(tmp_path / "results" / "mine"), command).read_text()
  assert f"    cd {tmp_path} && python -m abs_tf.evaluate" in text
  with pytest.raises(ValueError, match="non-empty command"):
    driver.write_resume("results/mine", [])


def _resume_command(output_dir: pathlib.Path):
  """The command line in RESUME.md, with this test's Python."""
  text = (output_dir / driver.RESUME_FILE).read_text()
  line = re.search(r"^    (python -m abs_tf\.evaluate .*)$", text, re.MULTILINE).group(1)
  return [sys.executable] + shlex.split(line)[1:]


def test_a_killed_run_is_continued_by_the_command_in_resume_md(local_rows, tmp_path):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.pathsep.join(
      filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
  flags = _config("out").flags()
  run = subprocess.Popen([sys.executable, "-m", "abs_tf.evaluate"] + flags, cwd=tmp_path,
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  out = tmp_path / "out"
  rows_file = out / results.RESULTS_FILE
  deadline = time.monotonic() + 300
  while not (rows_file.exists() and rows_file.read_text().count("\n") >= 1):
    assert run.poll() is None, run.stderr.read().decode()[-3000:]
    assert time.monotonic() < deadline, "no unit finished in 300 s"
    time.sleep(0.2)
  workers = [int(p.parent.name) for p in pathlib.Path("/proc").glob("[0-9]*/stat")
             if p.read_text().rsplit(")", 1)[1].split()[1] == str(run.pid)]
  run.send_signal(signal.SIGKILL)  # after the first unit: its rows are stored
  run.wait()
  run.stderr.close()
  before = rows_file.read_text()
  stored = before.count("\n")
  assert 1 <= stored < len(local_rows)
  deadline = time.monotonic() + 30  # the worker ends with its driver, not after its unit
  while not all(_gone(pid) for pid in workers):
    assert time.monotonic() < deadline, f"worker processes {workers} outlived the driver"
    time.sleep(0.2)

  command = _resume_command(out)
  assert command[3:] == flags + ["--executor=processes"]
  assert "from the directory that holds `out` (`..` from this file)" in (
      (out / driver.RESUME_FILE).read_text())
  resumed = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=600)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  after = rows_file.read_text()
  assert after.startswith(before.rsplit("\n", 1)[0])  # stored rows kept, not run again
  assert after.count("\n") == len(local_rows)  # none missing, none repeated
  assert results.outcomes(out) == local_rows
  assert f"{len(local_rows) - stored} rows written" in resumed.stderr
