r"""Issue 2: the squared-error/KL balance a set of VAEs was trained at, from their encoders.

Prints, per class, the median over training images and latent dimensions of
sigma_i^2 (2 ||d mean / d z_i||^2 + 1) (`abs_tf.training.encoder_balance`): 1 for VAEs trained
with decoder variance 1/2 (this project's default), about 2 v for a smaller variance v.

  python scripts/encoder_balance.py --checkpoint_dir=checkpoints/abs
  python scripts/encoder_balance.py --reference_weights=../shared/reference/abs_official_weights.npz

Measured 2026-11-27 (300 training images per class): this project's epoch-165 run 1.00-1.03,
the authors' released VAEs 0.49-0.90 (saved_models/abs/README.md).
"""

import os
import sys

from absl import app
from absl import flags
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from abs_tf.data import mnist  # pylint: disable=g-import-not-at-top
from abs_tf.tools import import_reference_weights  # pylint: disable=g-import-not-at-top
from abs_tf.training import encoder_balance  # pylint: disable=g-import-not-at-top
from abs_tf.training import vae_training  # pylint: disable=g-import-not-at-top

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint_dir", None, "A run of all ten classes (train_abs).")
flags.DEFINE_string("reference_weights", None, "Or the authors' abs_official_weights.npz.")
flags.DEFINE_integer("num_images", 300, "Training images per class.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if (FLAGS.checkpoint_dir is None) == (FLAGS.reference_weights is None):
    raise app.UsageError("Give exactly one of --checkpoint_dir and --reference_weights.")
  if FLAGS.num_images < 1:
    raise app.UsageError(f"--num_images must be >= 1, got {FLAGS.num_images}.")
  vaes = (import_reference_weights.reference_vaes(FLAGS.reference_weights)
          if FLAGS.reference_weights else vae_training.load_vaes(FLAGS.checkpoint_dir)[0])
  train = mnist.load("train")
  for c, vae in enumerate(vaes):
    images = train.images[train.labels == c][:FLAGS.num_images]
    value = np.median(encoder_balance.balance(vae, images))
    print(f"class {c}: median sigma^2 (2 |J|^2 + 1) = {value:.2f}", flush=True)


if __name__ == "__main__":
  app.run(main)
