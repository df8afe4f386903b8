"""Table 1 from hand-made rows (medians, threshold accuracies, 0 and inf, "All" rows), the
paper's transcribed numbers, profiles and the plan: fast, no model is loaded."""

import csv
import dataclasses
import io
import json
import math
import pickle
import shutil

import numpy as np
import pytest

from abs_tf import attacks
from abs_tf import registry
from abs_tf.attacks import catalog
from abs_tf.attacks import transfer
from abs_tf.evaluation import budget_notes
from abs_tf.evaluation import models as models_lib
from abs_tf.evaluation import paper_table
from abs_tf.evaluation import plan
from abs_tf.evaluation import profiles
from abs_tf.evaluation import results
from abs_tf.evaluation import table

INF = math.inf


def _rows(model, attack, distances, metric=None):
  metric = metric or plan.metric_of(attack)
  return [results.Row(model, attack, metric, i, i % 10, float(d), 1, 0.1, "smoke", "f", (0, 4))
          for i, d in enumerate(distances)]


@pytest.fixture
def rows():
  return (_rows("cnn", "boundary", [0.0, 1.0, 2.0, INF]) +
          _rows("cnn", "fgm", [0.0, 3.0, 1.0, INF]) +
          _rows("cnn", "fgsm", [0.0, 0.3, 0.31, 0.1]) +
          _rows("abs", "latent_descent", [5.0, 1.5, INF, INF]) +
          _rows("abs", "pointwise", [12.0, 13.0, 40.0, INF]))


def test_median_and_threshold_accuracy(rows):
  built = table.build(rows)
  boundary = built.cells[("boundary", "cnn")]
  assert boundary.median == 1.5 and boundary.accuracy == 0.5 and boundary.count == 4
  # An adversarial exactly at the threshold counts against the model (0.3 in L-inf, 12 in L0).
  assert built.cells[("fgsm", "cnn")].accuracy == 0.25
  assert built.cells[("pointwise", "abs")].accuracy == 0.75
  assert built.cells[("latent_descent", "abs")].median == INF
  assert built.cells[("latent_descent", "abs")].accuracy == 0.75  # 1.5 is not above 1.5


def test_all_rows_take_the_per_sample_minimum(rows):
  built = table.build(rows)
  all_l2 = built.cells[("all_l2", "cnn")]  # min(boundary, fgm) per image: 0, 1, 1, inf
  assert all_l2.median == 1.0 and all_l2.accuracy == 0.25 and all_l2.count == 4
  assert built.cells[("all_l2", "abs")].median == INF  # 1.5, 5, inf, inf
  assert built.cells[("all_linf", "cnn")].median == pytest.approx(0.2)
  assert ("all_linf", "abs") not in built.cells
  assert built.rows[-1] == ("all_l0", "l0")


def test_clean_accuracy_counts_misclassified_images(rows):
  built = table.build(rows)
  assert built.clean["cnn"].accuracy == 0.75  # image 0 is at distance 0 in every row
  assert built.clean["abs"].accuracy == 1.0


def test_rows_follow_table1_and_models_the_paper_columns(rows):
  built = table.build(rows)
  assert built.models == [m for m in registry.MODELS if m in ("cnn", "abs")]
  assert [key for key, _ in built.rows] == ["boundary", "fgm", "latent_descent", "all_l2",
                                           "fgsm", "all_linf", "pointwise", "all_l0"]


def test_markdown_has_ours_beside_the_papers(rows):
  text = table.to_markdown(table.build(rows))
  assert "| Boundary Attack | 1.50 / 50% (1.20 / 21%) | —" in text  # ABS: no Boundary row
  assert "∞ / 75%" in text
  assert "**All L2 Attacks** | 1.00 / 25% (1.10 / 8%) | ∞ / 75% (2.30 / 80%) |" in text
  assert "| Pointwise Attack | — (9.0 / 19%) | 26.5 / 75% (22.0 / 78%) |" in text


def test_all_rows_of_the_papers_attacks_leave_the_rows_beyond_out(rows):
  # HopSkipJump (beyond the paper) beats Boundary and FGM on images 1 and 3 of the CNN.
  built = table.build(rows + _rows("cnn", "hop_skip_jump_l2", [0.0, 0.5, 3.0, 2.0]))
  keys = [key for key, _ in built.rows]
  assert keys[:keys.index("all_linf") + 1] == [
      "boundary", "hop_skip_jump_l2", "fgm", "latent_descent", "all_paper_l2", "all_l2",
      "fgsm", "all_linf"]  # no L-inf row beyond the paper: no L-inf row of the paper's
  # Per image: every attack 0, 0.5, 1, 2; the paper's attacks only 0, 1, 1, inf.
  assert built.cells[("all_l2", "cnn")] == table.Cell(0.75, 0.25, 4)
  assert built.cells[("all_paper_l2", "cnn")] == table.Cell(1.0, 0.25, 4)
  assert built.cells[("all_paper_l2", "abs")] == built.cells[("all_l2", "abs")]
  text = table.to_markdown(built)
  assert "| HopSkipJump † | 1.25 / 50% |" in text
  assert "| Boundary Attack | 1.50 / 50% (1.20 / 21%) |" in text  # the paper's: unmarked
  # Both "All" rows compare with the paper's "All" row.
  assert "| **All L2 Attacks (the paper's)** | 1.00 / 25% (1.10 / 8%) |" in text
  assert "| **All L2 Attacks** | 0.75 / 25% (1.10 / 8%) |" in text
  parsed = list(csv.DictReader(io.StringIO(table.to_csv(built))))
  beyond = {r["row"] for r in parsed if r["beyond_paper"] == "1"}
  assert beyond == {"hop_skip_jump_l2"}
  paper_all = [r for r in parsed if r["row"] == "all_paper_l2" and r["model"] == "cnn"][0]
  assert float(paper_all["median"]) == 1.0 and float(paper_all["paper_median"]) == 1.1


def test_the_markdown_explains_its_symbols(rows):
  # fgsm_ge on 2 of the CNN's 4 images: the cell says so.
  text = table.to_markdown(table.build(rows + _rows("cnn", "fgsm_ge", [0.2, 0.4])))
  assert "| FGSM w/ GE | 0.30 / 50% (0.10 / 21%) (n=2) |" in text
  assert "| FGSM | 0.20 / 25% (0.10 / 4%) |  |" in text  # 4 images, as the column: no n
  assert text.endswith("\n\n" + table.LEGEND)
  legend = table.LEGEND.splitlines()
  for symbol in ("(n=...)", "∞", "—", "An empty cell", table.BEYOND_PAPER):
    assert [line for line in legend if line.startswith(f"- {symbol}")], symbol
  assert "in parentheses the paper's Table 1" in legend[0]
  assert "(the paper's)" in table.LEGEND


def test_a_row_of_an_unregistered_attack_is_shown_under_its_name(rows):
  built = table.build(rows + _rows("cnn", "old_attack", [0.0, 0.2, 0.2, 0.2], metric="l2"))
  assert ("old_attack", "l2") in built.rows
  assert built.rows.index(("old_attack", "l2")) < built.rows.index(("all_l2", "l2"))
  # It counts in "All", not in "All (the paper's)": it cannot be shown to be the paper's.
  assert built.cells[("all_l2", "cnn")].median == pytest.approx(0.2)
  assert built.cells[("all_paper_l2", "cnn")].median == 1.0
  assert "| old_attack † | 0.20 / 0% |" in table.to_markdown(built)
  assert table.title("old_attack") == "old_attack" and table.beyond_paper("old_attack")


def test_csv_holds_numbers(rows):
  parsed = list(csv.DictReader(io.StringIO(table.to_csv(table.build(rows)))))
  cell = [r for r in parsed if r["row"] == "all_l2" and r["model"] == "abs"][0]
  assert float(cell["median"]) == INF and float(cell["accuracy"]) == 0.75
  assert float(cell["paper_median"]) == 2.3 and float(cell["paper_accuracy"]) == 0.8
  clean = [r for r in parsed if r["row"] == "clean" and r["model"] == "cnn"][0]
  assert float(clean["accuracy"]) == 0.75 and float(clean["paper_accuracy"]) == 0.991


def test_paper_table_transcribed():
  assert paper_table.PAPER_TABLE["boundary"]["madry"] == (1.4, 0.37)
  assert paper_table.PAPER_TABLE["all_linf"]["binary_abs"] == (0.44, 0.77)
  assert paper_table.PAPER_TABLE["bim_l2_ge"]["binary_cnn"] == (INF, 0.50)
  assert paper_table.PAPER_TABLE["salt_and_pepper"]["abs"] == (182.5, 0.95)
  assert paper_table.PAPER_TABLE["all_l0"]["binary_abs"] == (36.0, 0.82)
  # Real-gradient rows are empty for the nearest neighbour and the ABS models.
  for row in ("fgm", "bim_l2", "fgsm", "bim_linf", "mim"):
    assert set(paper_table.PAPER_TABLE[row]) == {"cnn", "binary_cnn", "madry"}
  assert len(paper_table.PAPER_TABLE) == 19
  # The paper's columns are the registry's paper models, in the paper's order; the authors'
  # models compare with the column of the model they reproduce.
  assert paper_table.MODELS == registry.paper_models() == (
      "cnn", "binary_cnn", "nearest_neighbor", "madry", "binary_abs", "abs")
  assert set(paper_table.PAPER_CLEAN_ACCURACY) == set(paper_table.MODELS)
  assert paper_table.PAPER_CLEAN_ACCURACY["nearest_neighbor"] == 0.969
  assert registry.paper_column("cnn_authors") == "cnn"
  assert registry.paper_column("abs_authors") == "abs"
  assert registry.paper_column("substitute_cnn") is None
  for row, cells in paper_table.PAPER_TABLE.items():
    metric = row[4:] if row.startswith("all_") else plan.metric_of(row)
    for median, accuracy in cells.values():
      assert 0 <= accuracy <= 1 and median > 0
      if median < INF and accuracy < 0.5:  # fewer than half robust: median below epsilon
        assert median <= table.THRESHOLDS[metric]


def _ref(name, gradient, **kwargs):
  return models_lib.ModelRef(name, name, gradient, fingerprint="w", **kwargs)


def _default_plan(ref):
  return plan.select_attacks([ref], None)[ref.name]


def test_plan_follows_table1():
  cnn = _default_plan(_ref("cnn", registry.AUTODIFF))
  binary_cnn = _default_plan(_ref("binary_cnn", registry.STRAIGHT_THROUGH, binarized=True))
  abs_ = _default_plan(_ref("abs", registry.ENVELOPE, is_abs=True))
  output_only = _default_plan(_ref("/my/model", None))
  assert cnn == binary_cnn and "fgsm" in cnn and "latent_descent" not in cnn
  assert not any(a.endswith("_envelope") for a in cnn)
  assert "fgsm" not in abs_ and {"latent_descent", "fgsm_envelope", "fgsm_ge"} <= set(abs_)
  assert set(output_only) == {name for name, entry in attacks.ATTACKS.items()
                              if entry.requires == catalog.OUTPUTS and entry.in_default_plan}
  assert set(output_only) == {"transfer_l2", "transfer_linf", "gaussian_noise", "boundary",
                              "hop_skip_jump_l2", "hop_skip_jump_linf", "salt_and_pepper",
                              "pointwise"} | {
                                  f"{f}_ge" for f in ("fgsm", "fgm", "bim_linf", "bim_l2",
                                                      "mim")}
  # Table 1's row order, read from the attacks' declarations.
  assert _default_plan(_ref("all", registry.AUTODIFF, is_abs=True)) == [
      "transfer_l2", "gaussian_noise", "boundary", "hop_skip_jump_l2", "fgm", "fgm_ge",
      "fgm_envelope", "bim_l2", "bim_l2_ge", "bim_l2_envelope", "fmn_l2", "fmn_l2_noise",
      "latent_descent",
      "transfer_linf", "hop_skip_jump_linf", "fgsm", "fgsm_ge", "fgsm_envelope", "bim_linf",
      "bim_linf_ge", "bim_linf_envelope", "mim", "mim_ge", "mim_envelope", "fmn_linf",
      "fmn_linf_noise", "salt_and_pepper", "fmn_l0", "fmn_l0_noise", "pointwise"]
  assert len(abs_) == 30 - 5 and len(cnn) == 30 - 6
  # Every registered attack that applies is in the default plan (issue 20's since
  # results/standard holds their rows).
  for ref in (_ref("cnn", registry.AUTODIFF), _ref("abs", registry.ENVELOPE, is_abs=True),
              _ref("/my/model", None)):
    assert set(plan.applicable_attacks(ref)) == set(_default_plan(ref))


def test_select_attacks_rejects_what_applies_to_no_model():
  refs = [_ref("cnn", registry.AUTODIFF)]
  assert plan.select_attacks(refs, ["boundary", "fgsm"]) == {"cnn": ["boundary", "fgsm"]}
  with pytest.raises(ValueError, match="Unknown attacks \\['nope'\\]"):
    plan.select_attacks(refs, ["nope"])
  with pytest.raises(ValueError, match="latent_descent.*applies to none"):
    plan.select_attacks(refs, ["latent_descent"])


def test_units_are_aligned_chunks_without_finished_ones():
  refs = [_ref("cnn", registry.AUTODIFF)]
  units = plan.make_units({"cnn": ["boundary", "fgsm"]}, refs, profiles.SMOKE, 5, 12, 10,
                          keep_indices=[7], done={("cnn", "fgsm", i) for i in range(5, 10)})
  assert [(u.attack, u.start, u.stop) for u in units] == [
      ("boundary", 5, 10), ("boundary", 10, 17), ("fgsm", 10, 17)]
  assert units[0].keep_adversarials == (7,) and units[2].keep_adversarials == ()  # L2 only
  assert units[0].budget == profiles.SMOKE.budget("boundary")
  assert units[0].fingerprint != units[2].fingerprint
  # Units are plain data: another process (a cluster worker) gets an equal copy.
  assert pickle.loads(pickle.dumps(units[0])) == units[0]
  assert plan.figure_indices(np.array([3, 1, 3, 0]), 100) == (103, 101, 100)


def test_transfer_budgets_cover_the_substitute(tmp_path, monkeypatch):
  ref = _ref("cnn", registry.AUTODIFF)
  fingerprint, description = plan.budget_entry(ref, "transfer_l2", profiles.STANDARD)
  assert description["substitute"] == transfer.DEFAULT_SUBSTITUTE == "substitute_cnn"
  assert description["substitute_fingerprint"] == models_lib.fingerprint("substitute_cnn")
  assert "substitute_fingerprint" not in plan.budget_description(ref, "fgsm", profiles.STANDARD)
  # Another substitute under the same name (here the shipped one, binarising) voids the rows.
  other = shutil.copytree(registry.saved_model_path("substitute_cnn"),
                          tmp_path / "substitute_cnn" / "1")
  meta = json.loads((other / "assets" / "abs_tf_model.json").read_text())
  meta["config"]["binarize"] = True
  (other / "assets" / "abs_tf_model.json").write_text(json.dumps(meta))
  monkeypatch.setenv(registry.SAVED_MODELS_ENV, str(tmp_path))
  again, changed = plan.budget_entry(ref, "transfer_l2", profiles.STANDARD)
  assert changed["budget"] == description["budget"] and again != fingerprint
  assert transfer.TransferL2.substitute_of({"substitute_name": "/my/cnn"}) == "/my/cnn"


def test_units_respect_a_profiles_sample_cap():
  refs = [_ref("cnn", registry.AUTODIFF)]
  units = plan.make_units({"cnn": ["bim_l2_ge", "boundary"]}, refs, profiles.STANDARD, 0, 100,
                          10)
  assert [u.stop for u in units if u.attack == "bim_l2_ge"] == [10, 20]
  assert len([u for u in units if u.attack == "boundary"]) == 10


def test_abs_models_get_the_profiles_abs_overrides():
  refs = [_ref("cnn", registry.AUTODIFF), _ref("abs", registry.ENVELOPE, is_abs=True)]
  attacks = ["boundary", "fgsm_ge", "mim_ge"]
  units = plan.make_units({"cnn": attacks, "abs": attacks}, refs, profiles.STANDARD, 0, 100,
                          None)
  spans = {(u.model.name, u.attack): [] for u in units}
  for u in units:
    spans[(u.model.name, u.attack)].append((u.start, u.stop))
  assert spans[("abs", "boundary")] == [(0, 50), (50, 100)]  # ABS: chunks of 50
  assert spans[("abs", "fgsm_ge")] == [(0, 10)]  # capped at 10 images
  assert ("abs", "mim_ge") not in spans  # cap 0: not run
  assert len(spans[("cnn", "boundary")]) == 10 and len(spans[("cnn", "mim_ge")]) == 2
  abs_boundary = profiles.STANDARD.budget("boundary", is_abs=True)
  assert abs_boundary == dict(profiles.STANDARD.budget("boundary"), max_queries=1000)
  cnn_unit = next(u for u in units if (u.model.name, u.attack) == ("cnn", "boundary"))
  abs_unit = next(u for u in units if (u.model.name, u.attack) == ("abs", "boundary"))
  assert cnn_unit.budget["max_queries"] == 5000 and abs_unit.budget["max_queries"] == 1000


def test_an_attack_version_enters_the_fingerprint(monkeypatch):
  ref = _ref("cnn", registry.AUTODIFF)
  # Undeclared (the paper's attacks): the description, so the fingerprint, is as it was
  # before versions existed (tests/test_shipped_results.py checks results/standard's).
  assert catalog.ATTACKS["boundary"].version is None
  assert "attack_version" not in plan.budget_description(ref, "boundary", profiles.STANDARD)
  entry = catalog.ATTACKS["hop_skip_jump_l2"]
  assert entry.version == 1
  first, description = plan.budget_entry(ref, "hop_skip_jump_l2", profiles.STANDARD)
  assert description["attack_version"] == 1
  # A new version of the attack's code voids its rows: another fingerprint, same budget.
  monkeypatch.setitem(catalog.ATTACKS, "hop_skip_jump_l2",
                      dataclasses.replace(entry, version=2))
  second, changed = plan.budget_entry(ref, "hop_skip_jump_l2", profiles.STANDARD)
  assert second != first and changed["budget"] == description["budget"]
  # The gradient variants carry their family's version (here: none).
  assert catalog.ATTACKS["fgsm_envelope"].version is catalog.ATTACKS["fgsm"].version is None
  for bad in (0, "1", 1.0, True):
    with pytest.raises(ValueError, match="version must be an integer >= 1"):
      dataclasses.replace(entry, version=bad)


def test_default_models_are_the_columns_results_standard_holds():
  # The paper's six, then the authors' released models; the substitute is a tool of the
  # transfer attacks, not a column.
  assert plan.default_models() == registry.paper_models() + (
      "cnn_authors", "binary_abs_authors", "abs_authors")
  assert "substitute_cnn" not in plan.default_models()
  assert not registry.MODELS["substitute_cnn"].in_default_plan
  from abs_tf.evaluation import driver
  assert driver.EvaluationConfig().models == plan.default_models()


def test_profile_budgets():
  assert profiles.PAPER.budget("boundary") == {}  # the attacks' defaults: Foolbox 1.3's
  ge = profiles.STANDARD.budget("bim_l2_ge")
  assert ge["fd_steps"] == [0.01, 0.5] and ge["iterations"] == 2  # own entry + GE settings
  assert profiles.STANDARD.budget("fgm_ge") == dict(profiles.STANDARD.budget("fgm"),
                                                    fd_steps=[0.01, 0.5])
  assert profiles.STANDARD.budget("bim_l2_envelope") == profiles.STANDARD.budget("bim_l2")
  assert "fd_steps" not in profiles.STANDARD.budget("fgsm")
  with pytest.raises(ValueError, match="Unknown profile"):
    profiles.get_profile("huge")
  description = {"attack": "fgsm", "budget": {"a": 1}}
  assert profiles.fingerprint(description) == profiles.fingerprint(dict(description))
  assert profiles.fingerprint(description) != profiles.fingerprint(
      {"attack": "fgsm", "budget": {"a": 2}})


def _budget_rows(model, attack, fingerprint, queries, distances=None):
  """Rows of (model, attack) with one budget fingerprint and the given queries per image."""
  distances = distances or [1.0] * len(queries)
  return [results.Row(model, attack, plan.metric_of(attack), i, i % 10, d, q, 0.1, "standard",
                      fingerprint, (0, len(queries)))
          for i, (d, q) in enumerate(zip(distances, queries))]


def _description(attack, budget, seed=0):
  return {"attack": attack, "budget": budget, "seed": seed, "model": "m",
          "model_fingerprint": "0", "profile": "standard"}


@pytest.fixture
def budgeted():
  """Rows and budgets.json: Boundary cut (two budgets), FGM at the paper's budget spelt out,
  Gaussian noise at {}, an envelope row (beyond the paper) at its defaults."""
  rows = (_budget_rows("cnn", "boundary", "b_cnn", [5002, 3000, 5002, 10]) +
          _budget_rows("abs", "boundary", "b_abs", [1002, 1002, 2, 1002]) +
          _budget_rows("cnn", "fgm", "fgm", [20, 30, 40, 50]) +
          _budget_rows("cnn", "gaussian_noise", "noise", [102] * 4) +
          _budget_rows("abs", "gaussian_noise", "noise_abs", [102] * 4) +
          _budget_rows("abs", "fgm_envelope", "env", [0, 0, 0, 0]))
  budgets = {
      "b_cnn": _description("boundary", {"steps": 1000, "max_queries": 5000}),
      "b_abs": _description("boundary", {"steps": 1000, "max_queries": 1000}),
      "fgm": _description("fgm", {"num_epsilons": 1000, "bisection_steps": 10}),
      "noise": _description("gaussian_noise", {}),
      "noise_abs": _description("gaussian_noise", {}),
      "env": _description("fgm_envelope", {}),
  }
  return rows, budgets


def test_budgets_say_what_differs_from_the_paper_and_every_row_beyond(budgeted):
  rows, budgets = budgeted
  text = table.to_markdown(table.build(rows, budgets=budgets))
  listed = text.split(table.LEGEND, 1)[1]
  assert table.BUDGETS_HEADING in listed
  lines = [line for line in listed.splitlines() if line.startswith("- ")]
  assert lines == [
      # Median and max of each group's rows' queries (2, 10: e.g. misclassified images).
      "- Boundary Attack: max_queries 5000, steps 1000 on CNN (queries per image: median "
      "4,001, max 5,002); max_queries 1000, steps 1000 on ABS (queries per image: median "
      "1,002, max 1,002). `paper` profile: max_queries none, steps 5000.",
      # Beyond the paper: said even at the paper profile's budget; no queries recorded.
      "- FGM w/ envelope †: the `paper` profile's budget on ABS.",
  ]
  # FGM spells out Foolbox 1.3's defaults and Gaussian noise has none: neither is listed.
  assert "FGM:" not in listed and "Gaussian" not in listed and "bisection" not in listed


def test_budget_lines_of_one_attack_in_several_metrics_name_the_metric():
  rows = (_budget_rows("cnn", "fmn_l2", "fmn2", [1002] * 4)
          + _budget_rows("cnn", "fmn_l0", "fmn0", [502] * 4))
  budgets = {"fmn2": _description("fmn_l2", {"steps": 1000}),
             "fmn0": _description("fmn_l0", {"steps": 500})}
  lines = table.budgets_markdown(table.build(rows, budgets=budgets)).splitlines()
  titled = sorted(line.split(":")[0] for line in lines if line.startswith("- "))
  assert titled == ["- FMN † (L0)", "- FMN † (L2)"]


def test_budgets_come_from_the_stored_descriptions_not_a_profile(budgeted):
  rows, budgets = budgeted
  # A budget no profile has, another seed, a fingerprint budgets.json lacks.
  budgets = dict(budgets, noise=_description("gaussian_noise", {"epsilons": 7}, seed=3))
  del budgets["noise_abs"]
  built = table.build(rows, budgets=budgets)
  text = table.budgets_markdown(built)
  assert ("- Gaussian Noise: epsilons 7, seed 3 on CNN (queries per image: median 102, max "
          "102); budget not recorded in budgets.json (fingerprint noise_abs) on ABS "
          "(queries per image: median 102, max 102). `paper` profile: epsilons 1000, "
          "seed 0.") in text
  assert built.budgets[("gaussian_noise", "cnn")].changed == (("epsilons", 7), ("seed", 3))
  assert not built.budgets[("gaussian_noise", "abs")].recorded


def test_budgets_in_the_csv(budgeted):
  rows, budgets = budgeted
  parsed = {(r["row"], r["model"]): r for r in csv.DictReader(io.StringIO(
      table.to_csv(table.build(rows, budgets=budgets))))}
  boundary = parsed[("boundary", "cnn")]
  assert json.loads(boundary["budget"]) == {"max_queries": 5000, "steps": 1000}
  assert json.loads(boundary["paper_budget"]) == {"max_queries": None, "steps": 5000}
  assert float(boundary["queries_median"]) == 4001 and int(boundary["queries_max"]) == 5002
  assert json.loads(parsed[("fgm", "cnn")]["budget"]) == {}  # the paper's, spelt out
  assert parsed[("fgm_envelope", "abs")]["queries_max"] == ""  # no row records queries
  for key in (("clean", "cnn"), ("all_l2", "cnn")):
    assert [parsed[key][f] for f in ("budget", "paper_budget", "queries_median")] == [""] * 3


def test_budgets_at_the_papers_everywhere_are_said_once_and_absent_without_budgets(budgeted):
  rows, budgets = budgeted
  paper_only = [r for r in rows if r.attack in ("fgm", "gaussian_noise")]
  built = table.build(paper_only, budgets=budgets)
  assert table.to_markdown(built).endswith(
      table.LEGEND + "\nBudgets: every row ran with the `paper` profile's budgets.\n")
  assert table.to_markdown(table.build(rows)).endswith("\n\n" + table.LEGEND)


def test_budgets_refuse_a_cell_of_two_fingerprints(budgeted):
  rows, budgets = budgeted
  mixed = rows + [dataclasses.replace(rows[0], test_index=9, fingerprint="b_abs")]
  with pytest.raises(ValueError, match="cnn / boundary: rows of several budget fingerprints"):
    table.build(mixed, budgets=budgets)


def test_the_paper_profile_differs_from_itself_nowhere_and_standard_where_it_cuts():
  for name in attacks.ATTACKS:
    for is_abs in (False, True):
      paper = {"attack": name, "budget": profiles.PAPER.budget(name, is_abs), "seed": 0}
      assert budget_notes.differences(paper, is_abs) == ((), ()), name
  standard = {"attack": "boundary", "budget": profiles.STANDARD.budget("boundary", True),
              "seed": 0}
  assert budget_notes.differences(standard, True) == (
      (("max_queries", 1000), ("steps", 1000)), (("max_queries", None), ("steps", 5000)))
  with pytest.raises(ValueError, match="with 'budget'"):
    budget_notes.differences({"attack": "boundary", "seed": 0}, False)


def test_attack_defaults_follow_the_class_and_its_composition():
  mim = attacks.ATTACKS["mim"].defaults()
  assert mim["relative_step"] == 0.2            # MIM's own
  assert mim["iterations"] == 10 and mim["bisection_steps"] == 20  # its base's
  assert attacks.ATTACKS["fgm_ge"].defaults()["gradient"] == "finite_differences"
  assert attacks.ATTACKS["boundary"].defaults()["steps"] == 5000  # Foolbox 1.3's


def test_budgets_give_the_papers_values_per_model_where_they_differ(budgeted, monkeypatch):
  """A reference profile that budgets ABS models apart: its values go with each group."""
  rows, budgets = budgeted
  monkeypatch.setattr(budget_notes, "REFERENCE", dataclasses.replace(
      profiles.PAPER, abs_overrides=profiles.Overrides(budgets={"boundary": {"steps": 2000}})))
  lines = table.budgets_markdown(table.build(rows, budgets=budgets)).splitlines()
  assert ("- Boundary Attack: max_queries 5000, steps 1000 on CNN (queries per image: median "
          "4,001, max 5,002) (`paper` profile: max_queries none, steps 5000); max_queries "
          "1000, steps 1000 on ABS (queries per image: median 1,002, max 1,002) (`paper` "
          "profile: max_queries none, steps 2000).") in lines
