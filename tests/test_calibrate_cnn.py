"""A reduced issue-4 calibration (scripts/calibrate_cnn.py): every row of Table 1's CNN column
on 6 test images with small budgets, decision-based rows partly read from stored JSON lines."""

import json

import numpy as np
import pytest

from abs_tf.attacks import gradient_attacks
from scripts import calibrate_cnn

# Small budgets; the transfer attacks take two cheap substitute attacks.
SMALL = {
    "fgsm": dict(num_epsilons=100, bisection_steps=4),
    "fgm": dict(num_epsilons=100, bisection_steps=4),
    "bim_l2": dict(iterations=3, bisection_steps=4),
    "bim_linf": dict(iterations=3, bisection_steps=4),
    "mim": dict(iterations=3, bisection_steps=4),
    "gaussian_noise": dict(epsilons=50),
    "salt_and_pepper": dict(epsilons=20, repetitions=2),
}


def _transfer_settings():
  return dict(substitute_attacks=[
      gradient_attacks.FGSM(num_epsilons=50, max_epsilon=0.5, bisection_steps=4),
      gradient_attacks.BIML2(iterations=3, bisection_steps=4)], bisection_steps=4)


def test_one_table_in_table_1_order(reference_cnn, test_split, tmp_path):
  stored = {"attack": "boundary", "metric": "l2", "num_images": 100, "median": 1.3,
            "paper_median": 1.2, "ratio": 1.08, "within": True, "accuracy": 0.23,
            "paper_accuracy": 0.21, "failures": 2, "mean_queries": 75111.0, "seconds": 5448.0,
            "model_seconds": 4646.0, "settings": {"seed": 0}}
  older = dict(stored, median=2.0)
  paths = [tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "missing.jsonl"]
  paths[0].write_text(json.dumps(older) + "\n")
  paths[1].write_text(json.dumps(stored) + "\n")
  decision = calibrate_cnn.read_decision_rows([str(p) for p in paths], tolerance=0.1)
  assert set(decision) == {"boundary"} and decision["boundary"]["median"] == 1.3

  settings = dict(SMALL, transfer_l2=_transfer_settings(), transfer_linf=_transfer_settings())
  names = [n for n in calibrate_cnn.PAPER_CNN if n != "pointwise"]
  rows = calibrate_cnn.calibrate(reference_cnn, test_split.images[:6], test_split.labels[:6], names,
                                 settings, extra_substitute=reference_cnn, decision_rows=decision)
  assert [r["row"] for r in rows] == [
      "transfer_l2", "transfer_l2*", "gaussian_noise", "boundary", "fgm", "bim_l2",
      "transfer_linf", "transfer_linf*", "fgsm", "bim_linf", "mim", "salt_and_pepper"]
  by_row = {r["row"]: r for r in rows}
  assert by_row["boundary"]["source"].endswith("b.jsonl")
  assert by_row["transfer_l2*"]["within"] is None
  for r in rows:
    if r["source"] == "run":
      assert np.isfinite(r["median"]) and r["num_images"] == 6, r
      assert r["ratio"] == pytest.approx(r["median"] / r["paper"])
  # Transfer from the attacked CNN itself is no closer than the direct attacks it transfers
  # (here the L2 BIM among them), up to the line search's bisection.
  assert by_row["transfer_l2"]["median"] >= 0.9 * by_row["bim_l2"]["median"]
  table = calibrate_cnn.format_table(rows, 0.1)
  assert "transfer_linf*" in table and "of 10 rows within 10%" in table
  json.dumps(rows)  # numbers as numbers


def test_unknown_rows_are_refused(reference_cnn, test_split):
  with pytest.raises(ValueError, match="No paper value"):
    calibrate_cnn.calibrate(reference_cnn, test_split.images[:1], test_split.labels[:1],
                            ["deepfool"])
