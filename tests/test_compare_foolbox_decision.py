"""Against Foolbox 3.3.4 on the authors' CNN and 20 test images: this project's Boundary
attack is at least as close with the same query budget, its Pointwise attack at least as
sparse. scripts/compare_foolbox.py prints the full comparison."""

import numpy as np
import pytest

from abs_tf.tools import foolbox_decision


@pytest.fixture(scope="module")
def batch(test_split):
  return test_split.images[:20], test_split.labels[:20]


def test_boundary_at_least_as_close_as_foolbox_with_the_same_queries(reference_cnn, batch):
  comparison = foolbox_decision.compare_boundary(reference_cnn, *batch, foolbox_steps=300)
  ours, theirs = comparison.medians()
  assert comparison.ours.success.all() and comparison.theirs.success.all()
  assert np.all(comparison.ours.queries <= comparison.theirs.queries)
  assert ours <= theirs


def test_pointwise_at_least_as_sparse_as_foolbox_with_the_same_queries(reference_cnn, batch):
  comparison = foolbox_decision.compare_pointwise(reference_cnn, *batch)
  ours, theirs = comparison.medians()
  assert comparison.ours.success.all() and comparison.theirs.success.all()
  assert np.all(comparison.ours.queries <= comparison.theirs.queries)
  assert ours <= theirs
