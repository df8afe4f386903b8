"""HopSkipJumpAttack: the closed-form minimum of a linear model, the base's invariants on the
authors' CNN (verified, in [0, 1], within budget, deterministic), and Foolbox 3.3.4's
HopSkipJumpAttack at the same budget (scripts/compare_foolbox.py runs it on more images)."""

import numpy as np
import pytest

from abs_tf.attacks import ATTACKS
from abs_tf.attacks import base
from abs_tf.attacks import catalog
from abs_tf.attacks import hop_skip_jump
from abs_tf.tools import foolbox_decision


@pytest.fixture(scope="module")
def batch(test_split):
  return test_split.images[:5], test_split.labels[:5]


def test_registered():
  assert ATTACKS["hop_skip_jump_l2"].factory is hop_skip_jump.HopSkipJumpL2
  assert ATTACKS["hop_skip_jump_linf"].factory is hop_skip_jump.HopSkipJumpLinf
  for name in ("hop_skip_jump_l2", "hop_skip_jump_linf"):
    assert ATTACKS[name].kind == catalog.DECISION and ATTACKS[name].requires == catalog.OUTPUTS
    assert not ATTACKS[name].paper_row and ATTACKS[name].in_default_plan


# From uniform noise (all labels are 0: no neighbours of another label), 10,000 queries reach
# 1.07-1.08 times the minimal L2 and 1.22-1.24 times the minimal L-inf (3,000: 1.21-1.25 and
# 1.55-1.58): HopSkipJump converges slowly in 784 dimensions, L-inf slowest.
@pytest.mark.parametrize("cls, metric, tolerance", [
    (hop_skip_jump.HopSkipJumpL2, base.L2, 0.10),
    (hop_skip_jump.HopSkipJumpLinf, base.LINF, 0.30)])
def test_approaches_the_minimum_of_a_linear_model(linear_problem, cls, metric, tolerance):
  p = linear_problem
  result = cls(max_queries=10_000)(p["model"], p["images"], p["labels"])
  assert result.success.all()
  assert np.all(result.distances >= p[metric] * (1 - 1e-4))  # nothing beats the minimum
  assert np.all(result.distances <= p[metric] * (1 + tolerance)), result.distances / p[metric]


@pytest.mark.parametrize("cls", [hop_skip_jump.HopSkipJumpL2, hop_skip_jump.HopSkipJumpLinf])
def test_verified_within_budget_and_deterministic(reference_cnn, batch, cls):
  images, labels = batch
  result = cls(max_queries=400, seed=3)(reference_cnn, images, labels)
  again = cls(max_queries=400, seed=3)(reference_cnn, images, labels)
  assert result.success.all()
  assert np.all(reference_cnn(result.adversarials).numpy().argmax(axis=1) != labels)
  assert result.adversarials.min() >= 0 and result.adversarials.max() <= 1
  np.testing.assert_allclose(result.distances,
                             base.distance(images, result.adversarials, cls.metric))
  assert np.all(result.queries <= 400 + 2)  # the base's two checks come on top
  np.testing.assert_array_equal(result.adversarials, again.adversarials)
  # More queries get closer.
  longer = cls(max_queries=1500, seed=3)(reference_cnn, images, labels)
  assert np.median(longer.distances) < np.median(result.distances)


def test_a_sample_does_not_depend_on_the_rest_of_its_batch(reference_cnn, batch):
  images, labels = batch
  whole = hop_skip_jump.HopSkipJumpL2(max_queries=300)(reference_cnn, images, labels)
  # A copy of the first image appended: for the others it is a neighbour no closer than the
  # first image (the first start found is the same), and every sample draws its probes from
  # its own generator, so the first five walks must not change.
  more = hop_skip_jump.HopSkipJumpL2(max_queries=300)(
      reference_cnn, np.concatenate([images, images[:1]]), np.append(labels, labels[0]))
  np.testing.assert_array_equal(whole.adversarials, more.adversarials[:5])


def test_rejects_bad_settings():
  with pytest.raises(ValueError, match="an end"):
    hop_skip_jump.HopSkipJumpL2(max_queries=None)
  with pytest.raises(ValueError, match="initial_probes"):
    hop_skip_jump.HopSkipJumpL2(initial_probes=0)
  with pytest.raises(ValueError, match="gamma"):
    hop_skip_jump.HopSkipJumpLinf(gamma=0.0)


@pytest.mark.parametrize("metric, steps", [(base.L2, 4), (base.LINF, 4)])
def test_no_worse_than_foolbox_with_the_same_queries(reference_cnn, batch, metric, steps):
  comparison = foolbox_decision.compare_hop_skip_jump(reference_cnn, *batch, metric, steps)
  ours, theirs = comparison.medians()
  assert comparison.ours.success.all() and comparison.theirs.success.all()
  assert np.all(comparison.ours.queries <= comparison.theirs.queries)
  assert ours <= 1.05 * theirs, (ours, theirs)
