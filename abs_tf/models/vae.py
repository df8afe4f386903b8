"""The class-conditional variational autoencoder of ABS.

One VAE models p(x | y) for one class y (Kingma & Welling, 2013):

  q_phi(z | x) = N(z; mu_phi(x), diag(sigma_phi(x)^2))      (encoder)
  p(z)         = N(z; 0, I_8)                                (prior)
  p_theta(x|z) = N(x; sigmoid(g_theta(z)), v I_784)         (decoder)

The decoder's variance v is fixed (the paper does not state it). Its negative log-likelihood
is the squared error ||x - mean(z)||^2 / (2 v) up to a constant, so the training loss (the
negative ELBO, eq. 7 of the paper) is

  -ELBO(x) = E_q[ ||x - mean(z)||^2 ] / (2 v) + kl_weight * KL(q(z|x) || p(z)) + const.

With v = 1/2 (the default) this is the squared-error bound that ABS maximises at inference
(see `latent_search.py`); a smaller v weighs the squared error more against the KL term during
training only (inference always uses the bound of eq. 8). Layers follow the authors' released
model (third_party/abs_authors/README.md).

References:
  Schott, Rauber, Bethge, Brendel. Towards the first adversarially robust neural network
  model on MNIST. ICLR 2019, section 3.
"""

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from abs_tf.models import classifier

tfd = tfp.distributions

LATENT_SIZE = 8
IMAGE_SHAPE = (28, 28, 1)
NUM_PIXELS = classifier.NUM_PIXELS  # as vae.NUM_PIXELS for the class decoders
# Default decoder variance: with 1/2, -log p(x|z) = ||x - mean||^2 + const.
DECODER_VARIANCE = 0.5
# PyTorch BatchNorm defaults (eps 1e-5, momentum 0.1 == Keras momentum 0.9).
_BN = dict(epsilon=1e-5, momentum=0.9)


def _conv_block(filters, kernel, stride, batch_norm=True):
  layers = [keras.layers.Conv2D(filters, kernel, strides=stride, padding="valid")]
  if batch_norm:
    layers += [keras.layers.BatchNormalization(**_BN), keras.layers.Activation("elu")]
  return layers


def _deconv_block(filters, kernel, stride, batch_norm=True):
  layers = [keras.layers.Conv2DTranspose(filters, kernel, strides=stride, padding="valid")]
  if batch_norm:
    layers += [keras.layers.BatchNormalization(**_BN), keras.layers.Activation("elu")]
  return layers


class Encoder(keras.layers.Layer):
  """Variational posterior q(z | x) of one class.

  Conv 5x5/32 s1, BN, ELU; Conv 4x4/32 s2, BN, ELU; Conv 3x3/64 s2, BN, ELU;
  Conv 5x5/16 s1 whose channels 0..7 are the mean and 8..15 the log-variance.
  """

  def __init__(self, latent_size=LATENT_SIZE, **kwargs):
    super().__init__(**kwargs)
    self.latent_size = latent_size
    self.net = keras.Sequential(
        _conv_block(32, 5, 1) + _conv_block(32, 4, 2) + _conv_block(64, 3, 2) +
        _conv_block(2 * latent_size, 5, 1, batch_norm=False))

  def build(self, input_shape):
    self.net.build(input_shape)

  def call(self, images, training=False):
    """Args: images float32 [B, 28, 28, 1] in [0, 1]. Returns: tfd.MultivariateNormalDiag
    over z, batch shape [B], event shape [8]."""
    out = tf.reshape(self.net(images, training=training), [-1, 2 * self.latent_size])
    mean, log_var = tf.split(out, 2, axis=-1)
    return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * log_var))


class Decoder(keras.layers.Layer):
  """Generative model p(x | z) of one class.

  ConvT 4x4/32 s1, BN, ELU; ConvT 5x5/16 s2, BN, ELU; ConvT 5x5/16 s2, BN, ELU;
  ConvT 4x4/1 s1; the image mean is the sigmoid of the last layer.
  """

  def __init__(self, latent_size=LATENT_SIZE, variance=DECODER_VARIANCE, **kwargs):
    super().__init__(**kwargs)
    if not variance > 0:
      raise ValueError(f"The decoder's variance must be > 0, got {variance!r}.")
    self.latent_size = latent_size
    self.variance = float(variance)
    self.net = keras.Sequential(
        _deconv_block(32, 4, 1) + _deconv_block(16, 5, 2) + _deconv_block(16, 5, 2) +
        _deconv_block(1, 4, 1, batch_norm=False))

  def build(self, input_shape):
    self.net.build((None, 1, 1, self.latent_size))

  def mean(self, z, training=False):
    """Args: z float32 [B, 8]. Returns: the image mean, float32 [B, 28, 28, 1] in (0, 1)."""
    z = tf.reshape(z, [-1, 1, 1, self.latent_size])
    return tf.sigmoid(self.net(z, training=training))

  def call(self, z, training=False):
    """Args: z float32 [B, 8]. Returns: tfd.Independent Normal over images, batch shape [B],
    event shape [28, 28, 1], mean in (0, 1), variance `self.variance`."""
    return tfd.Independent(
        tfd.Normal(loc=self.mean(z, training=training), scale=math.sqrt(self.variance)),
        reinterpreted_batch_ndims=3)


def prior(latent_size=LATENT_SIZE):
  """p(z) = N(0, I)."""
  return tfd.MultivariateNormalDiag(loc=tf.zeros([latent_size]))


class VAE(keras.Model):
  """The VAE of one class: encoder, decoder and the training loss.

  Args:
    latent_size: dimension of z.
    decoder_variance: the decoder Gaussian's fixed variance v (training only).
  """

  def __init__(self, latent_size=LATENT_SIZE, decoder_variance=DECODER_VARIANCE, **kwargs):
    super().__init__(**kwargs)
    self.latent_size = latent_size
    self.encoder = Encoder(latent_size, name="encoder")
    self.decoder = Decoder(latent_size, variance=decoder_variance, name="decoder")
    self.encoder.build((None,) + IMAGE_SHAPE)
    self.decoder.build((None, latent_size))

  def call(self, images, training=False):
    """Reconstructs images through one posterior sample; returns the decoder distribution."""
    return self.decoder(self.encoder(images, training=training).sample(), training=training)

  def loss_terms(self, images, training=True, seed=None):
    """Per-image terms of the negative ELBO, one posterior sample each.

    Args:
      images: float32 [B, 28, 28, 1] in [0, 1].
      training: batch-norm mode.
      seed: optional stateless sample seed, int32 [2].

    Returns:
      (reconstruction, kl): float32 [B] each, in nats; reconstruction is -log p(x|z),
      i.e. ||x - mean(z)||^2 / (2 v) + 392 log(2 pi v) (v = 1/2: + 392 log(pi)); kl is
      KL(q(z|x) || p(z)).
    """
    posterior = self.encoder(images, training=training)
    z = posterior.sample(seed=seed)
    reconstruction = -self.decoder(z, training=training).log_prob(images)
    kl = posterior.kl_divergence(prior(self.latent_size))
    return reconstruction, kl
