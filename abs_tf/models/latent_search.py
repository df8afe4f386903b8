"""Optimisation-based inference of ABS: for each class, maximise the ELBO over z.

For an image x (flattened, 784 pixels) and the decoder mean mu_c of class c the paper's bound
with the posterior width fixed at 1 is, as a loss (lower is better),

  L_c(x, z) = ( ||x - mu_c(z)||^2 + beta * 0.5 * ||z||^2 ) / 784,          (eq. 8)

and the class's bound is l_c(x) = -min_z L_c(x, z). The minimum is searched in two stages:

1. Prototypes: the best of n latent samples z_k ~ N(0, I), drawn once; their decodings
   mu_c(z_k) are cached, so this stage is one matrix product per call:
   ||x - mu||^2 = ||x||^2 - 2 <x, mu> + ||mu||^2.
2. Refinement: `num_steps` Adam steps on z (Kingma & Ba, 2014) on the sum of the losses,
   projecting z into the ball of radius `clip_radius` after each step.

The search returns the last z, as the authors' code does (it reproduces their logits, see
tests/test_reference.py), unless that is worse than the starting prototype: then the start,
so the search never ends worse than it began.

References:
  Schott et al., ICLR 2019, section 3, "Optimization-based inference".
"""

import dataclasses
from typing import Protocol

import numpy as np
import tensorflow as tf

from abs_tf.models import classifier

NUM_PIXELS = classifier.NUM_PIXELS  # as latent_search.NUM_PIXELS for abs_model


@dataclasses.dataclass(frozen=True)
class LatentSearchConfig:
  """Settings of the latent search; the defaults are the paper's.

  Attributes:
    num_samples: latent samples (prototypes) per class; paper: 10^4.
    num_steps: Adam steps after the prototype search; paper: 20.
    learning_rate: Adam's step size; authors: 0.05.
    clip_radius: z is projected into the ball of this radius after each step; authors: 5.
      1e6 disables the projection.
    beta: weight of the prior term; 1 at inference.
    seed: seed of the latent samples.
  """
  num_samples: int = 10_000
  num_steps: int = 20
  learning_rate: float = 0.05
  clip_radius: float = 5.0
  beta: float = 1.0
  seed: int = 0

  def __post_init__(self):
    if not (isinstance(self.num_samples, (int, np.integer)) and self.num_samples >= 1):
      raise ValueError(f"num_samples must be an integer >= 1, got {self.num_samples!r}.")
    if not (isinstance(self.num_steps, (int, np.integer)) and self.num_steps >= 0):
      raise ValueError(f"num_steps must be an integer >= 0, got {self.num_steps!r}.")
    if not self.learning_rate > 0:
      raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}.")
    if not self.clip_radius > 0:
      raise ValueError(f"clip_radius must be > 0, got {self.clip_radius!r}.")
    if not self.beta >= 0:
      raise ValueError(f"beta must be >= 0, got {self.beta!r}.")


# Adam's constants, as in the authors' code (PyTorch defaults).
ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON = 0.9, 0.999, 1e-8


def draw_latents(num_samples: int, latent_size: int = 8, seed: int = 0) -> np.ndarray:
  """Draws the prototype latents as the authors do.

  n / 0.9 samples from N(0, I), of which the n of highest prior density (smallest norm)
  are kept.

  Returns:
    float32 [num_samples, latent_size].
  """
  rng = np.random.default_rng(seed)
  candidates = rng.standard_normal((int(np.ceil(num_samples / 0.9)), latent_size))
  order = np.argsort(np.sum(candidates**2, axis=1), kind="stable")
  return candidates[order[:num_samples]].astype(np.float32)


def squared_error_loss(x, means, z, beta):
  """L(x, z) of eq. 8.

  Args:
    x: float32 [B, 1, 784] or [B, C, 784].
    means: float32 [B, C, 784], decoder means mu_c(z).
    z: float32 [B, C, L].
    beta: weight of the prior term.

  Returns:
    float32 [B, C].
  """
  return (tf.reduce_sum(tf.square(x - means), axis=-1) +
          beta * 0.5 * tf.reduce_sum(tf.square(z), axis=-1)) / NUM_PIXELS


def project_to_ball(z, radius):
  """Scales each z (last axis) with norm above `radius` onto the sphere, keeping its sign."""
  norm = tf.norm(z, axis=-1, keepdims=True)
  return z * tf.minimum(1.0, radius / tf.maximum(norm, 1e-12))


def prototype_rows(means, latents, beta):
  """Rows of the prototype search: [mu, ||mu||^2 + beta * 0.5 * ||z||^2], latent-major.

  Latent-major (row k * C + c for latent k and class c), so that rows of consecutive
  latents are consecutive and can be computed chunk by chunk.

  Args:
    means: float32 [N, C, 784], decoder means of the latents for each class.
    latents: float32 [N, L].
    beta: weight of the prior term.

  Returns:
    float32 [N * C, 785].
  """
  offset = (tf.reduce_sum(tf.square(means), axis=-1) +
            beta * 0.5 * tf.reduce_sum(tf.square(latents), axis=-1)[:, None])
  return tf.reshape(tf.concat([means, offset[..., None]], axis=-1), [-1, NUM_PIXELS + 1])


def prototype_search(x, rows, latents):
  """Stage 1: the best cached prototype per image and class, as one matrix product.

  ||x - mu||^2 + c = ||x||^2 - 2 <x, mu> + (||mu||^2 + c); ||x||^2 does not change the
  argmin, so scores are [-2 x, 1] . rows.

  Args:
    x: float32 [B, 784].
    rows: float32 [N * C, 785] from `prototype_rows`.
    latents: float32 [N, L].

  Returns:
    float32 [B, C, L]: the latent of the best prototype for each image and class.
  """
  num = tf.shape(latents)[0]
  x_aug = tf.concat([-2.0 * x, tf.ones_like(x[:, :1])], axis=1)   # [B, 785]
  scores = tf.matmul(x_aug, rows, transpose_b=True)                # [B, N*C]
  best = tf.argmin(tf.reshape(scores, [tf.shape(x)[0], num, -1]), axis=1)  # [B, C]
  return tf.gather(latents, best)


class Decoder(Protocol):
  """What `refine` needs of the decoders (e.g. `class_decoders.ClassDecoders`)."""

  def mean(self, z):
    """Decoder means [..., 784] of latents z [..., L]."""

  def mean_and_vjp(self, z):
    """(means, vjp): vjp maps a cotangent [..., 784] on the means to one on z [..., L]."""


def refine(x, z0, decoder: Decoder, config: LatentSearchConfig):
  """Stage 2: Adam on z from z0.

  The gradient of the sum of losses is the decoder's vector-Jacobian product of
  dL/dmu = -2 (x - mu) / 784 plus the prior's beta z / 784; each loss depends on its own z
  only. Only the last iterate is decoded without a gradient (the authors' n_iter counts
  num_steps + 1 evaluations).

  Args:
    x: float32 images [..., 784], broadcastable against the decoder means of z0.
    z0: float32 [..., L], starting latents (any leading axes, e.g. [C, B, L]).
    decoder: the decoders (see `Decoder`).
    config: the search's settings.

  Returns:
    (loss, z, means): float32 [...], [..., L], [..., 784] at the last z, or at z0 where the
    last z is worse.
  """
  lr = tf.constant(config.learning_rate, tf.float32)
  beta = config.beta

  def means_and_gradient(z):
    means, vjp = decoder.mean_and_vjp(z)
    return means, vjp((-2.0 / NUM_PIXELS) * (x - means)) + (beta / NUM_PIXELS) * z

  def adam(t, z, m, v, grad):
    m = ADAM_BETA1 * m + (1.0 - ADAM_BETA1) * grad
    v = ADAM_BETA2 * v + (1.0 - ADAM_BETA2) * tf.square(grad)
    t1 = tf.cast(t + 1, tf.float32)
    denom = tf.sqrt(v) / tf.sqrt(1.0 - ADAM_BETA2**t1) + ADAM_EPSILON
    z = z - (lr / (1.0 - ADAM_BETA1**t1)) * m / denom
    return project_to_ball(z, config.clip_radius), m, v

  def step(t, z, m, v, grad):
    z, m, v = adam(t, z, m, v, grad)
    return (t + 1, z, m, v, means_and_gradient(z)[1])

  if config.num_steps == 0:
    means = decoder.mean(z0)
    return squared_error_loss(x, means, z0, beta), z0, means
  start_means, start_grad = means_and_gradient(z0)
  start = (squared_error_loss(x, start_means, z0, beta), z0, start_means)
  zeros = tf.zeros_like(z0)
  t, z, m, v, grad = tf.while_loop(
      lambda t, *_: t < config.num_steps - 1, step,
      (tf.constant(0), z0, zeros, zeros, start_grad),
      maximum_iterations=config.num_steps - 1)
  z, _, _ = adam(t, z, m, v, grad)
  means = decoder.mean(z)
  return _keep_better(start, (squared_error_loss(x, means, z, beta), z, means))


def _keep_better(best, candidate):
  """Elementwise choice, per (image, class), of the lower loss."""
  better = candidate[0] < best[0]
  return (tf.where(better, candidate[0], best[0]),
          tf.where(better[..., None], candidate[1], best[1]),
          tf.where(better[..., None], candidate[2], best[2]))
