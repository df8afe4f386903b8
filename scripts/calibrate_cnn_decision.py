r"""Calibrates the decision-based attacks against the paper on the authors' CNN.

The paper's CNN column of Table 1 was measured on the CNN whose weights the authors released.
This script imports it, runs the Boundary, Pointwise, salt-and-pepper and Gaussian noise
attacks with the attacks' defaults, which are the paper's budgets (Foolbox 1.3's defaults:
5000 Boundary iterations of up to 25 directions, salt and pepper with 10 repetitions of 100
probabilities, Gaussian noise with 1000 strengths), except that the Pointwise attack repeats
its start and resets 5 times (Foolbox 1.3's single run reaches 13.0 here, not the paper's
9.0), on the first `--num_images` MNIST test images, and prints each median beside the
paper's; each should lie within `--tolerance` (10 %). One JSON line per attack goes to
`--output` (numbers as numbers).

  python scripts/calibrate_cnn_decision.py --num_images=100 \
      [--attacks=boundary,pointwise,salt_and_pepper,gaussian_noise] \
      [--boundary_steps=5000] [--output=runs/calibrate_cnn_decision.jsonl]

References:
  Schott et al., ICLR 2019, Table 1 (CNN column); Foolbox 1.3 (Rauber et al., 2017).
"""

import json
import pathlib
import sys
import time

from absl import app
from absl import flags
import numpy as np

from abs_tf.attacks import ATTACKS
from abs_tf.data import mnist
from abs_tf.tools import import_reference_cnn

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python scripts/<name>.py` from anywhere
from scripts import table1_cnn  # pylint: disable=g-import-not-at-top

# Table 1's CNN column for the decision-based attacks: median and accuracy under THRESHOLDS.
PAPER_CNN = {name: table1_cnn.PAPER_CNN[name] for name in table1_cnn.DECISION}
THRESHOLDS = table1_cnn.THRESHOLDS


def calibrate(model, images, labels, settings, tolerance=0.1):
  """Runs each attack and compares its median with the paper's.

  Args:
    model: the `Classifier` attacked.
    images: float32 [N, 28, 28, 1]; labels: int [N].
    settings: attack name -> keyword arguments of its constructor.
    tolerance: allowed relative difference of the medians.

  Returns:
    One dict per attack: name, metric, median, paper median, ratio, within tolerance,
    accuracy under the paper's threshold (and the paper's), mean queries, seconds.
  """
  rows = []
  for name, kwargs in settings.items():
    result = ATTACKS[name](**kwargs)(model, images, labels)
    median = float(np.median(result.distances))
    paper_median, paper_accuracy = PAPER_CNN[name]
    ratio = median / paper_median
    rows.append(dict(
        attack=name, metric=result.metric, num_images=len(labels), median=median,
        paper_median=paper_median, ratio=ratio, within=bool(abs(ratio - 1) <= tolerance),
        accuracy=float(np.mean(result.distances > THRESHOLDS[result.metric])),
        paper_accuracy=paper_accuracy, failures=int(np.sum(~result.success)),
        mean_queries=float(result.queries.mean()), seconds=result.seconds,
        model_seconds=result.model_seconds, settings=kwargs))
  return rows


FLAGS = flags.FLAGS


def define_flags():
  """Defines the command line's flags: only when run as a script, so that tests can import
  this module beside other scripts with flags of the same names."""
  table1_cnn.define_common_flags(PAPER_CNN, "Optional JSON-lines file, one line per attack.")
  flags.DEFINE_integer("boundary_steps", 5000, "Boundary iterations (the paper: 5000).")
  flags.DEFINE_integer("boundary_directions_per_call", 5,
                       "Boundary candidates per sample and model call (does not change the "
                       "walk's steps, only how many queries follow a success).")
  flags.DEFINE_integer("seed", 0, "Seed of every attack.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  unknown = sorted(set(FLAGS.attacks) - set(PAPER_CNN))
  if unknown:
    raise app.UsageError(f"Unknown attacks {unknown}; choose among {sorted(PAPER_CNN)}.")
  split = mnist.load("test").take(0, FLAGS.num_images)
  model = import_reference_cnn.import_reference_cnn(FLAGS.weights)
  settings = {name: dict(seed=FLAGS.seed) for name in FLAGS.attacks}
  if "boundary" in settings:
    settings["boundary"].update(steps=FLAGS.boundary_steps,
                                directions_per_call=FLAGS.boundary_directions_per_call)
  print(f"Authors' CNN, first {FLAGS.num_images} test images.", flush=True)
  print(f"{'attack':<16}{'metric':>7}{'median':>9}{'paper':>8}{'ratio':>7}  within"
        f"{'acc':>6}{'paper':>7}{'queries':>10}{'seconds':>9}", flush=True)
  for name in settings:  # one at a time, so that finished attacks print early
    start = time.perf_counter()
    (row,) = calibrate(model, split.images, split.labels, {name: settings[name]},
                       FLAGS.tolerance)
    print(f"{name:<16}{row['metric']:>7}{row['median']:>9.3f}{row['paper_median']:>8.2f}"
          f"{row['ratio']:>7.3f}  {'yes' if row['within'] else 'NO':<6}"
          f"{row['accuracy']:>6.2f}{row['paper_accuracy']:>7.2f}{row['mean_queries']:>10.0f}"
          f"{time.perf_counter() - start:>9.0f}", flush=True)
    if FLAGS.output:
      with open(FLAGS.output, "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
  define_flags()
  app.run(main)
