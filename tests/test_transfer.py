"""Transfer attacks: substitute directions, line search on the target."""

import numpy as np
import pytest
import tensorflow as tf

from abs_tf import attacks
from abs_tf.attacks import base
from abs_tf.attacks import gradient_attacks
from abs_tf.attacks import transfer
from abs_tf.models import classifier


class ConstantClassifier(classifier.Classifier):
  """Predicts class 0 for every image; its gradients are zero."""

  def logits_graph(self, images):
    return tf.zeros([tf.shape(images)[0], 10]) + tf.one_hot(0, 10) + 0.0 * tf.reduce_sum(
        images, axis=[1, 2, 3])[:, None]


def _tiny_substitute_attacks():
  return [gradient_attacks.FGSM(num_epsilons=50, max_epsilon=0.5, bisection_steps=8),
          gradient_attacks.BIML2(iterations=5, bisection_steps=6)]


@pytest.fixture(scope="module")
def batch(test_split):
  return test_split.images[:6], test_split.labels[:6]


def test_transfer_from_the_model_itself_is_as_close_as_the_direct_attack(reference_cnn,
                                                                        batch):
  images, labels = batch
  substitute_attacks = _tiny_substitute_attacks()
  result = attacks.ATTACKS["transfer_linf"](
      substitute=reference_cnn, substitute_attacks=substitute_attacks)(
          reference_cnn, images, labels)
  assert result.success.all()
  assert np.all(reference_cnn(result.adversarials).numpy().argmax(1) != labels)
  np.testing.assert_allclose(result.distances,
                             base.distance(images, result.adversarials, base.LINF))
  # The FGSM direction itself, scaled by about 1, is among the candidates.
  direct = substitute_attacks[0](reference_cnn, images, labels)
  assert np.all(result.distances <= direct.distances * 1.01 + 1e-6)


def test_transfer_l2_measures_in_l2(reference_cnn, batch):
  images, labels = batch
  result = transfer.TransferL2(substitute=reference_cnn,
                               substitute_attacks=_tiny_substitute_attacks())(
                                   reference_cnn, images, labels)
  assert result.metric == base.L2 and result.success.all()
  direct = gradient_attacks.BIML2(iterations=5, bisection_steps=6)(reference_cnn, images,
                                                                   labels)
  assert np.all(result.distances <= direct.distances * 1.01 + 1e-6)
  assert np.all(result.distances > 0)


def test_no_direction_means_failure_without_wasted_queries(reference_cnn, batch):
  images, labels = batch
  result = transfer.TransferLinf(substitute=ConstantClassifier(),
                                 substitute_attacks=_tiny_substitute_attacks())(
                                     reference_cnn, images, labels)
  assert not result.success.any() and np.all(np.isinf(result.distances))
  np.testing.assert_array_equal(result.queries, 2)  # the base's check and verification
  np.testing.assert_array_equal(result.adversarials, images)


def test_invalid_settings_are_refused():
  with pytest.raises(ValueError, match="substitute_attacks"):
    transfer.TransferL2(substitute_attacks=[])
  with pytest.raises(ValueError, match="substitute_attacks"):
    transfer.TransferL2(substitute_attacks=["fgsm"])
  with pytest.raises(ValueError, match="growth"):
    transfer.TransferL2(growth=1.0)
  with pytest.raises(ValueError, match="bisection_steps"):
    transfer.TransferLinf(bisection_steps=-2)
