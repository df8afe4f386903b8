"""How strongly a VAE was trained to weigh the squared error against the KL term.

At the optimum of a Gaussian encoder for the loss ||x - mean(z)||^2 / (2 v) + KL(q || p), with
the squared error expanded to second order around the posterior mean mu,

  E_q ||x - mean(z)||^2 ~ ||x - mean(mu)||^2 + sum_i sigma_i^2 ||J_i||^2,   J_i = d mean / d z_i,

each posterior variance satisfies sigma_i^2 (||J_i||^2 / v + 1) = 1. `balance` measures
sigma_i^2 (2 ||J_i||^2 + 1): 1 for an encoder trained at v = 1/2 (this project's default),
about 2 v for one trained at a smaller v (the squared error weighed more). See
scripts/encoder_balance.py and the ABS model card (issue 2).

References:
  Kingma & Welling, 2013 (the ELBO); Schott et al., ICLR 2019, section 3.
"""

import numpy as np
import tensorflow as tf

from abs_tf.models import classifier
from abs_tf.models import vae as vae_lib


def balance(vae: vae_lib.VAE, images: np.ndarray) -> np.ndarray:
  """sigma_i^2 (2 ||J_i||^2 + 1) per image and latent dimension, J_i by forward-mode
  differentiation of the decoder mean at the encoder's mean.

  Args:
    vae: a VAE with encoder and decoder.
    images: float32 [B, 28, 28, 1].

  Returns:
    float32 [B, latent_size]; 1 at the optimum of an encoder trained with v = 1/2.
  """
  posterior = vae.encoder(images, training=False)
  mean, variance = posterior.mean(), posterior.variance()
  size = int(mean.shape[-1])
  squared_norms = []
  for i in range(size):
    tangent = tf.one_hot(tf.fill([tf.shape(mean)[0]], i), size)
    with tf.autodiff.ForwardAccumulator(mean, tangent) as accumulator:
      decoded = tf.reshape(vae.decoder.mean(mean), [-1, classifier.NUM_PIXELS])
    squared_norms.append(tf.reduce_sum(tf.square(accumulator.jvp(decoded)), axis=-1))
  return (variance * (2.0 * tf.stack(squared_norms, axis=-1) + 1.0)).numpy()
