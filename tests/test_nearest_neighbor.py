"""Nearest neighbour: logits are minus the nearest distance per class; assets, not variables."""

import numpy as np
import pytest
import tensorflow as tf

from abs_tf.data import mnist
from abs_tf.export import saved_model
from abs_tf.models import nearest_neighbor

NUM_TRAIN = 2000


@pytest.fixture(scope="module")
def model():
  return nearest_neighbor.NearestNeighbor.from_training_set(
      nearest_neighbor.NearestNeighborConfig(max_train_images=NUM_TRAIN))


def test_logits_are_minus_nearest_distance_per_class(model, test_split):
  train = mnist.load("train")
  x = test_split.images[:5].reshape(5, -1).astype(np.float64)
  t = train.images[:NUM_TRAIN].reshape(NUM_TRAIN, -1).astype(np.float64)
  d = np.sqrt(((x[:, None, :] - t[None]) ** 2).sum(-1))
  expected = np.stack([-d[:, train.labels[:NUM_TRAIN] == c].min(1) for c in range(10)], 1)
  np.testing.assert_allclose(model(test_split.images[:5]).numpy(), expected, atol=2e-3)


def test_gradient_points_to_the_nearest_image(model, test_split):
  x = tf.constant(test_split.images[:2])
  with tf.GradientTape() as tape:
    tape.watch(x)
    logits = model.logits_graph(x)
    chosen = tf.reduce_sum(logits[:, 3])
  grad = tape.gradient(chosen, x).numpy()
  assert np.all(np.isfinite(grad))
  # d(-||x - t||)/dx = (t - x) / ||x - t||: a unit vector.
  np.testing.assert_allclose(np.linalg.norm(grad.reshape(2, -1), axis=1), 1.0, rtol=1e-3)


def test_export_ships_the_idx_files_as_assets_and_no_images_as_variables(model, tmp_path,
                                                                          test_split):
  expected = model(test_split.images[:4]).numpy()
  path = saved_model.export(model, tmp_path / "nn" / "1")
  assets = path / "assets"
  for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
    assert (assets / name).read_bytes() == (mnist.verify() / name).read_bytes()
  variables_bytes = sum(f.stat().st_size for f in (path / "variables").iterdir())
  assert variables_bytes < 10_000
  loaded = saved_model.SavedModelClassifier(path)
  np.testing.assert_allclose(loaded(test_split.images[:4]).numpy(), expected, atol=1e-5)
  rebuilt = saved_model.load_in_memory(path, {model.kind: nearest_neighbor.NearestNeighbor})
  np.testing.assert_allclose(rebuilt(test_split.images[:4]).numpy(), expected, atol=1e-5)


def test_bad_config_refused():
  with pytest.raises(ValueError, match="max_train_images"):
    nearest_neighbor.NearestNeighborConfig(max_train_images=0)
