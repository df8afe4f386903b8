"""The shared bisection: thresholds found to 2^-steps, the adversarial end stays adversarial."""

import numpy as np
import pytest
import tensorflow as tf

from abs_tf.attacks import base
from abs_tf.attacks import bisection
from abs_tf.models import classifier


class BrightnessClassifier(classifier.Classifier):
  """Class 0 while the mean brightness is below 0.25, class 1 above."""

  def logits_graph(self, images):
    mean = tf.reduce_mean(images, axis=[1, 2, 3])
    return tf.stack([0.25 - mean, mean - 0.25] + [tf.fill(tf.shape(mean), -1.0)] * 8, axis=1)


def test_bisect_finds_each_rows_threshold():
  thresholds = np.array([0.1, 0.5, 0.77, 0.999])
  calls = []

  def is_adversarial(t):
    calls.append(len(t))
    return t >= thresholds

  low, high = bisection.bisect(is_adversarial, np.zeros(4), np.ones(4), steps=12)
  assert calls == [4] * 12  # one call per step for all rows
  assert np.all(high >= thresholds) and np.all(low < thresholds)
  np.testing.assert_array_less(high - low, 2.0**-12 + 1e-15)


def test_bisect_keeps_only_confirmed_adversarial_ends():
  # A model that never says "adversarial" leaves the adversarial end where it was.
  low, high = bisection.bisect(lambda t: np.zeros(len(t), bool), np.zeros(3), np.ones(3), 5)
  np.testing.assert_array_equal(high, 1.0)
  np.testing.assert_allclose(low, 1.0 - 2.0**-5)
  with pytest.raises(ValueError):
    bisection.bisect(lambda t: t > 0, np.zeros(2), np.ones(3), 1)


def test_blend_search_moves_adversarials_to_the_boundary():
  model = base.CountingModel(BrightnessClassifier(), batch_size=2)
  originals = np.zeros((2, 28, 28, 1), np.float32)
  adversarials = np.full((2, 28, 28, 1), 0.8, np.float32)
  found = bisection.blend_search(model, originals, adversarials, np.array([0, 0]), steps=16,
                                 sample_indices=np.array([0, 1]))
  mean = found.mean(axis=(1, 2, 3))
  assert np.all(mean >= 0.25) and np.all(mean < 0.25 + 1e-4)
  np.testing.assert_array_equal(model.queries, [16, 16])
