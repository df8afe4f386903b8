r"""Issue 2: would VAEs from another training run (another seed, say) make ABS more accurate?

ABS's logit for class c depends only on the VAE of class c, so the logits of the full run
and of ABS with the other run's VAEs, computed once each on the last `--num_images`
training images, give the accuracy of every combination (each subset of `--classes` taken
from the other run) without another latent search. Prints the combinations, best first,
and the errors by true class; the logits are kept in `--other_dir` for a rerun.

  python -m abs_tf.train_abs --classes=4,6,7,9 --seed=1 \
      --checkpoint_dir=checkpoints/abs_s1_c4679 --epochs=165 --learning_rate_drop_epoch=140
  python scripts/compare_class_vaes.py --checkpoint_dir=checkpoints/abs \
      --other_dir=checkpoints/abs_s1_c4679 --classes=4,6,7,9 --num_images=10000

The chosen combination becomes the shipped models through `train_abs --class_checkpoints=...
--export`. Training images only: the test set is not used to choose.

References:
  Schott et al., ICLR 2019, section 3 (the logits are the class-wise ELBOs).
"""

import itertools
import os
import pathlib
import sys
import time
from typing import Dict, Sequence, Tuple

from absl import app
from absl import flags
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from abs_tf.data import mnist  # pylint: disable=g-import-not-at-top
from abs_tf.models import abs_model  # pylint: disable=g-import-not-at-top
from abs_tf.training import vae_training  # pylint: disable=g-import-not-at-top

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint_dir", "checkpoints/abs", "The run of all ten classes.")
flags.DEFINE_string("other_dir", None, "A run of (some of) --classes.")
flags.DEFINE_list("classes", None, "Classes whose VAEs may come from --other_dir.")
flags.DEFINE_integer("num_images", 10000, "The last N training images.")
flags.DEFINE_integer("batch_size", 500, "Images per ABS call.")


def combination_accuracies(base: np.ndarray, other: np.ndarray, labels: np.ndarray,
                           classes: Sequence[int]) -> Dict[Tuple[int, ...], float]:
  """Accuracy of each subset of `classes` taken from `other`.

  Args:
    base, other: float32 [N, 10], logits of the full run and of the other run's VAEs
      (columns outside `classes` are not read from `other`).
    labels: int [N].
    classes: the classes that may be swapped.

  Returns:
    subset (sorted tuple; () is the full run alone) -> accuracy.
  """
  if base.shape != other.shape or base.shape != (len(labels), abs_model.NUM_CLASSES):
    raise ValueError(f"Expected logits [{len(labels)}, 10], got {base.shape} and "
                     f"{other.shape}.")
  accuracies = {}
  for size in range(len(classes) + 1):
    for subset in itertools.combinations(sorted(classes), size):
      logits = base.copy()
      logits[:, list(subset)] = other[:, list(subset)]
      accuracies[subset] = float(np.mean(logits.argmax(axis=1) == labels))
  return accuracies


def abs_logits(checkpoint_dir, replaced, images, batch_size) -> np.ndarray:
  """Logits [N, 10] of ABS (paper settings) on the run's VAEs with `replaced` swapped in."""
  vaes, _ = vae_training.load_vaes(checkpoint_dir, replaced)
  model = abs_model.ABS([v.decoder for v in vaes])
  return np.concatenate([model(images[s:s + batch_size]).numpy()
                         for s in range(0, len(images), batch_size)])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if not FLAGS.other_dir or not FLAGS.classes:
    raise app.UsageError("--other_dir and --classes are required.")
  classes = [int(c) for c in FLAGS.classes]
  train = mnist.load("train")
  if not 0 < FLAGS.num_images <= len(train.labels):
    raise app.UsageError(f"--num_images must be in [1, {len(train.labels)}].")
  split = train.take(len(train.labels) - FLAGS.num_images, FLAGS.num_images)
  cache = pathlib.Path(FLAGS.other_dir) / f"compare_logits_{FLAGS.num_images}.npz"
  if cache.is_file():
    with np.load(cache) as saved:
      base, other = saved["base"], saved["other"]
  else:
    start = time.time()
    base = abs_logits(FLAGS.checkpoint_dir, {}, split.images, FLAGS.batch_size)
    other = abs_logits(FLAGS.checkpoint_dir, {c: FLAGS.other_dir for c in classes},
                       split.images, FLAGS.batch_size)
    print(f"Logits of both in {time.time() - start:.0f} s.")
    np.savez(cache, base=base, other=other)
  accuracies = combination_accuracies(base, other, split.labels, classes)
  print(f"ABS accuracy on the last {FLAGS.num_images} training images, VAEs of the listed "
        f"classes from {FLAGS.other_dir}:")
  for subset, value in sorted(accuracies.items(), key=lambda item: -item[1]):
    print(f"  {','.join(map(str, subset)) or '(none)':12s} {100 * value:.2f} %")
  for name, logits in (("full run", base), ("all swapped", np.where(
      np.isin(np.arange(10), classes)[None], other, base))):
    wrong = logits.argmax(axis=1) != split.labels
    print(f"Errors by true class, {name}: {np.bincount(split.labels[wrong], minlength=10)}")


if __name__ == "__main__":
  app.run(main)
