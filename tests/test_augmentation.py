"""abs_tf.training.augmentation: identity at probability 0, its maps and sampling against
PIL's (the library Augmentor uses: skew, shear, grid distortion), the rate of distorted
images, the outward skew, input checks, and a training run with it (tiny settings), which
resumes only with it."""

import numpy as np
import pytest
from PIL import Image

from abs_tf.training import augmentation
from abs_tf.training import vae_training


def _ours(image, matrix, displacement=0.0):
  coordinates = augmentation.source_coordinates(matrix, displacement)
  return augmentation.sample(image[None], coordinates[None])[0, ..., 0]


def test_probability_zero_is_the_identity(test_split):
  images = test_split.images[:16]
  out = augmentation.augment(images, np.random.default_rng(0), probability=0.0)
  np.testing.assert_array_equal(out, images)


def test_skew_and_shear_sample_as_pil_does(test_split):
  image = test_split.images[0]
  pil = Image.fromarray(image[..., 0], mode="F")
  rng = np.random.default_rng(3)
  for _ in range(4):
    skew = augmentation.perspective_to(augmentation.skew_corners(rng))
    expected = pil.transform((28, 28), Image.PERSPECTIVE, tuple(skew.flatten()[:8]),
                             Image.BILINEAR)
    np.testing.assert_allclose(_ours(image, skew), np.asarray(expected), atol=1e-6)
    shear = augmentation.shear_map(rng)
    expected = pil.transform((28, 28), Image.AFFINE, tuple(shear.flatten()[:6]),
                             Image.BILINEAR)
    np.testing.assert_allclose(_ours(image, shear), np.asarray(expected), atol=1e-6)


def test_grid_distortion_samples_as_pil_mesh_does(test_split):
  image = test_split.images[0]
  moves = augmentation.grid_moves(np.random.default_rng(5))
  assert np.any(moves) and not np.any(moves[[0, -1]]) and not np.any(moves[:, [0, -1]])
  nodes = augmentation.GRID_NODES

  def point(row, column):
    return (nodes[column] + moves[row, column, 0], nodes[row] + moves[row, column, 1])

  mesh = [((nodes[c], nodes[r], nodes[c + 1], nodes[r + 1]),
           point(r, c) + point(r + 1, c) + point(r + 1, c + 1) + point(r, c + 1))
          for r in range(3) for c in range(3)]
  expected = Image.fromarray(image[..., 0], mode="F").transform(
      (28, 28), Image.MESH, mesh, Image.BILINEAR)
  ours = _ours(image, np.eye(3), augmentation.grid_displacement(moves))
  np.testing.assert_allclose(ours, np.asarray(expected), atol=1e-6)


def test_skew_moves_corners_outwards_by_one_to_seven_pixels():
  rng = np.random.default_rng(1)
  square = augmentation.CORNERS
  for _ in range(200):
    moved = augmentation.skew_corners(rng) - square
    outwards = np.sign(square - 14.0)
    assert np.all(moved * outwards >= 0)
    assert 1 <= np.abs(moved).max() <= 7


def test_rate_of_distorted_images(test_split):
  images = np.repeat(test_split.images[:1], 4000, axis=0)
  out = augmentation.augment(images, np.random.default_rng(2))
  changed = np.mean(np.any(out != images, axis=(1, 2, 3)))
  # Four operations, each with probability 0.15 (a distortion may move no grid point).
  assert changed == pytest.approx(1 - 0.85 ** 4, abs=0.03)


def test_bad_input_is_refused(test_split):
  with pytest.raises(ValueError, match="probability"):
    augmentation.augment(test_split.images[:2], np.random.default_rng(0), probability=1.5)
  with pytest.raises(ValueError, match=r"\[N, 28, 28, 1\]"):
    augmentation.augment(test_split.images[:2, :, :, 0], np.random.default_rng(0))


def test_an_augmented_run_trains_and_records_it(tmp_path):
  from abs_tf.data import mnist
  train = mnist.load("train")
  # Two classes' VAEs (all ten take several times as long to trace): the batch that is
  # distorted still holds several classes' images.
  tiny = dict(batch_size=16, max_images_per_class=16, classes=(3, 8))
  config = vae_training.TrainConfig(epochs=1, augment=True, **tiny)
  state = vae_training.VAETrainer(config, tmp_path).run(train.images, train.labels)
  assert state["augment"] is True
  assert np.isfinite(state["history"][-1]["reconstruction_nats"])
  plain = vae_training.TrainConfig(epochs=2, **tiny)
  with pytest.raises(ValueError, match="augment"):
    vae_training.VAETrainer(plain, tmp_path).run(train.images, train.labels)
