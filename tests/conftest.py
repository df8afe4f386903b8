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


@pytest.fixture(scope="session")
def reference_cnn(reference_dir):
  """The authors' CNN (their released weights) as this project's classifier."""
  from abs_tf.tools import import_reference_cnn
  return import_reference_cnn.import_reference_cnn(
      str(reference_dir / "cnn_official_weights.npz"))
