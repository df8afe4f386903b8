"""scripts/encoder_balance.py on the authors' VAEs: the Jacobian norms it uses match finite
differences, and their encoders sit below 1 (trained as if with a decoder variance < 1/2)."""

import importlib.util
import pathlib

import numpy as np
import pytest
import tensorflow as tf

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "encoder_balance.py"


@pytest.fixture(scope="module")
def script():
  spec = importlib.util.spec_from_file_location("encoder_balance", SCRIPT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.fixture(scope="module")
def reference(script, reference_dir):
  return script.reference_vaes(str(reference_dir / "abs_official_weights.npz"))


def test_balance_matches_finite_differences(script, reference, test_split):
  vae = reference[5]
  images = test_split.images[test_split.labels == 5][:4]
  got = script.balance(vae, images)
  posterior = vae.encoder(images, training=False)
  mean, variance = posterior.mean().numpy(), posterior.variance().numpy()
  step = 1e-3
  for i in (0, 3):
    shift = np.zeros_like(mean)
    shift[:, i] = step
    difference = (vae.decoder.mean(mean + shift) - vae.decoder.mean(mean - shift)) / (2 * step)
    norms = tf.reduce_sum(tf.square(tf.reshape(difference, [4, -1])), axis=-1).numpy()
    np.testing.assert_allclose(got[:, i], variance[:, i] * (2 * norms + 1), rtol=2e-2)


def test_the_authors_encoders_weigh_the_squared_error_more(script, reference, test_split):
  for c in (0, 5):
    images = test_split.images[test_split.labels == c][:100]
    median = float(np.median(script.balance(reference[c], images)))
    assert 0.3 < median < 0.95, (c, median)
