"""The Madry et al. network: shapes, parameter count, rebuild from its configuration."""

import numpy as np
import pytest
import tensorflow as tf

from abs_tf.models import madry


def test_architecture_has_madry_et_al_parameter_count():
  model = madry.Madry()
  logits = model(np.zeros((3, 28, 28, 1), np.float32))
  assert logits.shape == (3, 10)
  # conv 5x5x1x32 + conv 5x5x32x64 + dense 3136x1024 + dense 1024x10, with biases.
  expected = (25 * 32 + 32) + (25 * 32 * 64 + 64) + (7 * 7 * 64 * 1024 + 1024) + (1024 * 10 + 10)
  assert sum(int(np.prod(v.shape)) for v in model.export_variables()) == expected


def test_from_config_rebuilds_same_function():
  model = madry.Madry(madry.MadryConfig(filters=(4, 8), hidden_units=16))
  copy = madry.Madry.from_config(model.config_dict())
  for target, value in zip(copy.export_variables(), model.export_variables()):
    target.assign(value)
  x = tf.random.stateless_uniform([2, 28, 28, 1], [1, 2])
  np.testing.assert_allclose(copy(x.numpy()), model(x.numpy()), rtol=1e-6)


def test_bad_config_refused():
  with pytest.raises(ValueError, match="two positive ints"):
    madry.MadryConfig(filters=(32,))
