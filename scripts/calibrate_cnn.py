r"""Calibrates the gradient and transfer attacks against the paper on the authors' CNN.

The paper's CNN column of Table 1 was measured on the CNN whose weights the authors released.
This script imports it, runs each attack with the paper's budgets (Foolbox 1.3's defaults,
the attacks' defaults here) on the first `--num_images` MNIST test images and prints the
median distance beside the paper's; each should lie within `--tolerance` (10 %) of it.

  python scripts/calibrate_cnn.py --num_images=100 [--attacks=fgsm,bim_linf] \
      [--substitute=substitute_cnn|target] [--output=/tmp/calibration.json]

The paper's transfer medians on the CNN (1.1 L2, 0.08 L-inf) equal its white-box BIM medians,
as if the substitute ("a simple CNN (see section 5)") were the CNN itself; `--substitute=target`
measures that case, the default the project's own, independently trained substitute.

References:
  Schott et al., ICLR 2019, Table 1 (CNN column).
"""

import json
import time

from absl import app
from absl import flags
import numpy as np

from abs_tf import attacks
from abs_tf import registry
from abs_tf.data import mnist
from abs_tf.tools import import_reference_cnn

# Table 1's CNN column: median distance and accuracy under the thresholds below.
PAPER_CNN = {"fgm": (1.4, 0.48), "bim_l2": (1.1, 0.13), "transfer_l2": (1.1, 0.14),
             "fgsm": (0.10, 0.04), "bim_linf": (0.08, 0.0), "mim": (0.08, 0.0),
             "transfer_linf": (0.08, 0.0)}
THRESHOLDS = {"l2": 1.5, "linf": 0.3}

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_images", 100, "First test images attacked.")
flags.DEFINE_list("attacks", list(PAPER_CNN), f"Attacks among {sorted(PAPER_CNN)}.")
flags.DEFINE_string("weights", import_reference_cnn.DEFAULT_WEIGHTS,
                    "The authors' cnn_official_weights.npz.")
flags.DEFINE_string("substitute", "substitute_cnn",
                    "Registry name or SavedModel path of the transfer attacks' substitute, "
                    "or 'target': the attacked CNN itself.")
flags.DEFINE_float("tolerance", 0.10, "Relative tolerance around the paper's medians.")
flags.DEFINE_string("output", None, "Optional JSON file for the measured rows.")


def calibrate(model, images, labels, names, substitute_name, tolerance):
  """Runs each attack and compares its median with the paper's; returns one dict per row."""
  rows = []
  for name in names:
    if name not in PAPER_CNN:
      raise ValueError(f"No paper value for {name!r}; known: {sorted(PAPER_CNN)}.")
    kwargs = {}
    if name.startswith("transfer"):
      kwargs["substitute"] = (model if substitute_name == "target" else
                              registry.load_model(substitute_name))
    start = time.perf_counter()
    result = attacks.ATTACKS[name](**kwargs)(model, images, labels)
    median = float(np.median(result.distances))
    paper, paper_accuracy = PAPER_CNN[name]
    rows.append(dict(attack=name, metric=result.metric, median=median, paper=paper,
                     ratio=median / paper, within=abs(median / paper - 1) <= tolerance,
                     accuracy=float(np.mean(result.distances > THRESHOLDS[result.metric])),
                     paper_accuracy=paper_accuracy,
                     success=float(result.success.mean()),
                     queries_per_sample=float(result.queries.mean()),
                     seconds=time.perf_counter() - start))
  return rows


def main(argv):
  del argv
  split = mnist.load("test").take(0, FLAGS.num_images)
  model = import_reference_cnn.import_reference_cnn(FLAGS.weights)
  rows = calibrate(model, split.images, split.labels, FLAGS.attacks, FLAGS.substitute,
                   FLAGS.tolerance)
  print(f"Authors' CNN, first {FLAGS.num_images} test images; tolerance "
        f"{FLAGS.tolerance:.0%} of Table 1's CNN column; transfer substitute: "
        f"{FLAGS.substitute}.")
  print(f"{'attack':<14}{'metric':<7}{'median':>9}{'paper':>8}{'ratio':>8}  within"
        f"{'acc':>7}{'paper':>7}{'success':>9}{'queries':>10}{'seconds':>9}")
  for r in rows:
    print(f"{r['attack']:<14}{r['metric']:<7}{r['median']:>9.4f}{r['paper']:>8.2f}"
          f"{r['ratio']:>8.3f}  {'yes' if r['within'] else 'NO':<6}{r['accuracy']:>7.0%}"
          f"{r['paper_accuracy']:>7.0%}{r['success']:>9.2f}{r['queries_per_sample']:>10.1f}"
          f"{r['seconds']:>9.1f}")
  print(f"acc: accuracy under L2 <= {THRESHOLDS['l2']}, L-inf <= {THRESHOLDS['linf']} "
        "(Table 1's right values).")
  if FLAGS.output:
    with open(FLAGS.output, "w") as f:
      json.dump(rows, f, indent=2)


if __name__ == "__main__":
  app.run(main)
