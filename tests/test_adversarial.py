"""PGD: stays in the ball and the box, raises the loss, and its evaluation counts correctly."""

import numpy as np
import pytest
import tensorflow as tf

from abs_tf.training import adversarial


def linear_logits(weights):
  return lambda x: tf.matmul(tf.reshape(x, [-1, 784]), weights)


@pytest.fixture(scope="module")
def weights():
  return tf.random.stateless_normal([784, 10], [3, 4])


def test_pgd_stays_in_ball_and_box_and_raises_the_loss(weights, test_split):
  x, y = test_split.images[:16], test_split.labels[:16]
  adv = adversarial.pgd_linf(linear_logits(weights), x, y, 0.1, 10, 0.02,
                             random_start=True, seed=tf.constant([0, 1]))
  assert np.abs(adv.numpy() - x).max() <= 0.1 + 1e-6
  assert adv.numpy().min() >= 0.0 and adv.numpy().max() <= 1.0
  ce = lambda z: tf.nn.sparse_softmax_cross_entropy_with_logits(y, linear_logits(weights)(z))
  assert np.all(ce(adv).numpy() >= ce(x).numpy())


def test_random_start_needs_a_seed(weights, test_split):
  with pytest.raises(ValueError, match="seed"):
    adversarial.pgd_linf(linear_logits(weights), test_split.images[:2], test_split.labels[:2],
                         0.1, 1, 0.1)


def test_evaluate_pgd_counts_robust_only_if_clean_is_correct(test_split):
  # A model that always answers class 7: clean accuracy = fraction of 7s, and no input
  # change alters it.
  const = lambda x: tf.one_hot(tf.fill([tf.shape(x)[0]], 7), 10) + 0.0 * tf.reduce_sum(x)
  x, y = test_split.images[:50], test_split.labels[:50]
  result = adversarial.evaluate_pgd(const, x, y, adversarial.PGDConfig(steps=2),
                                    batch_size=20)
  assert result.num_images == 50
  assert result.clean_accuracy == pytest.approx(np.mean(y == 7))
  assert result.robust_accuracy == pytest.approx(np.mean(y == 7))


def test_config_validation():
  with pytest.raises(ValueError, match="epsilon"):
    adversarial.PGDConfig(epsilon=1.5)
  with pytest.raises(ValueError, match="steps"):
    adversarial.PGDConfig(steps=0)
