r"""Issue 2: the squared-error/KL balance a set of VAEs was trained at, and how well they fit.

Prints, per class:
- balance: the median over training images and latent dimensions of
  sigma_i^2 (2 ||d mean / d z_i||^2 + 1) (`abs_tf.training.encoder_balance`): 1 for VAEs
  trained with decoder variance 1/2 (this project's default), about 2 v for a smaller v;
- KL: the mean KL of the encoder's posterior from the prior, in nats, on `--fit_split`
  images of the class (what the latents carry);
- bound: the mean over those images of 784 min_z L_c(x, z) (eq. 8, ABS's latent search at
  the paper's settings, the class's own VAE): lower is a better fit.

  python scripts/encoder_balance.py --checkpoint_dir=checkpoints/abs
  python scripts/encoder_balance.py \
      --reference_weights=third_party/abs_authors/abs_official_weights.npz

Measured 2026-11-27 (300 images per class), balance / KL / bound summed over the classes:
this project's epoch-165 run 1.00-1.03 / 4.4-10.9 nats / 128.2; one trained at v = 0.35
0.72-0.80 / 5.6-12.8 / 123.6; the authors' released VAEs 0.49-0.90 / 5.6-13.2 / 121.3
(saved_models/abs/README.md). About 70 s per set of VAEs here.
"""

import os
import sys

from absl import app
from absl import flags
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from abs_tf.data import mnist  # pylint: disable=g-import-not-at-top
from abs_tf.models import abs_model  # pylint: disable=g-import-not-at-top
from abs_tf.models import latent_search  # pylint: disable=g-import-not-at-top
from abs_tf.models import vae as vae_lib  # pylint: disable=g-import-not-at-top
from abs_tf.tools import import_reference_weights  # pylint: disable=g-import-not-at-top
from abs_tf.training import encoder_balance  # pylint: disable=g-import-not-at-top
from abs_tf.training import vae_training  # pylint: disable=g-import-not-at-top

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint_dir", None, "A run of all ten classes (train_abs).")
flags.DEFINE_string("reference_weights", None, "Or the authors' abs_official_weights.npz.")
flags.DEFINE_integer("num_images", 300, "Images per class, for each measure.")
flags.DEFINE_enum("fit_split", "test", ["train", "test"], "Images of the KL and bound.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if (FLAGS.checkpoint_dir is None) == (FLAGS.reference_weights is None):
    raise app.UsageError("Give exactly one of --checkpoint_dir and --reference_weights.")
  if FLAGS.num_images < 1:
    raise app.UsageError(f"--num_images must be >= 1, got {FLAGS.num_images}.")
  vaes = (import_reference_weights.reference_vaes(FLAGS.reference_weights)
          if FLAGS.reference_weights else vae_training.load_vaes(FLAGS.checkpoint_dir)[0])
  train, fit = mnist.load("train"), mnist.load(FLAGS.fit_split)
  model = abs_model.ABS([vae.decoder for vae in vaes])
  for c, vae in enumerate(vaes):
    images = train.images[train.labels == c][:FLAGS.num_images]
    value = np.median(encoder_balance.balance(vae, images))
    images = fit.images[fit.labels == c][:FLAGS.num_images]
    kl = np.mean(vae.encoder(images, training=False).kl_divergence(vae_lib.prior()))
    bound = latent_search.NUM_PIXELS * np.mean(model.infer(images).losses[:, c])
    print(f"class {c}: median sigma^2 (2 |J|^2 + 1) = {value:.2f}, {FLAGS.fit_split} images: "
          f"KL {kl:.2f} nats, bound x784 {bound:.2f}", flush=True)


if __name__ == "__main__":
  app.run(main)
