"""L-infinity projected gradient descent (PGD): the attack of adversarial training and its
evaluation.

From a start x0 = x + u, u ~ U[-eps, eps]^d (random start) or x0 = x, PGD ascends the
cross-entropy of the true label with signed gradient steps and projects back onto the
eps-ball around x intersected with the image box [0, 1]:

  x_{t+1} = clip_[0,1](clip_[x-eps, x+eps](x_t + alpha * sign(grad_x CE(f(x_t), y))))

With one step of size 1.25 eps and a random start this is the "FGSM with random start" of
fast adversarial training (Wong et al., 2020); with 40 steps of 0.01 at eps 0.3 it is the
attack of Madry et al. (2018).

Why not the attacks' BIM (`abs_tf.attacks.gradient_attacks`, CleverHans' PGD): that one
searches the smallest epsilon per sample (rescaled inputs, amplified gradients, no random
start), while training needs a fixed-epsilon attack inside its own tf.function whose random
start is drawn from a stateless seed per batch. The shipped Madry et al. model
(saved_models/madry/README.md) was trained with this function; CleverHans draws its random
start from TensorFlow's global generator, so training through it would not reproduce that
model. Both stay, each with one job.

References:
  Madry et al., Towards deep learning models resistant to adversarial attacks, ICLR 2018.
  Wong, Rice, Kolter, Fast is better than free: revisiting adversarial training, ICLR 2020.
"""

import dataclasses
from typing import Callable

import numpy as np
import tensorflow as tf

LogitsFn = Callable[[tf.Tensor], tf.Tensor]


@dataclasses.dataclass(frozen=True)
class PGDConfig:
  """Settings of an L-infinity PGD attack; the defaults are Madry et al.'s MNIST attack.

  Attributes:
    epsilon: radius of the L-infinity ball, in [0, 1].
    steps: gradient steps (>= 1).
    step_size: size alpha of each signed step.
    random_start: start at a uniform random point of the ball (else at the image).
  """
  epsilon: float = 0.3
  steps: int = 40
  step_size: float = 0.01
  random_start: bool = True

  def __post_init__(self):
    if not 0.0 <= self.epsilon <= 1.0:
      raise ValueError(f"epsilon must lie in [0, 1], got {self.epsilon!r}.")
    if self.steps < 1:
      raise ValueError(f"steps must be >= 1, got {self.steps!r}.")
    if not self.step_size > 0:
      raise ValueError(f"step_size must be > 0, got {self.step_size!r}.")


def pgd_linf(logits_fn: LogitsFn, images, labels, epsilon, steps: int, step_size,
             random_start: bool = True, seed=None):
  """Untargeted L-infinity PGD; runs eagerly or inside a tf.function.

  Args:
    logits_fn: differentiable map float32 [B, 28, 28, 1] -> logits [B, 10].
    images: float32 [B, 28, 28, 1] in [0, 1].
    labels: int [B], the true classes.
    epsilon: float32 scalar (Python or tensor), radius of the ball.
    steps: number of steps, a Python int.
    step_size: float32 scalar, alpha.
    random_start: start from a uniform random point of the ball.
    seed: int32 [2], the stateless seed of the random start (required if random_start).

  Returns:
    float32 [B, 28, 28, 1] in [0, 1], within epsilon of `images` in L-infinity. Not every
    returned image need be misclassified.
  """
  images = tf.convert_to_tensor(images, tf.float32)
  labels = tf.cast(labels, tf.int64)
  epsilon = tf.cast(epsilon, tf.float32)
  step_size = tf.cast(step_size, tf.float32)
  lower = tf.maximum(images - epsilon, 0.0)
  upper = tf.minimum(images + epsilon, 1.0)
  if random_start:
    if seed is None:
      raise ValueError("random_start needs a seed (int32 [2]).")
    noise = tf.random.stateless_uniform(tf.shape(images), seed, -1.0, 1.0) * epsilon
    x = tf.clip_by_value(images + noise, lower, upper)
  else:
    x = images

  def step(i, x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
          labels=labels, logits=logits_fn(x)))
    grad = tape.gradient(loss, x)
    return i + 1, tf.clip_by_value(x + step_size * tf.sign(grad), lower, upper)

  _, x = tf.while_loop(lambda i, _: i < steps, step, (tf.constant(0), x))
  return tf.stop_gradient(x)


@dataclasses.dataclass(frozen=True)
class RobustAccuracy:
  """Accuracy of a model on clean images and under a PGD attack.

  Attributes:
    clean_accuracy: fraction of images classified correctly, in [0, 1].
    robust_accuracy: fraction classified correctly both clean and after the attack.
    num_images: how many images were evaluated.
    attack: the attack's settings.
  """
  clean_accuracy: float
  robust_accuracy: float
  num_images: int
  attack: PGDConfig


def evaluate_pgd(logits_fn: LogitsFn, images: np.ndarray, labels: np.ndarray,
                 attack: PGDConfig = PGDConfig(), batch_size: int = 500,
                 seed: int = 0) -> RobustAccuracy:
  """Clean and PGD accuracy of `logits_fn` on a set of images.

  Args:
    logits_fn: differentiable map float32 [B, 28, 28, 1] in [0, 1] -> logits [B, 10].
    images: float32 [N, 28, 28, 1] in [0, 1].
    labels: int [N].
    attack: the PGD settings (default: 40 steps of 0.01 at eps 0.3, random start).
    batch_size: images per attack batch.
    seed: seed of the random starts.

  Returns:
    A `RobustAccuracy`; an image counts as robust only if it is also correct when clean.
  """
  images = np.asarray(images, np.float32)
  labels = np.asarray(labels, np.int64)
  if len(images) != len(labels) or len(images) == 0:
    raise ValueError(f"Expected as many labels as images (> 0), got {len(images)} images "
                     f"and {len(labels)} labels.")

  @tf.function
  def batch_correct(x, y, batch_seed):
    clean = tf.argmax(logits_fn(x), axis=1) == y
    adv = pgd_linf(logits_fn, x, y, attack.epsilon, attack.steps, attack.step_size,
                   attack.random_start, batch_seed)
    robust = tf.argmax(logits_fn(adv), axis=1) == y
    return clean, tf.logical_and(clean, robust)

  clean, robust = [], []
  for i, start in enumerate(range(0, len(images), batch_size)):
    c, r = batch_correct(tf.constant(images[start:start + batch_size]),
                         tf.constant(labels[start:start + batch_size]),
                         tf.constant([seed, i], tf.int32))
    clean.append(c.numpy())
    robust.append(r.numpy())
  return RobustAccuracy(clean_accuracy=float(np.concatenate(clean).mean()),
                        robust_accuracy=float(np.concatenate(robust).mean()),
                        num_images=len(images), attack=attack)
