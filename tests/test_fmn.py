"""Fast Minimum-Norm attacks: the closed-form minima of a linear model, the base's invariants
on the authors' CNN, the gradient source as a seam, and Foolbox 3.3.4's FMN with the same
steps (scripts/compare_foolbox.py runs it on more images)."""

import numpy as np
import pytest

from abs_tf.attacks import ATTACKS
from abs_tf.attacks import base
from abs_tf.attacks import catalog
from abs_tf.attacks import fmn
from abs_tf.attacks import gradients
from abs_tf.attacks import starts
from abs_tf.tools import foolbox_fmn

CLASSES = {base.L0: fmn.FMNL0, base.L2: fmn.FMNL2, base.LINF: fmn.FMNLinf}


@pytest.fixture(scope="module")
def batch(test_split):
  return test_split.images[:5], test_split.labels[:5]


def test_registered():
  entries = {name: ATTACKS[name] for name in ("fmn_l0", "fmn_l2", "fmn_linf")}
  assert {name: entry.factory for name, entry in entries.items()} == {
      "fmn_l0": fmn.FMNL0, "fmn_l2": fmn.FMNL2, "fmn_linf": fmn.FMNLinf}
  for entry in entries.values():
    assert entry.requires == catalog.MODEL_GRADIENTS and entry.kind == catalog.GRADIENT
    assert not entry.paper_row and entry.in_default_plan


@pytest.mark.parametrize("metric", [base.L0, base.L2, base.LINF])
def test_reaches_the_minimum_of_a_linear_model(linear_problem, metric):
  p = linear_problem
  result = CLASSES[metric](steps=100)(p["model"], p["images"], p["labels"])
  assert result.success.all()
  assert np.all(result.distances >= p[metric] * (1 - 1e-4))  # nothing beats the minimum
  # Measured: L2 and L0 exact to 1e-5, L-inf to 7e-4.
  assert np.all(result.distances <= p[metric] * 1.01), result.distances / p[metric]


@pytest.mark.parametrize("metric", [base.L0, base.L2, base.LINF])
def test_verified_counted_and_deterministic(reference_cnn, batch, metric):
  images, labels = batch
  result = CLASSES[metric](steps=100)(reference_cnn, images, labels)
  again = CLASSES[metric](steps=100)(reference_cnn, images, labels)
  assert result.success.all()
  assert np.all(reference_cnn(result.adversarials).numpy().argmax(axis=1) != labels)
  assert result.adversarials.min() >= 0 and result.adversarials.max() <= 1
  np.testing.assert_allclose(result.distances,
                             base.distance(images, result.adversarials, metric))
  np.testing.assert_array_equal(result.queries, 100 + 2)  # a query per step, the base's two
  np.testing.assert_array_equal(result.adversarials, again.adversarials)


class _Recording(gradients.Autodiff):
  """Autodiff that records that it was asked for the attack's differentiable logits."""

  def __init__(self):
    self.calls = 0

  def differentiable_logits(self, logits_fn, counter):
    self.calls += 1
    return super().differentiable_logits(logits_fn, counter)


def test_gradient_source_is_the_attacks_seam(linear_problem):
  p = linear_problem
  source = _Recording()
  exact = fmn.FMNL2(steps=20, gradient=source)(p["model"], p["images"], p["labels"])
  assert source.calls == 1
  # Finite differences on a linear model are exact up to float32 rounding, and cost
  # 1 + 2 * 784 forward passes per step.
  estimated = fmn.FMNL2(steps=20, gradient=gradients.FiniteDifferences(0.01))(
      p["model"], p["images"], p["labels"])
  np.testing.assert_allclose(estimated.distances, exact.distances, rtol=1e-3)
  np.testing.assert_array_equal(estimated.queries, 20 * (1 + 2 * 784) + 2)
  with pytest.raises(TypeError, match="GradientSource"):
    fmn.FMNL2(gradient="autodiff")


def test_rejects_bad_settings():
  with pytest.raises(ValueError, match="steps"):
    fmn.FMNL2(steps=0)
  with pytest.raises(ValueError, match="stepsize"):
    fmn.FMNLinf(max_stepsize=0.1, min_stepsize=1.0)
  with pytest.raises(ValueError, match="gamma"):
    fmn.FMNL0(gamma=1.5)
  with pytest.raises(ValueError, match="start must be one of"):
    fmn.FMNL2(start="zero")
  with pytest.raises(ValueError, match="init_draws must be an integer >= 1"):
    fmn.FMNL2(start=fmn.BLENDED_NOISE, init_draws=0)


@pytest.mark.parametrize("metric", [base.L0, base.L2, base.LINF])
def test_no_worse_than_foolbox_with_the_same_steps(reference_cnn, batch, metric):
  comparison = foolbox_fmn.compare_fmn(reference_cnn, *batch, metric, steps=100)
  ours, theirs = comparison.medians()
  assert comparison.ours.success.all()
  np.testing.assert_array_equal(comparison.ours.queries, comparison.theirs.queries)
  assert ours <= 1.05 * theirs, (ours, theirs)


NOISE = {base.L0: "fmn_l0_noise", base.L2: "fmn_l2_noise", base.LINF: "fmn_linf_noise"}


def test_noise_start_rows_beside_fmn():
  for metric, name in NOISE.items():
    entry, plain = ATTACKS[name], ATTACKS[CLASSES[metric].name]
    assert entry.factory.func is CLASSES[metric]
    assert entry.factory.keywords == {"start": fmn.BLENDED_NOISE}
    assert (entry.metric, entry.budget_name, entry.place) == (metric, plain.name,
                                                              plain.place + 1)
    assert entry.title == "FMN from noise" and entry.requires == catalog.MODEL_GRADIENTS
    assert not entry.paper_row and entry.in_default_plan and entry.version == 1
    assert isinstance(entry(steps=3, seed=1), CLASSES[metric])


# From a start with every pixel changed, L0 ends further from the minimum (measured: 12, 11,
# 15, 11 pixels against 11, 9, 10, 11) than from the original: that row adds to FMN's, it
# does not replace it.
@pytest.mark.parametrize("metric, slack", [(base.L0, 1.5), (base.L2, 1.05), (base.LINF, 1.05)])
def test_noise_start_reaches_the_minimum_of_a_linear_model(linear_problem, metric, slack):
  p = linear_problem
  result = ATTACKS[NOISE[metric]](steps=200)(p["model"], p["images"], p["labels"])
  assert result.success.all()
  assert np.all(result.distances >= p[metric] * (1 - 1e-4))
  assert np.all(result.distances <= p[metric] * slack), result.distances / p[metric]


def test_blended_noise_starts_are_adversarial_and_counted(reference_cnn, test_split):
  # The authors' CNN calls uniform noise 8: an 8 starts from the closest other digit.
  eights = np.flatnonzero(test_split.labels == 8)[:2]
  images = np.concatenate([test_split.images[:3], test_split.images[eights]])
  labels = np.concatenate([test_split.labels[:3], test_split.labels[eights]])
  model = base.CountingModel(reference_cnn, len(images))
  points, found = starts.blended_noise(model, images, labels, np.random.default_rng(0),
                                       draws=10, search_steps=12)
  assert found.all() and points.dtype == np.float32 and points.shape == images.shape
  assert model.is_adversarial(points, labels).all()
  noise_distance = base.distance(images, np.full_like(images, 0.5), base.L2)
  assert np.all(base.distance(images, points, base.L2) < noise_distance)
  # The two eights: 10 noise draws and the neighbour; each search 12 halvings.
  assert np.all(model.queries[:3] <= 10 + 12) and np.all(model.queries[3:] == 10 + 1 + 12 + 1)
  with pytest.raises(ValueError, match="draws >= 1"):
    starts.blended_noise(model, images, labels, np.random.default_rng(0), draws=0)


def test_noise_start_verified_counted_seeded(reference_cnn, batch):
  images, labels = batch
  attack = ATTACKS["fmn_l2_noise"]
  result = attack(steps=50, seed=0)(reference_cnn, images, labels)
  again = attack(steps=50, seed=0)(reference_cnn, images, labels)
  assert result.success.all()
  np.testing.assert_array_equal(result.adversarials, again.adversarials)
  np.testing.assert_allclose(result.distances,
                             base.distance(images, result.adversarials, base.L2))
  # Steps, the base's two queries, and the start's: a draw or more and 20 halvings.
  assert np.all(result.queries >= 50 + 2 + 1 + 20)
  assert np.all(result.queries <= 50 + 2 + 100 + 1 + 20)


@pytest.mark.parametrize("metric", [base.L0, base.L2, base.LINF])
def test_noise_start_no_worse_than_foolbox_from_the_same_starts(reference_cnn, batch, metric):
  comparison = foolbox_fmn.compare_fmn(reference_cnn, *batch, metric, steps=100,
                                       start=fmn.BLENDED_NOISE)
  ours, theirs = comparison.medians()
  assert comparison.ours.success.all() and comparison.theirs.success.all()
  assert ours <= 1.05 * theirs, (ours, theirs)
  if metric == base.L2:  # Foolbox's L2 projection never projects: it stays far out
    assert ours < 0.5 * theirs, (ours, theirs)


def test_compare_foolbox_runs_every_fmn_row():
  from scripts import compare_foolbox  # pylint: disable=import-outside-toplevel
  fmn_rows = [name for name in compare_foolbox.QUERY_COMPARISONS if name.startswith("fmn")]
  assert fmn_rows == ["fmn_l2", "fmn_l2_noise", "fmn_linf", "fmn_linf_noise", "fmn_l0",
                      "fmn_l0_noise"]
