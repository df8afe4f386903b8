"""The Boundary Attack on the authors' CNN: verified, better than its start, deterministic,
step sizes adapting to success rates, within its query budget."""

import numpy as np
import pytest

from abs_tf.attacks import ATTACKS
from abs_tf.attacks import boundary


@pytest.fixture(scope="module")
def batch(test_split):
  return test_split.images[:3], test_split.labels[:3]


def test_registered():
  assert ATTACKS["boundary"].factory is boundary.BoundaryAttack


def test_improves_on_its_start_and_is_verified(reference_cnn, batch):
  images, labels = batch
  # One iteration is (nearly) the blended-noise start; the same seed draws the same start.
  start = boundary.BoundaryAttack(steps=1, seed=1)(reference_cnn, images, labels)
  result = boundary.BoundaryAttack(steps=150, directions_per_call=5, seed=1)(reference_cnn, images,
                                                                             labels)
  assert result.success.all()
  assert np.all(reference_cnn(result.adversarials).numpy().argmax(axis=1) != labels)
  np.testing.assert_allclose(
      result.distances,
      np.sqrt(((result.adversarials - images.astype(np.float64))**2).sum(axis=(1, 2, 3))))
  assert np.all(result.distances < start.distances)
  assert np.median(result.distances / start.distances) < 0.9


def test_deterministic_and_independent_of_directions_per_call(reference_cnn, batch):
  images, labels = batch
  # Fewer steps than `stats_every`: no statistics, so the rounds cannot change the walk.
  settings = dict(steps=9, source_step=1e-3, seed=2)
  one_call = boundary.BoundaryAttack(**settings)(reference_cnn, images, labels)
  again = boundary.BoundaryAttack(**settings)(reference_cnn, images, labels)
  rounds = boundary.BoundaryAttack(directions_per_call=1, **settings)(reference_cnn, images, labels)
  np.testing.assert_array_equal(one_call.adversarials, again.adversarials)
  np.testing.assert_array_equal(one_call.adversarials, rounds.adversarials)
  # Trying directions one at a time stops at the first success: fewer queries.
  assert np.all(rounds.queries < one_call.queries)


def test_query_budget(reference_cnn, batch):
  images, labels = batch
  result = boundary.BoundaryAttack(steps=10_000, max_queries=300, directions_per_call=3)(
      reference_cnn, images, labels)
  assert result.success.all()
  assert np.all(result.queries <= 300 + 2)  # the base's two checks come on top


@pytest.mark.parametrize("outcome, spherical_factor, source_factor", [
    (True, 1.5, 1.5 * 1.5),      # boundary locally flat, steps succeed: both grow
    (False, 1 / 1.5, 1 / 1.5**2),  # both fail: both shrink
])
def test_step_sizes_adapt_to_success_rates(outcome, spherical_factor, source_factor):
  attack = boundary.BoundaryAttack(spherical_window=4, step_window=3)
  trials = [boundary._Trials(4, 3)]
  spherical_step, source_step = np.array([0.01]), np.array([0.01])
  for _ in range(3):
    trials[0].spherical.append(outcome)
    trials[0].step.append(outcome)
  attack._adapt(0, trials, spherical_step, source_step)
  assert spherical_step[0] == 0.01 and source_step[0] == pytest.approx(0.01 * source_factor /
                                                                        spherical_factor)
  trials[0].spherical.append(outcome)
  attack._adapt(0, trials, spherical_step, source_step)
  assert spherical_step[0] == pytest.approx(0.01 * spherical_factor)
  assert len(trials[0].spherical) == 0  # a window that changed a step starts anew


def test_rates_between_the_thresholds_keep_the_steps():
  attack = boundary.BoundaryAttack(spherical_window=10, step_window=10)
  trials = [boundary._Trials(10, 10)]
  for i in range(10):
    trials[0].spherical.append(i < 3)  # 0.3
    trials[0].step.append(i < 4)       # 0.4
  spherical_step, source_step = np.array([0.02]), np.array([0.03])
  attack._adapt(0, trials, spherical_step, source_step)
  assert (spherical_step[0], source_step[0]) == (0.02, 0.03)
  assert len(trials[0].spherical) == 10 and len(trials[0].step) == 10


def test_rejects_bad_settings():
  with pytest.raises(ValueError):
    boundary.BoundaryAttack(directions_per_call=26)
  with pytest.raises(ValueError):
    boundary.BoundaryAttack(step_adaptation=1.0)


def test_starts_where_uniform_noise_fails(reference_cnn, test_split):
  """The authors' CNN calls all uniform noise 8: an 8 starts from the batch's other image."""
  rows = np.concatenate([np.flatnonzero(test_split.labels == 8)[:1], [0]])
  images, labels = test_split.images[rows], test_split.labels[rows]
  assert labels[0] == 8 and labels[1] != 8
  result = boundary.BoundaryAttack(steps=1, init_draws=20)(reference_cnn, images, labels)
  assert result.success.all()
  assert reference_cnn(result.adversarials[:1]).numpy().argmax() != 8
  assert result.distances[0] < np.linalg.norm(images[1] - images[0])
