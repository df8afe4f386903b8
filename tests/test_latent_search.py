"""The latent search: the bound, the prototype stage, Adam refinement, projection."""

import numpy as np
import pytest
import tensorflow as tf

from abs_tf.models import latent_search


def test_bound_matches_its_formula():
  rng = np.random.default_rng(0)
  x = rng.random((3, 1, 784)).astype(np.float32)
  means = rng.random((3, 10, 784)).astype(np.float32)
  z = rng.normal(size=(3, 10, 8)).astype(np.float32)
  expected = (np.sum((x - means)**2, -1) + 0.5 * np.sum(z**2, -1)) / 784
  got = latent_search.squared_error_loss(x, means, z, 1.0).numpy()
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_prototype_search_is_the_brute_force_argmin():
  rng = np.random.default_rng(1)
  x = rng.random((4, 784)).astype(np.float32)
  prototypes = rng.random((10, 50, 784)).astype(np.float32)
  latents = rng.normal(size=(50, 8)).astype(np.float32)
  rows = latent_search.prototype_rows(np.transpose(prototypes, [1, 0, 2]), latents, 1.0)
  z = latent_search.prototype_search(x, rows, latents).numpy()
  losses = (np.sum((x[:, None, None] - prototypes[None])**2, -1) +
            0.5 * np.sum(latents**2, -1)) / 784                      # [B, C, N]
  np.testing.assert_array_equal(z, latents[np.argmin(losses, -1)])


def test_projection_keeps_direction_and_sign():
  z = tf.constant([[3.0, -4.0], [0.3, -0.4]])
  projected = latent_search.project_to_ball(z, 1.0).numpy()
  np.testing.assert_allclose(projected, [[0.6, -0.8], [0.3, -0.4]], rtol=1e-6)


class _SmoothDecoder:
  """sigmoid(z A + b), the same for every class; its derivative from a GradientTape."""

  def __init__(self, seed=0):
    rng = np.random.default_rng(seed)
    self.a = tf.constant(rng.normal(size=(8, 784)).astype(np.float32) * 0.5)
    self.b = tf.constant(rng.normal(size=(784,)).astype(np.float32))

  def mean(self, z):
    return tf.sigmoid(tf.einsum("bcl,lp->bcp", z, self.a) + self.b)

  def mean_and_vjp(self, z):
    with tf.GradientTape(persistent=True) as tape:
      tape.watch(z)
      means = self.mean(z)
    return means, lambda grad: tape.gradient(means, z, output_gradients=grad)


def test_refine_follows_the_gradient_of_the_summed_loss():
  """One Adam step moves each z by -lr * sign(dL/dz) (Adam's first step, bias-corrected)."""
  decoder = _SmoothDecoder()
  rng = np.random.default_rng(4)
  x = rng.random((3, 1, 784)).astype(np.float32)
  z0 = tf.constant(rng.normal(size=(3, 10, 8)).astype(np.float32))
  with tf.GradientTape() as tape:
    tape.watch(z0)
    loss = tf.reduce_sum(latent_search.squared_error_loss(x, decoder.mean(z0), z0, 1.0))
  grad = tape.gradient(loss, z0).numpy()
  config = latent_search.LatentSearchConfig(num_samples=1, num_steps=1, learning_rate=1e-3,
                                            clip_radius=1e6)
  _, z, _ = latent_search.refine(x, z0, decoder, config)
  moved = z.numpy() != z0.numpy()
  np.testing.assert_allclose(z.numpy()[moved], (z0.numpy() - 1e-3 * np.sign(grad))[moved],
                             atol=1e-6)


def test_refine_never_ends_worse_than_its_start_and_improves_on_average():
  decoder = _SmoothDecoder()
  rng = np.random.default_rng(2)
  x = rng.random((6, 1, 784)).astype(np.float32)
  z0 = tf.constant(rng.normal(size=(6, 10, 8)).astype(np.float32))
  start = latent_search.squared_error_loss(x, decoder.mean(z0), z0, 1.0).numpy()
  for lr in (0.05, 5.0):  # 5.0 overshoots: the guard must keep the start
    config = latent_search.LatentSearchConfig(num_samples=1, num_steps=10, learning_rate=lr)
    loss, z, means = latent_search.refine(x, z0, decoder, config)
    assert np.all(loss.numpy() <= start + 1e-7)
    np.testing.assert_allclose(
        loss.numpy(), latent_search.squared_error_loss(x, means, z, 1.0).numpy(), rtol=1e-6)
  config = latent_search.LatentSearchConfig(num_samples=1, num_steps=10)
  loss, _, _ = latent_search.refine(x, z0, decoder, config)
  assert np.mean(loss.numpy()) < np.mean(start) - 1e-3


def test_refine_with_zero_steps_returns_the_start():
  x = np.random.default_rng(3).random((2, 1, 784)).astype(np.float32)
  z0 = tf.zeros([2, 10, 8])
  _, z, _ = latent_search.refine(x, z0, _SmoothDecoder(),
                                 latent_search.LatentSearchConfig(num_steps=0))
  np.testing.assert_array_equal(z.numpy(), z0.numpy())


def test_latents_are_the_densest_of_n_over_0_9_draws():
  latents = latent_search.draw_latents(900, seed=5)
  assert latents.shape == (900, 8) and latents.dtype == np.float32
  rng = np.random.default_rng(5)
  candidates = rng.standard_normal((1000, 8))
  assert np.max(np.sum(latents**2, 1)) <= np.sort(np.sum(candidates**2, 1))[899] + 1e-5
  np.testing.assert_array_equal(latents, latent_search.draw_latents(900, seed=5))


@pytest.mark.parametrize("kwargs", [dict(num_samples=0), dict(num_steps=-1),
                                    dict(learning_rate=0.0), dict(clip_radius=-1.0)])
def test_config_rejects_bad_settings(kwargs):
  with pytest.raises(ValueError):
    latent_search.LatentSearchConfig(**kwargs)
