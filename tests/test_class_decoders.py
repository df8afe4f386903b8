"""The batched decoders with their hand-derived gradient against the straightforward path.

The oracle here is ABS written the obvious way: each class's Keras decoder called on its own,
its gradient from a GradientTape, the prototype search by brute force in numpy.
"""

import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from abs_tf.models import abs_model
from abs_tf.models import class_decoders
from abs_tf.models import latent_search
from abs_tf.tools import import_reference_weights

TINY = latent_search.LatentSearchConfig(num_samples=200, num_steps=6, clip_radius=2.0)


@pytest.fixture(scope="module")
def decoders(reference_dir):
  return import_reference_weights.reference_decoders(
      str(reference_dir / "abs_official_weights.npz"))


def _keras_means(decoders, z):
  """z [C, B, 8] -> [C, B, 784] through each class's Keras decoder."""
  return tf.stack([tf.reshape(decoder.mean(z[c]), [-1, 784])
                   for c, decoder in enumerate(decoders)])


class TapeDecoders:
  """The straightforward decoders: ten Keras decoders, derivative from a GradientTape."""

  def __init__(self, decoders):
    self.decoders = decoders

  def mean(self, z):
    return _keras_means(self.decoders, z)

  def mean_and_vjp(self, z):
    with tf.GradientTape(persistent=True) as tape:
      tape.watch(z)
      means = _keras_means(self.decoders, z)
    return means, lambda grad: tape.gradient(means, z, output_gradients=grad)


def straightforward_logits(decoders, config: abs_model.ABSConfig, latents, images):
  """ABS logits [B, 10] the obvious way (eager, per-class Keras decoders, tape, brute force)."""
  x = images.reshape(len(images), 784)
  if config.binarize:
    x = (x >= 0.5).astype(np.float32)
  prototypes = _keras_means(decoders, tf.tile(latents[None], [10, 1, 1])).numpy()  # [10, N, 784]
  losses = (np.sum((x[:, None, None] - prototypes[None])**2, -1) +
            config.search.beta * 0.5 * np.sum(latents**2, -1)) / 784     # [B, 10, N]
  z0 = latents[np.argmin(losses, -1)]                                     # [B, 10, 8]
  loss, _, _ = latent_search.refine(tf.constant(x[None]),
                                    tf.constant(np.transpose(z0, [1, 0, 2])),
                                    TapeDecoders(decoders), config.search)
  return -np.array(config.class_scales) * np.transpose(loss.numpy())


def test_folded_means_equal_the_keras_decoders(decoders):
  z = tf.constant(np.random.default_rng(0).normal(size=(10, 7, 8)).astype(np.float32))
  folded = class_decoders.ClassDecoders.fold(decoders)
  np.testing.assert_allclose(folded.mean(z).numpy(), _keras_means(decoders, z).numpy(),
                             atol=2e-6)


def test_bulk_means_equal_the_compiled_path_and_the_keras_decoders(decoders):
  # As ABS runs it: in a graph, which Grappler rewrites (fusing the last layer's bias).
  z = tf.constant(np.random.default_rng(2).normal(size=(10, 33, 8)).astype(np.float32))
  folded = class_decoders.ClassDecoders.fold(decoders)
  bulk = tf.function(lambda z: folded.mean(z, compiled=False))(z).numpy()
  # Relative only, so that the smallest means (down to ~1e-12) count; 3e-5, as the last layer
  # sums its 256 products in one float32 accumulator (phase_conv.py).
  np.testing.assert_allclose(bulk, folded.mean(z).numpy(), rtol=3e-5, atol=0)
  np.testing.assert_allclose(bulk, _keras_means(decoders, z).numpy(), rtol=3e-5, atol=0)


def test_hand_derived_vjp_equals_the_tape(decoders):
  rng = np.random.default_rng(1)
  z = tf.constant(rng.normal(size=(10, 5, 8)).astype(np.float32))
  cotangent = tf.constant(rng.normal(size=(10, 5, 784)).astype(np.float32))
  means, vjp = class_decoders.ClassDecoders.fold(decoders).mean_and_vjp(z)
  tape_means, tape_vjp = TapeDecoders(decoders).mean_and_vjp(z)
  expected = tape_vjp(cotangent).numpy()
  np.testing.assert_allclose(means.numpy(), tape_means.numpy(), atol=2e-6)
  np.testing.assert_allclose(vjp(cotangent).numpy(), expected,
                             atol=1e-5 * np.abs(expected).max())


def test_fold_refuses_an_unexpected_architecture():
  decoder = types.SimpleNamespace(net=keras.Sequential([keras.layers.Dense(4)]))
  with pytest.raises(ValueError, match="Conv2DTranspose"):
    class_decoders.fold_decoder(decoder)


@pytest.mark.parametrize("binarize", [False, True])
def test_abs_equals_the_straightforward_path(decoders, test_split, binarize):
  scales = (1.0, 0.96, 1.001, 1.06, 0.98, 0.96, 1.03, 1.0, 1.0, 1.0) if binarize else (1.0,) * 10
  config = abs_model.ABSConfig(search=TINY, binarize=binarize, class_scales=scales)
  latents = latent_search.draw_latents(TINY.num_samples, seed=3)
  model = abs_model.ABS(decoders, config, latents=latents)
  images = test_split.images[:4]
  expected = straightforward_logits(decoders, config, latents, images)
  np.testing.assert_allclose(model(images).numpy(), expected, atol=1e-4, rtol=0)
