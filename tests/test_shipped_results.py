"""The committed `standard` evaluation (results/standard/) is complete, of the shipped models'
weights and budgets, and its table is what its rows render to.

Other weights, another model configuration or a changed budget make these fail (a re-export
of the same model does not: its model fingerprint covers what it computes, not its serving
graph): the shipped table must then be run again (`python -m abs_tf.evaluate`), not edited.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from abs_tf import registry
from abs_tf.evaluation import driver
from abs_tf.evaluation import paper_curves
from abs_tf.evaluation import results
from abs_tf.evaluation import runner as runner_lib
from abs_tf.evaluation import table as table_lib

RESULTS_DIR = pathlib.Path(__file__).resolve().parents[1] / "results" / "standard"
CONFIG = driver.EvaluationConfig()  # the defaults: every paper model, standard profile


@pytest.fixture(scope="module")
def copied(tmp_path_factory):
  """The committed state in a scratch directory (planning may write budgets.json)."""
  out = tmp_path_factory.mktemp("standard")
  for name in (results.RESULTS_FILE, results.BUDGETS_FILE):
    shutil.copy(RESULTS_DIR / name, out / name)
  return out


def test_every_planned_unit_is_done_with_the_shipped_weights_and_budgets(copied, test_split):
  config = driver.EvaluationConfig(output_dir=str(copied))
  # Raises BudgetMismatchError if a row was made with other weights or another budget.
  run = driver.prepare(config, runner_lib.UnitRunner(test_split=test_split))
  missing = [f"{u.model.name}/{u.attack} {u.start}-{u.stop - 1}" for u in run.units]
  assert not missing, f"results/standard lacks: {missing[:10]}"
  assert sorted({name for name, _ in run.planned}) == sorted(CONFIG.models)


def test_table_is_rendered_from_the_rows(copied):
  store = results.ResultStore(copied)
  rows = list(store.rows.values())
  titles = {name: registry.get_spec(name).title for name in CONFIG.models}
  table = table_lib.build(rows, titles, store.budgets())
  assert table_lib.to_markdown(table) == (RESULTS_DIR / "table.md").read_text()
  assert table_lib.to_csv(table) == (RESULTS_DIR / "table.csv").read_text()
  assert {model: table.clean[model].count for model in table.models} == {
      model: CONFIG.samples for model in CONFIG.models}


def test_d_plus_is_rendered_from_the_rows(copied):
  """distributions.md and summary.json's d_plus: D+ against the paper's Figure 2."""
  rows = list(results.ResultStore(copied).rows.values())
  table = table_lib.build(rows, {name: registry.get_spec(name).title for name in CONFIG.models})
  found = paper_curves.compare(rows)
  assert paper_curves.to_markdown(found, table.titles) == (
      RESULTS_DIR / driver.DISTRIBUTIONS_FILE).read_text()
  summary = json.loads((RESULTS_DIR / "summary.json").read_text())
  assert summary["d_plus"] == json.loads(json.dumps(paper_curves.to_json(found)))


def test_resume_md_is_what_the_default_run_writes(tmp_path, monkeypatch):
  """RESUME.md: the command that continues results/standard, as `python -m abs_tf.evaluate`
  without flags writes it (so that re-rendering leaves the committed file unchanged)."""
  monkeypatch.chdir(tmp_path)
  pathlib.Path(CONFIG.output_dir).mkdir(parents=True)
  command = ["python", "-m", "abs_tf.evaluate"] + CONFIG.flags() + ["--executor=processes"]
  written = driver.write_resume(CONFIG.output_dir, command).read_text()
  assert (RESULTS_DIR / driver.RESUME_FILE).read_text() == written


@pytest.mark.parametrize("name", ["figure2.png", "figure3.png"])
def test_figures_are_committed(name):
  assert (RESULTS_DIR / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_without_flags_elsewhere_renders_the_shipped_results(tmp_path):
  """As from a pip-installed package: no ./results/standard, so the shipped one is copied to
  ./abs_tf_results/standard and rendered there; nothing is attacked but the recheck."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.pathsep.join(
      filter(None, [str(RESULTS_DIR.parents[1]), os.environ.get("PYTHONPATH")])))
  result = subprocess.run([sys.executable, "-m", "abs_tf.evaluate"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  copy = tmp_path / "abs_tf_results" / "standard"
  assert f"copied the shipped results from {RESULTS_DIR} to abs_tf_results/standard" in (
      result.stderr)
  assert f"Writing to {copy}" in result.stderr
  stored = len((RESULTS_DIR / results.RESULTS_FILE).read_text().splitlines())
  assert f"0 units run, 0 rows written, {stored} rows stored" in result.stderr
  assert (copy / "table.md").read_text() == (RESULTS_DIR / "table.md").read_text()
  assert (copy / driver.DISTRIBUTIONS_FILE).read_text() == (
      RESULTS_DIR / driver.DISTRIBUTIONS_FILE).read_text()
  assert "holds `abs_tf_results/standard` (`../..` from this file)" in (
      (copy / driver.RESUME_FILE).read_text())
  assert (RESULTS_DIR / "table.md").read_text() in result.stdout
  assert sorted(p.name for p in tmp_path.iterdir()) == ["abs_tf_results"]


def test_readme_shows_the_tables_clean_and_all_rows_its_legend_and_budgets():
  """The README's excerpt of the shipped table is what table.md renders, not a stale copy."""
  readme = (RESULTS_DIR.parents[1] / "README.md").read_text()
  section = readme.split("### The shipped result", 1)[1].split("\n### ", 1)[0]
  shown = [line for line in section.splitlines() if line.startswith("|")]
  rendered = (RESULTS_DIR / "table.md").read_text().splitlines()
  assert shown and set(shown) <= set(rendered)
  assert [line for line in shown if line.startswith("| **All")] == [
      line for line in rendered if line.startswith("| **All")]
  assert table_lib.LEGEND in section
  budgets = (RESULTS_DIR / "table.md").read_text().split(table_lib.LEGEND, 1)[1]
  assert table_lib.BUDGETS_HEADING in budgets and budgets.strip() in section
