"""A reduced calibration against the paper's CNN column: the noise attacks with the paper's
budgets on the first 20 test images (the full run, scripts/calibrate_cnn_decision.py, uses
100). With 20 images a median moves by about 6 % (Gaussian) and 13 % (salt and pepper) per
standard error, hence the 20 % tolerance here instead of 10 %."""

import numpy as np

from scripts import calibrate_cnn_decision


def test_noise_attacks_match_the_paper(reference_cnn, test_split):
  rows = calibrate_cnn_decision.calibrate(
      reference_cnn, test_split.images[:20], test_split.labels[:20],
      {"gaussian_noise": {}, "salt_and_pepper": {}}, tolerance=0.2)
  for row in rows:
    assert row["within"], row
    assert row["failures"] == 0 and row["num_images"] == 20
    assert 0.0 <= row["accuracy"] <= 1.0
  assert [row["attack"] for row in rows] == ["gaussian_noise", "salt_and_pepper"]


def test_rows_for_every_decision_attack(reference_cnn, test_split):
  settings = {"boundary": dict(steps=5), "pointwise": dict(init_repetitions=1)}
  rows = calibrate_cnn_decision.calibrate(reference_cnn, test_split.images[:2],
                                          test_split.labels[:2], settings)
  assert [row["metric"] for row in rows] == ["l2", "l0"]
  assert all(np.isfinite(row["median"]) and row["settings"] == settings[row["attack"]]
             for row in rows)
