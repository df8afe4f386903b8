"""scripts/compare_class_vaes.py: accuracies of VAE combinations from swapped logit columns."""

import numpy as np
import pytest

from scripts import compare_class_vaes


def test_each_subset_takes_its_columns_from_the_other_run():
  labels = np.array([0, 1, 2, 3])
  base = np.zeros((4, 10), np.float32)
  base[np.arange(4), [0, 5, 2, 5]] = 1.0      # right on images 0 and 2
  other = np.zeros((4, 10), np.float32)
  other[1, 1] = other[3, 3] = 2.0             # class 1's and 3's VAEs explain 1 and 3 better
  other[0, 1] = 3.0                           # but class 1's also explains the 0 best
  got = compare_class_vaes.combination_accuracies(base, other, labels, [3, 1])
  assert got == {(): 0.5, (1,): 0.5, (3,): 0.75, (1, 3): 0.75}


def test_logits_of_another_shape_are_refused():
  with pytest.raises(ValueError, match=r"Expected logits \[3, 10\]"):
    compare_class_vaes.combination_accuracies(np.zeros((3, 10)), np.zeros((3, 9)),
                                              np.zeros(3, int), [1])
