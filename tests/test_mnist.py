"""The shipped MNIST copy: checksums, shapes, values, and clear failures."""

import shutil

import numpy as np
import pytest

from abs_tf.data import mnist


def test_splits_have_the_original_sizes_and_statistics():
  train, test = mnist.load("train"), mnist.load("test")
  assert train.images.shape == (60_000, 28, 28, 1) and test.images.shape == (10_000, 28, 28, 1)
  assert train.images.dtype == np.float32 and train.labels.dtype == np.int64
  assert 0.0 == train.images.min() and train.images.max() == 1.0
  # Published figures (data/mnist/README.md).
  np.testing.assert_allclose(train.images.mean(), 0.1307, atol=5e-5)
  np.testing.assert_allclose(train.images.std(), 0.3081, atol=5e-5)
  np.testing.assert_array_equal(
      np.bincount(train.labels), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])


def test_verify_rejects_a_corrupted_file(tmp_path):
  source = mnist.verify()
  for name in mnist.SHA256:
    shutil.copy(source / name, tmp_path / name)
  with open(tmp_path / "t10k-labels-idx1-ubyte.gz", "r+b") as f:
    f.seek(100)
    f.write(b"\x00\x01")
  with pytest.raises(ValueError, match="sha256"):
    mnist.load("test", tmp_path)


def test_missing_file_is_named(tmp_path):
  with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz is missing"):
    mnist.verify(tmp_path)


def test_unknown_split_and_bad_slices_are_refused():
  with pytest.raises(ValueError, match="'train' or 'test'"):
    mnist.load("validation")
  with pytest.raises(ValueError, match="first_index"):
    mnist.load("test").take(9_990, 20)
