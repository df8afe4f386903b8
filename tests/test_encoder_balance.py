"""abs_tf.training.encoder_balance on the authors' VAEs: the Jacobian norms it uses match finite
differences, and their encoders sit below 1 (trained as if with a decoder variance < 1/2)."""

import numpy as np
import pytest
import tensorflow as tf

from abs_tf.tools import import_reference_weights
from abs_tf.training import encoder_balance


@pytest.fixture(scope="module")
def reference(reference_dir):
  return import_reference_weights.reference_vaes(
      str(reference_dir / "abs_official_weights.npz"))


def test_balance_matches_finite_differences(reference, test_split):
  vae = reference[5]
  images = test_split.images[test_split.labels == 5][:4]
  got = encoder_balance.balance(vae, images)
  posterior = vae.encoder(images, training=False)
  mean, variance = posterior.mean().numpy(), posterior.variance().numpy()
  step = 1e-3
  for i in (0, 3):
    shift = np.zeros_like(mean)
    shift[:, i] = step
    difference = (vae.decoder.mean(mean + shift) - vae.decoder.mean(mean - shift)) / (2 * step)
    norms = tf.reduce_sum(tf.square(tf.reshape(difference, [4, -1])), axis=-1).numpy()
    np.testing.assert_allclose(got[:, i], variance[:, i] * (2 * norms + 1), rtol=2e-2)


def test_the_authors_encoders_weigh_the_squared_error_more(reference, test_split):
  for c in (0, 5):
    images = test_split.images[test_split.labels == c][:100]
    median = float(np.median(encoder_balance.balance(reference[c], images)))
    assert 0.3 < median < 0.95, (c, median)
