"""Gaussian and salt-and-pepper noise on the authors' CNN: verified, deterministic, refined."""

import numpy as np
import pytest

from abs_tf.attacks import ATTACKS
from abs_tf.attacks import noise


@pytest.fixture(scope="module")
def batch(test_split):
  return test_split.images[:4], test_split.labels[:4]


def _check_verified(model, result, images, labels, metric_distance):
  assert result.success.all()
  predictions = model(result.adversarials).numpy().argmax(axis=1)
  assert np.all(predictions != labels)
  np.testing.assert_allclose(result.distances, metric_distance(images, result.adversarials))


def test_registered():
  assert ATTACKS["gaussian_noise"].factory is noise.GaussianNoiseAttack
  assert ATTACKS["salt_and_pepper"].factory is noise.SaltAndPepperNoiseAttack


def test_gaussian_noise_is_verified_deterministic_and_refinable(reference_cnn, batch):
  images, labels = batch
  attack = noise.GaussianNoiseAttack(epsilons=200, seed=3)
  first = attack(reference_cnn, images, labels)
  l2 = lambda a, b: np.sqrt(((a.astype(np.float64) - b) ** 2).sum(axis=(1, 2, 3)))
  _check_verified(reference_cnn, first, images, labels, l2)
  again = noise.GaussianNoiseAttack(epsilons=200, seed=3)(reference_cnn, images, labels)
  np.testing.assert_array_equal(first.adversarials, again.adversarials)
  other = noise.GaussianNoiseAttack(epsilons=200, seed=4)(reference_cnn, images, labels)
  assert not np.array_equal(first.adversarials, other.adversarials)
  # Noise of a clearly visible strength: the paper's CNN median is 5.2.
  assert 1.0 < np.median(first.distances) < 12.0
  # The same draws, then a binary search towards the original: never farther.
  refined = noise.GaussianNoiseAttack(epsilons=200, seed=3, refine_steps=10)(reference_cnn, images,
                                                                             labels)
  _check_verified(reference_cnn, refined, images, labels, l2)
  assert np.all(refined.distances <= first.distances)
  assert np.all(refined.queries == first.queries + 10)


def test_salt_and_pepper_is_verified_and_smaller_with_repetitions(reference_cnn, batch):
  images, labels = batch
  l0 = lambda a, b: np.count_nonzero((a != b).reshape(len(a), -1), axis=1)
  once = noise.SaltAndPepperNoiseAttack(repetitions=1, seed=0)(reference_cnn, images, labels)
  _check_verified(reference_cnn, once, images, labels, l0)
  # Later repetitions only ever replace the best by a smaller adversarial.
  more = noise.SaltAndPepperNoiseAttack(repetitions=4, seed=0)(reference_cnn, images, labels)
  _check_verified(reference_cnn, more, images, labels, l0)
  assert np.all(more.distances <= once.distances)
  # Each sample asks at most epsilons * repetitions (+ the base's two checks).
  assert np.all(more.queries <= 4 * 100 + 2)


def test_rejects_bad_settings():
  with pytest.raises(ValueError):
    noise.GaussianNoiseAttack(epsilons=0)
  with pytest.raises(ValueError):
    noise.SaltAndPepperNoiseAttack(repetitions=1.5)


def test_salt_and_pepper_lower_fraction_saves_queries(reference_cnn, batch):
  images, labels = batch
  from_zero = noise.SaltAndPepperNoiseAttack(epsilons=20, repetitions=10, seed=1)(
      reference_cnn, images, labels)
  from_half = noise.SaltAndPepperNoiseAttack(epsilons=20, repetitions=10, lower_fraction=0.5,
                                             seed=1)(reference_cnn, images, labels)
  assert from_half.success.all()
  assert from_half.queries.sum() < from_zero.queries.sum()
  with pytest.raises(ValueError):
    noise.SaltAndPepperNoiseAttack(lower_fraction=1.0)


def test_query_budget(reference_cnn, batch):
  images, labels = batch
  result = noise.GaussianNoiseAttack(max_queries=30, epsilons_per_call=7, refine_steps=5)(
      reference_cnn, images, labels)
  assert np.all(result.queries <= 30 + 2)
