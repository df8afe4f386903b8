r"""Issue 2: how strongly were a set of VAEs trained to weigh the squared error against the KL?

At the optimum of a Gaussian encoder for the loss ||x - mean(z)||^2 / (2 v) + KL(q || p), with
the squared error expanded to second order around the posterior mean mu,

  E_q ||x - mean(z)||^2 ~ ||x - mean(mu)||^2 + sum_i sigma_i^2 ||J_i||^2,   J_i = d mean / d z_i,

each posterior variance satisfies sigma_i^2 (||J_i||^2 / v + 1) = 1. This script prints, per
class, the median over images and latent dimensions of sigma_i^2 (2 ||J_i||^2 + 1): 1 for VAEs
trained at v = 1/2 (this project's default), v-ish below (e.g. ~0.7 for v ~ 0.35) for VAEs trained
with the squared error weighed more. J_i comes from forward-mode differentiation of the decoder
at the encoder's mean.

  python scripts/encoder_balance.py --checkpoint_dir=checkpoints/abs
  python scripts/encoder_balance.py --reference_weights=../shared/reference/abs_official_weights.npz

Measured 2026-11-27 (300 training images per class): this project's epoch-165 run 1.00-1.08,
the authors' released VAEs 0.48-0.86 (saved_models/abs/README.md).

References:
  Kingma & Welling, 2013 (the ELBO); Schott et al., ICLR 2019, section 3.
"""

import os
import sys

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from abs_tf.data import mnist  # pylint: disable=g-import-not-at-top
from abs_tf.models import vae as vae_lib  # pylint: disable=g-import-not-at-top
from abs_tf.tools import torch_weights  # pylint: disable=g-import-not-at-top
from abs_tf.training import vae_training  # pylint: disable=g-import-not-at-top

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint_dir", None, "A run of all ten classes (train_abs).")
flags.DEFINE_string("reference_weights", None, "Or the authors' abs_official_weights.npz.")
flags.DEFINE_integer("num_images", 300, "Training images per class.")


def reference_vaes(weights: str):
  """The authors' ten VAEs (encoders and decoders) from their npz."""
  arrays = np.load(weights)
  vaes = []
  for c in range(vae_training.NUM_CLASSES):
    vae = vae_lib.VAE(name=f"reference_vae_{c}")
    torch_weights.load_sequential(vae.encoder.net, arrays, f"class_{c}/Encoder.")
    torch_weights.load_sequential(vae.decoder.net, arrays, f"class_{c}/Decoder.")
    vaes.append(vae)
  return vaes


def balance(vae: vae_lib.VAE, images: np.ndarray) -> np.ndarray:
  """sigma_i^2 (2 ||J_i||^2 + 1) per image and latent dimension.

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
      decoded = tf.reshape(vae.decoder.mean(mean), [-1, vae_lib.NUM_PIXELS])
    squared_norms.append(tf.reduce_sum(tf.square(accumulator.jvp(decoded)), axis=-1))
  return (variance * (2.0 * tf.stack(squared_norms, axis=-1) + 1.0)).numpy()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if (FLAGS.checkpoint_dir is None) == (FLAGS.reference_weights is None):
    raise app.UsageError("Give exactly one of --checkpoint_dir and --reference_weights.")
  if FLAGS.num_images < 1:
    raise app.UsageError(f"--num_images must be >= 1, got {FLAGS.num_images}.")
  vaes = (reference_vaes(FLAGS.reference_weights) if FLAGS.reference_weights else
          vae_training.load_vaes(FLAGS.checkpoint_dir)[0])
  train = mnist.load("train")
  for c, vae in enumerate(vaes):
    images = train.images[train.labels == c][:FLAGS.num_images]
    print(f"class {c}: median sigma^2 (2 |J|^2 + 1) = {np.median(balance(vae, images)):.2f}",
          flush=True)


if __name__ == "__main__":
  app.run(main)
