"""Shared fixtures: the authors' reference files and small test data."""

import os
import pathlib
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def reference_dir():
  """The authors' weights and outputs: third_party/abs_authors, shipped in this repository
  (or installed with the package), never a folder beside it."""
  from abs_tf import resources
  folder = resources.resource_dir(resources.AUTHORS_DIR).resolve()
  homes = [REPO_ROOT, pathlib.Path(sys.prefix).resolve() / "share" / "abs_tf"]
  assert any(folder.is_relative_to(home) for home in homes), (
      f"The authors' files were found in {folder}, outside {[str(h) for h in homes]}.")
  return folder


@pytest.fixture(scope="session")
def reference_logits(reference_dir):
  return dict(np.load(reference_dir / "reference_logits.npz"))


@pytest.fixture(scope="session")
def test_split():
  from abs_tf.data import mnist
  return mnist.load("test")


@pytest.fixture(scope="module")
def runner(test_split):
  """An evaluation's unit runner on the test split (one per module: it caches models)."""
  from abs_tf.evaluation import runner as runner_lib
  return runner_lib.UnitRunner(test_split=test_split)


@pytest.fixture(scope="session")
def reference_cnn(reference_dir):
  """The authors' CNN (their released weights) as this project's classifier."""
  from abs_tf.tools import import_reference_cnn
  return import_reference_cnn.import_reference_cnn(
      str(reference_dir / "cnn_official_weights.npz"))


@pytest.fixture(scope="session")
def linear_problem():
  """A linear two-class model and images whose minimal adversarials are known in closed form.

  Logits (w . x + b, 0, -100, ...): with the margin m = w . x + b > 0 (class 0), the smallest
  perturbation reaching class 1 has L2 = m / ||w||_2 and L-inf = m / ||w||_1 (both staying
  inside [0, 1] here), and L0 = the fewest pixels whose largest moves against w (|w_j| times
  the room left to 0 or 1) sum to m.

  Returns:
    dict: model (a Classifier), images float32 [4, 28, 28, 1] in [0.4, 0.6], labels (zeros),
    and the exact distances l2, linf, l0, float64 [4] each.
  """
  import tensorflow as tf
  from abs_tf.models import classifier

  rng = np.random.default_rng(0)
  w = rng.standard_normal(784) / 28.0
  images = (0.5 + 0.1 * rng.uniform(-1, 1, (4, 784))).astype(np.float32)
  bias = float(0.5 - np.min(images.astype(np.float64) @ w))
  margins = images.astype(np.float64) @ w + bias

  class Linear(classifier.Classifier):
    def __init__(self):
      super().__init__(name="linear")
      self.w = tf.constant(np.stack([w, np.zeros(784)], axis=1), tf.float32)

    def logits_graph(self, images):
      two = tf.reshape(images, [-1, 784]) @ self.w + tf.constant([bias, 0.0])
      return tf.concat([two, tf.fill([tf.shape(images)[0], 8], -100.0)], axis=1)

  room = np.where(w > 0, images, 1.0 - images) * np.abs(w)
  l0 = np.array([np.searchsorted(np.cumsum(np.sort(r)[::-1]), m) + 1
                 for r, m in zip(room, margins)], np.float64)
  return dict(model=Linear(), images=images.reshape(-1, 28, 28, 1),
              labels=np.zeros(4, np.int64), l2=margins / np.linalg.norm(w),
              linf=margins / np.abs(w).sum(), l0=l0)
