"""Shared fixtures: the authors' reference files and small test data."""

import os
import pathlib

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
REFERENCE_DIR = pathlib.Path(
    os.environ.get("ABS_TF_REFERENCE_DIR", REPO_ROOT.parent / "shared" / "reference"))


@pytest.fixture(scope="session")
def reference_dir():
  """The authors' weights and outputs (shared/reference beside the repository)."""
  if not (REFERENCE_DIR / "abs_official_weights.npz").is_file():
    pytest.fail(f"Reference files not found in {REFERENCE_DIR}; set ABS_TF_REFERENCE_DIR.")
  return REFERENCE_DIR


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
