"""Line search of Binary ABS's class scalars."""

import numpy as np
import pytest

from abs_tf.training import class_scales


def test_recovers_scales_that_undo_a_known_bias():
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 10, 3000)
  losses = rng.uniform(1.0, 1.2, (3000, 10))
  losses[np.arange(3000), labels] -= 0.1          # the true class explains best...
  bias = np.ones(10)
  bias[3] = 0.93                                  # ...but class 3 looks too likely
  biased = losses * bias[None, :]
  before = class_scales.accuracy(biased, labels, np.ones(10))
  scales = class_scales.fit_class_scales(biased, labels)
  after = class_scales.accuracy(biased, labels, scales)
  assert after > before + 0.05
  assert scales[0] == 1.0
  assert 1.0 / 0.93 - 0.03 < scales[3] / np.median(scales) < 1.0 / 0.93 + 0.03


def test_keeps_unit_scales_when_nothing_helps():
  labels = np.arange(10).repeat(10)
  losses = np.full((100, 10), 2.0)
  losses[np.arange(100), labels] = 1.0
  np.testing.assert_array_equal(class_scales.fit_class_scales(losses, labels), np.ones(10))


def test_rejects_bad_shapes():
  with pytest.raises(ValueError, match=r"\[N, 10\]"):
    class_scales.fit_class_scales(np.ones((5, 9)), np.zeros(5, int))
