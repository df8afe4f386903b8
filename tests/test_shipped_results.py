"""The committed `standard` evaluation (results/standard/) is complete, of the shipped models'
weights and budgets, and its table is what its rows render to.

Other weights, another model configuration or a changed budget make these fail (a re-export
of the same model does not: its model fingerprint covers what it computes, not its serving
graph): the shipped table must then be run again (`python -m abs_tf.evaluate`), not edited.
"""

import pathlib
import shutil

import pytest

from abs_tf import registry
from abs_tf.evaluation import driver
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
  rows = list(results.ResultStore(copied).rows.values())
  titles = {name: registry.get_spec(name).title for name in CONFIG.models}
  table = table_lib.build(rows, titles)
  assert table_lib.to_markdown(table) == (RESULTS_DIR / "table.md").read_text()
  assert table_lib.to_csv(table) == (RESULTS_DIR / "table.csv").read_text()
  assert {model: table.clean[model].count for model in table.models} == {
      model: CONFIG.samples for model in CONFIG.models}


@pytest.mark.parametrize("name", ["figure2.png", "figure3.png"])
def test_figures_are_committed(name):
  assert (RESULTS_DIR / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
