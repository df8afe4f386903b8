"""The Pointwise Attack on the authors' CNN: smaller than its salt-and-pepper start, locally
minimal in L0, deterministic, bisections shrinking L2 only."""

import numpy as np
import pytest

from abs_tf.attacks import ATTACKS
from abs_tf.attacks import noise
from abs_tf.attacks import pointwise


@pytest.fixture(scope="module")
def batch(test_split):
  return test_split.images[10:13], test_split.labels[10:13]


@pytest.fixture(scope="module")
def result(reference_cnn, batch):
  images, labels = batch
  return pointwise.PointwiseAttack(repetitions=2, init_repetitions=2, seed=5)(reference_cnn, images,
                                                                             labels)


def test_registered():
  assert ATTACKS["pointwise"].factory is pointwise.PointwiseAttack


def test_verified_and_smaller_than_its_start(reference_cnn, batch, result):
  images, labels = batch
  # The first repetition starts from the same noise as this, and the best is kept.
  start = noise.SaltAndPepperNoiseAttack(repetitions=2, seed=5)(reference_cnn, images, labels)
  assert result.success.all()
  assert np.all(reference_cnn(result.adversarials).numpy().argmax(axis=1) != labels)
  changed = np.count_nonzero((result.adversarials != images).reshape(3, -1), axis=1)
  np.testing.assert_array_equal(result.distances, changed)
  assert np.all(result.distances < start.distances)


def test_no_pixel_can_be_reset(reference_cnn, batch, result):
  """Local minimality: resetting any one perturbed pixel makes the image non-adversarial."""
  images, labels = batch
  for adversarial, image, label in zip(result.adversarials, images, labels):
    pixels = np.flatnonzero(adversarial.ravel() != image.ravel())
    trials = np.repeat(adversarial.reshape(1, -1), len(pixels), axis=0)
    trials[np.arange(len(pixels)), pixels] = image.ravel()[pixels]
    predictions = reference_cnn(trials.reshape(-1, 28, 28, 1)).numpy().argmax(axis=1)
    assert np.all(predictions == label)


def test_deterministic_and_independent_of_pixels_per_call(reference_cnn, batch, result):
  images, labels = batch
  again = pointwise.PointwiseAttack(repetitions=2, init_repetitions=2, seed=5,
                                    pixels_per_call=4)(reference_cnn, images, labels)
  np.testing.assert_array_equal(result.adversarials, again.adversarials)


def test_bisections_shrink_l2_and_keep_l0(reference_cnn, batch, result):
  images, labels = batch
  resets_only = pointwise.PointwiseAttack(repetitions=2, init_repetitions=2, seed=5,
                                          bisection_steps=0)(reference_cnn, images, labels)
  np.testing.assert_array_equal(resets_only.distances, result.distances)
  l2 = lambda a: np.sqrt(((a - images.astype(np.float64))**2).sum(axis=(1, 2, 3)))
  assert np.all(l2(result.adversarials) <= l2(resets_only.adversarials))
  assert np.any(l2(result.adversarials) < l2(resets_only.adversarials) - 1e-3)


def test_repetitions_only_help(reference_cnn, batch, result):
  images, labels = batch
  once = pointwise.PointwiseAttack(repetitions=1, init_repetitions=2, seed=5,
                                   bisection_steps=0)(reference_cnn, images, labels)
  assert np.all(result.distances <= once.distances)


def test_query_budget_limits_repetitions(reference_cnn, batch):
  images, labels = batch
  settings = dict(init_repetitions=2, bisection_steps=0, seed=5)
  once = pointwise.PointwiseAttack(repetitions=1, **settings)(reference_cnn, images, labels)
  budget = int(2.5 * once.queries.max())
  budgeted = pointwise.PointwiseAttack(repetitions=50, max_queries=budget, **settings)(
      reference_cnn, images, labels)
  # More than one repetition fits, 50 do not; the base's two checks come on top.
  assert np.all(budgeted.queries > once.queries)
  np.testing.assert_array_equal(budgeted.queries, budget + 2)
  assert budgeted.success.all() and np.all(budgeted.distances <= once.distances)
