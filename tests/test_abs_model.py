"""ABS and Binary ABS: binarisation, class scalars, input validation, envelope gradients."""

import numpy as np
import pytest
import tensorflow as tf

from abs_tf.models import abs_model
from abs_tf.models import binarization
from abs_tf.models import latent_search
from abs_tf.tools import import_reference_weights

SMALL = latent_search.LatentSearchConfig(num_samples=500, num_steps=5, clip_radius=1e6)


@pytest.fixture(scope="module")
def decoders(reference_dir):
  return import_reference_weights.reference_decoders(
      str(reference_dir / "abs_official_weights.npz"))


def test_binarize_is_hard_forward_and_identity_backward():
  x = tf.constant([0.0, 0.3, 0.49999997, 0.5, 0.7, 1.0])
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = binarization.binarize(x)
  np.testing.assert_array_equal(y.numpy(), [0, 0, 0, 1, 1, 1])
  np.testing.assert_array_equal(tape.gradient(y, x).numpy(), np.ones(6))


def test_binary_abs_sees_only_the_binarised_image(decoders, test_split):
  model = abs_model.ABS(decoders, abs_model.ABSConfig(search=SMALL, binarize=True))
  x = test_split.images[:4]
  nudged = np.clip(x + np.where(x >= 0.5, 0.2, -0.2) * (np.abs(x - 0.5) > 0.2), 0, 1)
  np.testing.assert_allclose(model(x).numpy(), model(nudged.astype(np.float32)).numpy(),
                             atol=1e-6)


def test_class_scales_multiply_the_bounds(decoders, test_split):
  latents = latent_search.draw_latents(SMALL.num_samples)
  scales = tuple(np.linspace(0.95, 1.05, 10))
  plain = abs_model.ABS(decoders, abs_model.ABSConfig(search=SMALL), latents=latents)
  scaled = abs_model.ABS(decoders, abs_model.ABSConfig(search=SMALL, class_scales=scales),
                         latents=latents)
  x = test_split.images[:3]
  inference = plain.infer(x)
  np.testing.assert_allclose(inference.logits.numpy(), -inference.losses.numpy(), rtol=1e-6)
  np.testing.assert_allclose(scaled(x).numpy(), -np.array(scales) * inference.losses.numpy(),
                             rtol=1e-5)


def test_inference_shapes_and_reconstructions(decoders, test_split):
  model = abs_model.ABS(decoders, abs_model.ABSConfig(search=SMALL))
  inference = model.infer(test_split.images[:2])
  assert inference.latents.shape == (2, 10, 8)
  assert inference.reconstructions.shape == (2, 10, 28, 28, 1)
  # The bound recomputed from the returned reconstruction and latent.
  x = test_split.images[:2].reshape(2, 1, 784)
  rec = inference.reconstructions.numpy().reshape(2, 10, 784)
  expected = (np.sum((x - rec)**2, -1) + 0.5 * np.sum(inference.latents.numpy()**2, -1)) / 784
  np.testing.assert_allclose(inference.losses.numpy(), expected, rtol=1e-5)


def test_envelope_gradient_is_the_partial_derivative_at_the_optimum(decoders, test_split):
  model = abs_model.ABS(decoders, abs_model.ABSConfig(search=SMALL))
  x = tf.constant(test_split.images[:2])
  with tf.GradientTape() as tape:
    tape.watch(x)
    logit = model.logits_graph(x)[:, 3]
  grad = tape.gradient(logit, x).numpy().reshape(2, 784)
  rec = model.infer(x).reconstructions.numpy()[:, 3].reshape(2, 784)
  np.testing.assert_allclose(grad, -2 * (x.numpy().reshape(2, 784) - rec) / 784, atol=1e-7)


@pytest.mark.parametrize("batch, bucket", [(1, 1), (5, 6), (13, 16), (49, 64), (500, 512),
                                           (1024, 1024), (1025, 2048)])
def test_batches_are_padded_to_buckets(batch, bucket):
  assert int(abs_model.bucket_size(tf.constant(batch))) == bucket
  assert abs_model.pad_batch(tf.ones([batch, 3]), bucket).shape == (bucket, 3)


def test_padding_does_not_change_an_image_logits(decoders, test_split):
  model = abs_model.ABS(decoders, abs_model.ABSConfig(search=SMALL))
  x = test_split.images[:5]  # padded to 6
  alone = np.concatenate([model(x[i:i + 1]).numpy() for i in range(5)])
  np.testing.assert_allclose(model(x).numpy(), alone, rtol=1e-5, atol=1e-6)


def test_a_batch_searched_in_pieces_keeps_each_image_in_place(decoders, test_split,
                                                               monkeypatch):
  latents = latent_search.draw_latents(SMALL.num_samples)
  whole = abs_model.ABS(decoders, abs_model.ABSConfig(search=SMALL), latents=latents)
  x = test_split.images[:10]
  expected = whole.infer(x)
  monkeypatch.setattr(abs_model, "SEARCH_PIECE", 4)  # read when infer_graph is traced
  pieces = abs_model.ABS(decoders, abs_model.ABSConfig(search=SMALL), latents=latents)
  found = pieces.infer(x)  # padded to 12: 3 pieces of 4
  np.testing.assert_array_equal(found.logits.numpy(), expected.logits.numpy())
  np.testing.assert_array_equal(found.latents.numpy(), expected.latents.numpy())


@pytest.mark.parametrize("images, message", [
    (np.zeros((2, 28, 28), np.float32), "shape"),
    (np.zeros((2, 28, 28, 1), np.float64), "float32"),
    (np.full((1, 28, 28, 1), np.nan, np.float32), "NaN"),
    (np.full((1, 28, 28, 1), 1.5, np.float32), r"\[0, 1\]"),
    (np.full((1, 28, 28, 1), -0.1, np.float32), r"\[0, 1\]"),
])
def test_bad_input_is_refused(decoders, images, message):
  model = abs_model.ABS(decoders, abs_model.ABSConfig(search=SMALL))
  with pytest.raises(ValueError, match=message):
    model(images)


def test_config_validation():
  with pytest.raises(ValueError, match="10 positive"):
    abs_model.ABSConfig(class_scales=(1.0,) * 9)
  with pytest.raises(ValueError, match="latents must have shape"):
    abs_model.ABS(abs_model.new_decoders(), abs_model.ABSConfig(search=SMALL),
                  latents=np.zeros((3, 8), np.float32))
