"""Gradient sources: finite differences match the tape; straight-through and envelope gradients."""

import numpy as np
import pytest
import tensorflow as tf

from abs_tf.attacks import gradients
from abs_tf.models import cnn
from abs_tf.models import latent_search
from abs_tf.tools import import_reference_cnn
from abs_tf.tools import import_reference_weights


def _quadratic():
  rng = np.random.default_rng(0)
  a = tf.constant(rng.normal(size=(784, 10)).astype(np.float32) / 28)
  q = tf.constant(rng.normal(size=(784, 10)).astype(np.float32) / 28)

  def logits(images):
    flat = tf.reshape(images, [-1, 784])
    return tf.matmul(flat, a) + 0.5 * tf.matmul(flat * flat, q)

  return logits


def _tape_vjp(logits_fn, images, upstream):
  images = tf.constant(images)
  with tf.GradientTape() as tape:
    tape.watch(images)
    total = tf.reduce_sum(upstream * logits_fn(images))
  return tape.gradient(total, images).numpy()


def _cosine(a, b):
  a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
  return np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_finite_differences_match_the_tape_on_a_quadratic():
  logits = _quadratic()
  rng = np.random.default_rng(1)
  # Interior pixels (central differences, exact on a quadratic) and edge pixels (one-sided).
  images = rng.uniform(0.0, 1.0, (3, 28, 28, 1)).astype(np.float32)
  images[:, :4] = 0.0
  images[:, -4:] = 1.0
  upstream = rng.normal(size=(3, 10)).astype(np.float32)
  expected = _tape_vjp(logits, images, upstream)
  source = gradients.FiniteDifferences(1e-2, max_images=100)
  found = _tape_vjp(source.differentiable_logits(logits, gradients.QueryCounter()), images,
                    upstream)
  interior = (images > 0.01) & (images < 0.99)
  np.testing.assert_allclose(found[interior], expected[interior], atol=2e-4)
  # One-sided at the edges: off by the curvature term, q * h / 2 per unit upstream.
  np.testing.assert_allclose(found[~interior], expected[~interior], atol=2e-2)
  assert not np.allclose(found[~interior], expected[~interior], atol=1e-4)


def test_finite_differences_match_the_tape_on_the_cnn(reference_cnn, test_split):
  images = test_split.images[:2]
  upstream = tf.one_hot(test_split.labels[:2], 10) - 0.1
  expected = _tape_vjp(reference_cnn.logits_graph, images, upstream)
  found = gradients.finite_difference_vjp(reference_cnn.logits_graph, tf.constant(images),
                                          upstream, 1e-2, max_images=800).numpy()
  assert np.all(_cosine(found, expected) > 0.999)
  np.testing.assert_allclose(found, expected, atol=0.05 * np.abs(expected).max())


def test_samples_do_not_share_estimates(reference_cnn, test_split):
  images = tf.constant(test_split.images[:3])
  upstream = tf.one_hot(test_split.labels[:3], 10)
  together = gradients.finite_difference_vjp(reference_cnn.logits_graph, images, upstream, 0.1,
                                             max_images=600).numpy()
  alone = gradients.finite_difference_vjp(reference_cnn.logits_graph, images[1:2],
                                          upstream[1:2], 0.1, max_images=600).numpy()
  np.testing.assert_allclose(together[1:2], alone, atol=1e-5)


def test_queries_are_counted_per_sample():
  logits, counter = _quadratic(), gradients.QueryCounter()
  images = np.full((2, 28, 28, 1), 0.5, np.float32)
  _tape_vjp(gradients.Autodiff().differentiable_logits(logits, counter), images, tf.ones([2, 10]))
  assert counter.per_sample.numpy() == 1
  counter.per_sample.assign(0)
  _tape_vjp(gradients.FiniteDifferences(0.1, max_images=300).differentiable_logits(
      logits, counter), images, tf.ones([2, 10]))
  assert counter.per_sample.numpy() == 1 + 2 * 784


def test_binarised_cnn_gets_straight_through_gradients(reference_dir, test_split):
  weights = str(reference_dir / "cnn_official_weights.npz")
  plain = import_reference_cnn.import_reference_cnn(weights)
  binary = cnn.CNN(cnn.CNNConfig(binarize=True))
  binary.net.build((None, 28, 28, 1))
  binary.net.set_weights(plain.net.get_weights())
  images = test_split.images[:4]
  upstream = tf.one_hot(test_split.labels[:4], 10)
  found = _tape_vjp(binary.logits_graph, images, upstream)
  assert np.all(np.abs(found).reshape(4, -1).max(1) > 1e-3)
  # Straight through: the gradient of the CNN at the binarised image.
  binarised = (images >= 0.5).astype(np.float32)
  np.testing.assert_allclose(found, _tape_vjp(plain.logits_graph, binarised, upstream),
                             atol=1e-6)


def test_envelope_gradient_of_abs_agrees_with_finite_differences(reference_dir, test_split):
  """Autodiff through ABS (latent search under stop_gradient, bound recomputed at z*) against
  central differences of the full model, latent search included.

  The envelope theorem needs z* to be the optimum: with 50 Adam steps, gradients compared
  along 16 random directions had cosines 0.975-0.9996 on images 0..3 (200 prototypes) and
  0.997-0.9999 (1000); with 5 steps only 0.87-0.996, as z is then near, not at, the optimum
  (coordinate-wise over all 784 pixels, 1000 prototypes, 5 steps: 0.89-0.997). To stay cheap
  the test compares along 12 random directions (24 evaluations per image, not 1568).
  Tolerance: cosine > 0.95 and directional derivatives within 30 % of the largest.
  """
  search = latent_search.LatentSearchConfig(num_samples=200, num_steps=50, clip_radius=1e6)
  model = import_reference_weights.reference_abs(
      str(reference_dir / "abs_official_weights.npz"), search)
  num_images, num_directions, step = 2, 12, 1e-3
  images = test_split.images[:num_images].reshape(num_images, 1, 784)
  directions = np.random.default_rng(0).normal(size=(num_images, num_directions, 784))
  directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
  # One batch: each image, then its points x + h v and x - h v. Unclipped: the bound is
  # defined for any x, and clipping would bend the directions.
  batch = np.concatenate([images, images + step * directions, images - step * directions], 1)
  batch = tf.constant(batch.reshape(-1, 28, 28, 1).astype(np.float32))
  rows = 1 + 2 * num_directions
  upstream = np.zeros((num_images, rows, 10), np.float32)
  upstream[:, 0] = np.eye(10)[test_split.labels[:num_images]]
  with tf.GradientTape() as tape:
    tape.watch(batch)
    logits = model.logits_graph(batch)
    total = tf.reduce_sum(upstream.reshape(-1, 10) * logits)
  envelope = tape.gradient(total, batch).numpy().reshape(num_images, rows, 784)[:, 0]
  values = np.sum(logits.numpy().reshape(num_images, rows, 10) * upstream[:, :1], -1)
  estimate = (values[:, 1:1 + num_directions] - values[:, 1 + num_directions:]) / (2 * step)
  projected = np.einsum("bkp,bp->bk", directions, envelope)
  assert np.all(_cosine(estimate, projected) > 0.95), _cosine(estimate, projected)
  np.testing.assert_allclose(estimate, projected, atol=0.3 * np.abs(projected).max())


def test_invalid_settings_are_refused():
  with pytest.raises(ValueError, match="step must be > 0"):
    gradients.FiniteDifferences(0.0)
  with pytest.raises(ValueError, match="max_images"):
    gradients.FiniteDifferences(0.1, max_images=1)
  with pytest.raises(ValueError, match="gradient must be one of"):
    gradients.gradient_sources("numerical")
  with pytest.raises(ValueError, match="at least one step"):
    gradients.gradient_sources(gradients.FINITE_DIFFERENCES, fd_steps=())
  assert len(gradients.gradient_sources(gradients.FINITE_DIFFERENCES, (0.1, 0.2))) == 2
