"""The Foolbox 1.3 port of FGSM and FGM (abs_tf/tools/foolbox13_gradient.py) against `fgsm` and
`fgm` on the authors' CNN: the same direction, Foolbox 1.3's grid instead of bisection."""

import numpy as np
import pytest

from abs_tf.attacks import gradient_attacks
from abs_tf.tools import foolbox13_gradient


@pytest.fixture(scope="module")
def batch(test_split):
  return test_split.images[:8], test_split.labels[:8]


def test_fgsm_port_is_ours_rounded_up_to_its_grid(reference_cnn, batch):
  images, labels = batch
  ours = gradient_attacks.FGSM()(reference_cnn, images, labels)
  port = foolbox13_gradient.Foolbox13FGSM()(reference_cnn, images, labels)
  assert port.success.all() and ours.success.all()
  # Foolbox 1.3 stops at the first adversarial of a grid 1/1000 apart; ours bisects below it.
  assert np.all(port.distances >= ours.distances - 1e-6)
  assert np.all(port.distances <= ours.distances + 1e-3 + 1e-6)
  on_grid = port.distances * 1000
  np.testing.assert_allclose(on_grid, np.round(on_grid), atol=1e-3)
  # One gradient, one check per epsilon up to the first adversarial, the base's two checks.
  np.testing.assert_array_equal(port.queries, 1 + np.round(on_grid) + 2)


def test_fgm_port_matches_ours_to_its_grid(reference_cnn, batch):
  images, labels = batch
  ours = gradient_attacks.FGM()(reference_cnn, images, labels)
  port = foolbox13_gradient.Foolbox13FGM()(reference_cnn, images, labels)
  found = np.isfinite(port.distances)
  assert found.sum() >= 6
  np.testing.assert_array_equal(np.isfinite(ours.distances[found]), True)
  # Grid step: an RMS epsilon of 1/1000 is an L2 step of 28/1000 (less after clipping).
  assert np.all(port.distances[found] >= ours.distances[found] - 1e-4)
  assert np.all(port.distances[found] <= ours.distances[found] + 0.028 + 1e-4)


def test_a_success_among_the_first_20_epsilons_is_refined_20_fold(reference_cnn, batch):
  images, labels = batch
  ours = gradient_attacks.FGSM()(reference_cnn, images, labels)
  # 10 epsilons 0.1 apart: every sample here succeeds at 0.1 or 0.2 (index < 20), so the
  # scan repeats with 20 epsilons up to it: a grid 0.005 or 0.01 apart.
  port = foolbox13_gradient.Foolbox13FGSM(epsilons=10)(reference_cnn, images, labels)
  coarse = np.ceil(ours.distances * 10 - 1e-6) / 10
  assert np.all(port.distances <= coarse + 1e-6)
  assert np.all(port.distances >= ours.distances - 1e-6)
  assert np.all(port.distances <= ours.distances + coarse / 20 + 1e-6)
  assert np.any(port.distances < coarse - 1e-6)


def test_invalid_settings_are_refused():
  with pytest.raises(ValueError, match="epsilons >= 1"):
    foolbox13_gradient.Foolbox13FGSM(epsilons=0)
  with pytest.raises(ValueError, match="max_epsilon > 0"):
    foolbox13_gradient.Foolbox13FGM(max_epsilon=0.0)


def test_port_comparison_counts_agreement_to_the_grid_and_block_medians():
  from scripts import compare_foolbox  # pylint: disable=import-outside-toplevel
  comparison = compare_foolbox.PortComparison(
      "fgsm", ours=np.array([0.1, 0.2, np.inf, 0.3]),
      port=np.array([0.1005, 0.25, np.inf, np.inf]), grid=1e-3, paper=0.10)
  np.testing.assert_array_equal(comparison.agreeing(), [True, False, True, False])
  ours, port = comparison.block_medians(2)
  np.testing.assert_allclose(ours, [0.15, np.inf])
  np.testing.assert_allclose(port, [0.17525, np.inf])
