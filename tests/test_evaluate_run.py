"""The evaluation end to end on 3 test images with the smoke budgets: the CNN, the nearest
neighbour, a SavedModel given by path and an ABS with a tiny latent search; resuming after a
kill, refusing other budgets, and the command line's errors."""

import json
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from abs_tf import registry
from abs_tf.evaluation import driver
from abs_tf.evaluation import models as models_lib
from abs_tf.evaluation import results
from abs_tf.evaluation import runner as runner_lib
from abs_tf.models import abs_model
from abs_tf.models import latent_search

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
ATTACKS = ("fgsm", "gaussian_noise", "salt_and_pepper", "latent_descent", "fgsm_envelope")
# The shipped ABS decoders with a tiny latent search: fast, and still an ABS model.
TINY_SEARCH = latent_search.LatentSearchConfig(num_samples=50, num_steps=2)
TINY_ABS = models_lib.ModelRef("tiny_abs", "ABS (tiny search)", registry.ENVELOPE,
                               is_abs=True, fingerprint="tiny-search-50-2")


@pytest.fixture(scope="module")
def runner(test_split):
  shipped = registry.load_model("abs")
  runner = runner_lib.UnitRunner(test_split=test_split)
  runner.cache.put("tiny_abs", abs_model.ABS(shipped.decoders,
                                             abs_model.ABSConfig(search=TINY_SEARCH)))
  return runner


def _config(output_dir, **kwargs):
  settings = dict(models=("cnn", "tiny_abs"), attacks=ATTACKS, profile="smoke",
                  output_dir=str(output_dir), num_samples=3)
  settings.update(kwargs)
  return driver.EvaluationConfig(**settings)


@pytest.fixture(scope="module")
def first_run(runner, tmp_path_factory):
  output_dir = tmp_path_factory.mktemp("smoke")
  summary = driver.evaluate(_config(output_dir), runner=runner, model_refs=[TINY_ABS])
  return output_dir, summary


def test_smoke_run_writes_every_row_and_output(first_run):
  output_dir, summary = first_run
  rows = results.ResultStore(output_dir).rows
  expected = {("cnn", a) for a in ("fgsm", "gaussian_noise", "salt_and_pepper")} | {
      ("tiny_abs", a) for a in ("gaussian_noise", "salt_and_pepper", "latent_descent",
                                "fgsm_envelope")}
  assert {(m, a) for m, a, _ in rows} == expected
  assert len(rows) == 3 * len(expected) == summary.rows_written == summary.rows_total
  for row in rows.values():
    assert row.distance >= 0 and row.queries > 0 and row.batch == (0, 3)
    assert row.label == int(np.asarray(row.label))
  assert all(rows[("tiny_abs", "latent_descent", i)].distance < np.inf for i in range(3))
  for name in ("table.md", "table.csv", "figure2.png", "figure3.png", "summary.json",
               "budgets.json", "distributions.md"):
    assert (output_dir / name).stat().st_size > 0
  table_md = (output_dir / "table.md").read_text()
  assert "| Latent Descent |" in table_md and "**All L2 Attacks**" in table_md
  # Figure 3's images (the first of each class: 0 is a 7, 1 a 2, 2 a 1), L2 attacks only.
  stored = sorted(p.relative_to(output_dir / "adversarials").as_posix()
                  for p in (output_dir / "adversarials").rglob("*.npy"))
  assert {s.split("/")[1] for s in stored} <= {"gaussian_noise", "latent_descent"}
  assert "tiny_abs/latent_descent/0.npy" in stored
  summary = json.loads((output_dir / "summary.json").read_text())
  assert summary["rows_total"] == len(rows)
  # D+ against the paper's Figure 2: the CNN has a paper column, the tiny ABS none.
  assert {(c["model"], c["metric"]) for c in summary["d_plus"]["comparisons"]} == {
      ("cnn", "l2"), ("cnn", "linf"), ("cnn", "l0")}


def test_rerun_is_a_no_op(first_run, runner):
  output_dir, _ = first_run
  before = (output_dir / results.RESULTS_FILE).read_bytes()
  summary = driver.evaluate(_config(output_dir, recheck=0), runner=runner,
                            model_refs=[TINY_ABS])
  assert summary.units_run == 0 and summary.rows_written == 0
  assert (output_dir / results.RESULTS_FILE).read_bytes() == before


def test_resume_after_a_kill_is_identical_and_without_duplicates(first_run, runner,
                                                                 tmp_path):
  output_dir, _ = first_run
  killed = tmp_path / "killed"
  shutil.copytree(output_dir, killed)
  lines = (killed / results.RESULTS_FILE).read_text().splitlines(keepends=True)
  # The kill hit the last unit's write: its last row is missing, the one before cut short.
  (killed / results.RESULTS_FILE).write_text("".join(lines[:-2]) + lines[-2][:30])
  summary = driver.evaluate(_config(killed, recheck=0), runner=runner, model_refs=[TINY_ABS])
  assert summary.units_run == 1 and summary.rows_written == 2
  assert len((killed / results.RESULTS_FILE).read_text().splitlines()) == len(lines)
  assert results.outcomes(killed) == results.outcomes(output_dir)


def test_other_budgets_are_refused(first_run, runner):
  output_dir, _ = first_run
  before = (output_dir / results.RESULTS_FILE).read_bytes()
  with pytest.raises(results.BudgetMismatchError, match="cnn / gaussian_noise"):
    driver.evaluate(_config(output_dir, profile="standard", attacks=("gaussian_noise",)),
                    runner=runner, model_refs=[TINY_ABS])
  assert (output_dir / results.RESULTS_FILE).read_bytes() == before


def test_rows_of_another_budget_are_set_aside_and_attacked_again(first_run, runner,
                                                                 tmp_path):
  output_dir, _ = first_run
  changed = tmp_path / "changed"
  shutil.copytree(output_dir, changed)
  old = results.ResultStore(changed).rows
  stale = {key: row for key, row in old.items() if key[:2] == ("cnn", "gaussian_noise")}
  config = _config(changed, models=("cnn",), attacks=("gaussian_noise",), profile="standard",
                   recheck=0, figures=False, set_aside_stale=True)
  # Planning alone (--estimate_from) moves nothing, but plans the pair again.
  assert len(driver.estimate(config, list(old.values()), runner)) == 1
  assert results.ResultStore(changed).rows == old
  summary = driver.evaluate(config, runner=runner)
  assert summary.units_run == 1 and summary.rows_written == 3
  rows = results.ResultStore(changed).rows
  assert set(rows) == set(old)
  assert {rows[key].fingerprint for key in stale}.isdisjoint(
      row.fingerprint for row in stale.values())
  assert all(rows[key] == row for key, row in old.items() if key not in stale)
  lines = (changed / results.STALE_RESULTS_FILE).read_text().splitlines()
  assert {row.key: row for row in map(results.Row.from_json, lines)} == stale
  moved = changed / results.STALE_ADVERSARIALS_DIR / "cnn" / "gaussian_noise"
  assert sorted(p.name for p in moved.glob("*.npy")) == ["0.npy", "1.npy", "2.npy"]
  assert not np.array_equal(np.load(moved / "0.npy"), results.AdversarialStore(changed).load(
      "cnn", "gaussian_noise", 0))


def test_more_models_join_the_same_table(first_run, runner, tmp_path):
  output_dir, _ = first_run
  joined = tmp_path / "joined"
  shutil.copytree(output_dir, joined)
  path = str(registry.saved_model_path("cnn"))
  summary = driver.evaluate(
      _config(joined, models=("nearest_neighbor", path), attacks=("fgsm", "salt_and_pepper"),
              recheck=1), runner=runner)
  assert summary.rows_written == 2 * 2 * 3
  assert summary.table.models == ["cnn", "nearest_neighbor", "tiny_abs", path]
  # The SavedModel given by path is the CNN: same weights, same deterministic results.
  rows = results.ResultStore(joined).rows
  for i in range(3):
    assert rows[(path, "fgsm", i)].distance == pytest.approx(rows[("cnn", "fgsm", i)].distance)
  assert not [w for w in summary.warnings if "not reproducible" in w]


QUERY_EFFICIENT = ("hop_skip_jump_l2", "hop_skip_jump_linf", "fmn_l2", "fmn_linf", "fmn_l0")


def test_the_attacks_beyond_the_paper_and_an_authors_column(runner, tmp_path):
  """Issue 20's rows and columns, named on the command line: HopSkipJump and FMN on the
  authors' CNN beside one of the paper's attacks, then two of them on an ABS model (FMN
  with its envelope gradient) into the same table."""
  driver.evaluate(_config(tmp_path, models=("cnn_authors",), recheck=0, figures=False,
                          attacks=QUERY_EFFICIENT + ("gaussian_noise",)), runner=runner)
  on_abs = ("fmn_l2", "hop_skip_jump_linf")
  summary = driver.evaluate(_config(tmp_path, models=("tiny_abs",), attacks=on_abs,
                                    recheck=0, figures=False),
                            runner=runner, model_refs=[TINY_ABS])
  rows = results.ResultStore(tmp_path).rows
  assert {(m, a) for m, a, _ in rows} == {
      ("cnn_authors", a) for a in QUERY_EFFICIENT + ("gaussian_noise",)} | {
          ("tiny_abs", a) for a in on_abs}
  # Within the smoke budgets (150 queries; 10 or 30 steps) plus the base's two checks.
  for row in rows.values():
    if row.attack in QUERY_EFFICIENT:
      limit = {"hop_skip_jump_l2": 150, "hop_skip_jump_linf": 150, "fmn_l0": 30}.get(
          row.attack, 10)
      assert 0 < row.queries <= limit + 2, row
  assert all(rows[(m, "fmn_l2", i)].distance < np.inf for m in ("cnn_authors", "tiny_abs")
             for i in range(3))
  # 30 L0 steps break images 0 and 2 (10 and 6 pixels; image 1 needs 100 steps).
  assert [rows[("cnn_authors", "fmn_l0", i)].distance < np.inf for i in range(3)] == [
      True, False, True]
  # Their rows carry their version in the budget fingerprint; the paper's attacks none.
  described = {d["attack"]: d for d in json.loads((tmp_path / "budgets.json").read_text())
               .values()}
  assert {a: d.get("attack_version") for a, d in described.items()} == dict(
      {a: 1 for a in QUERY_EFFICIENT}, gaussian_noise=None)
  # The authors' CNN is a column compared with the paper's CNN; the new rows are marked
  # beyond the paper and counted in "All", beside the "All" of the paper's attacks.
  table = summary.table
  assert table.models == ["cnn_authors", "tiny_abs"]
  assert [key for key, _ in table.rows] == [
      "gaussian_noise", "hop_skip_jump_l2", "fmn_l2", "all_paper_l2", "all_l2",
      "hop_skip_jump_linf", "fmn_linf", "all_linf", "fmn_l0", "all_l0"]
  markdown = (tmp_path / "table.md").read_text()
  assert "| | CNN (authors' weights) | ABS (tiny search) |" in markdown
  assert "| Gaussian Noise | " in markdown and "(5.20 / 96%) |" in markdown
  assert "| HopSkipJump † |" in markdown and "| FMN † |" in markdown
  best = [min(rows[("cnn_authors", a, i)].distance
              for a in ("gaussian_noise", "hop_skip_jump_l2", "fmn_l2")) for i in range(3)]
  assert table.cells[("all_l2", "cnn_authors")].median == pytest.approx(np.median(best))
  assert table.cells[("all_paper_l2", "cnn_authors")].median == pytest.approx(np.median(
      [rows[("cnn_authors", "gaussian_noise", i)].distance for i in range(3)]))
  assert ("all_paper_l2", "tiny_abs") not in table.cells  # none of the paper's attacks
  assert table.cells[("all_l2", "tiny_abs")] == table.cells[("fmn_l2", "tiny_abs")]


def test_config_errors_say_what_was_expected(tmp_path, runner):
  with pytest.raises(ValueError, match="num_samples must be >= 1"):
    _config(tmp_path, num_samples=0)
  with pytest.raises(ValueError, match="first_index must lie in"):
    _config(tmp_path, first_index=10_000)
  with pytest.raises(ValueError, match="first_index \\+ num_samples <= 10000"):
    _config(tmp_path, first_index=9_999, num_samples=2)
  with pytest.raises(ValueError, match="Unknown profile"):
    _config(tmp_path, profile="quick")
  with pytest.raises(ValueError, match="must not repeat"):
    _config(tmp_path, models=("cnn", "cnn"))
  with pytest.raises(ValueError, match="Unknown model 'resnet'"):
    driver.evaluate(_config(tmp_path, models=("resnet",)), runner=runner)
  with pytest.raises(ValueError, match="latent_descent.*applies to none"):
    driver.evaluate(_config(tmp_path, models=("cnn",), attacks=("latent_descent",)),
                    runner=runner)


@pytest.mark.parametrize("flags, message", [
    (["--attacks=fgsm,nope"], "Unknown attacks ['nope']"),
    (["--ray_workers=3"], "--ray_workers need --executor=ray"),
    (["--merge_from=/nonexistent"], "results.jsonl to merge from"),
])
def test_command_line_reports_bad_flags(tmp_path, flags, message):
  result = subprocess.run(
      [sys.executable, "-m", "abs_tf.evaluate", "--models=cnn", "--profile=smoke",
       f"--output_dir={tmp_path}"] + flags,
      capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
  assert result.returncode != 0
  assert message in result.stderr


def test_estimate_scales_measured_seconds_to_the_missing_images(first_run, runner):
  output_dir, _ = first_run
  rows = list(results.ResultStore(output_dir).rows.values())
  config = _config(output_dir, models=("cnn",), num_samples=10,
                   attacks=("fgsm", "gaussian_noise", "salt_and_pepper"))
  estimates = driver.estimate(config, rows, runner)
  assert set(estimates) == {("cnn", a) for a in ("fgsm", "gaussian_noise", "salt_and_pepper")}
  fgsm = [r.seconds for r in rows if (r.model, r.attack) == ("cnn", "fgsm")]
  assert estimates[("cnn", "fgsm")] == pytest.approx(7 * np.mean(fgsm))  # images 3..9
