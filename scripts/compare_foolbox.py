r"""Compares this project's attacks with Foolbox 3.3.4 on the same CNN, images and budgets.

Each line runs one of this project's attacks and its Foolbox counterpart under the same
epsilon search (abs_tf/tools/foolbox_reference.py) and prints both medians. The issue's bar:
the L-inf BIM median within 5 % of Foolbox's.

  python scripts/compare_foolbox.py --num_images=100 [--model=path/to/saved_model]

By default the model is the authors' CNN (the shipped CNN once `--model=cnn`).

References:
  Schott et al., ICLR 2019, section 4. Rauber et al., Foolbox Native (2020).
"""

import time

from absl import app
from absl import flags
import numpy as np

from abs_tf import registry
from abs_tf.attacks import gradient_attacks
from abs_tf.data import mnist
from abs_tf.tools import foolbox_reference
from abs_tf.tools import import_reference_cnn

# name -> (this project's attack, Foolbox's, allowed relative difference of the medians)
COMPARISONS = {
    "bim_linf": (gradient_attacks.BIMLinf, foolbox_reference.FoolboxLinfBIM, 0.05),
    "fgsm": (gradient_attacks.FGSM, foolbox_reference.FoolboxFGSM, 0.05),
}

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_images", 100, "First test images attacked.")
flags.DEFINE_list("attacks", list(COMPARISONS), f"Among {sorted(COMPARISONS)}.")
flags.DEFINE_string("model", None, "Registry name or SavedModel path; default: the authors' "
                    "CNN imported from --weights.")
flags.DEFINE_string("weights", import_reference_cnn.DEFAULT_WEIGHTS,
                    "The authors' cnn_official_weights.npz.")


def main(argv):
  del argv
  split = mnist.load("test").take(0, FLAGS.num_images)
  model = (registry.load_model(FLAGS.model) if FLAGS.model else
           import_reference_cnn.import_reference_cnn(FLAGS.weights))
  print(f"{FLAGS.model or 'authors CNN'}, first {FLAGS.num_images} test images.")
  print(f"{'attack':<10}{'ours':>9}{'foolbox':>9}{'ratio':>8}  within{'q ours':>9}"
        f"{'q fb':>8}{'s ours':>8}{'s fb':>8}")
  for name in FLAGS.attacks:
    ours_cls, theirs_cls, tolerance = COMPARISONS[name]
    results = []
    for cls in (ours_cls, theirs_cls):
      start = time.perf_counter()
      results.append((cls()(model, split.images, split.labels), time.perf_counter() - start))
    (ours, t_ours), (theirs, t_theirs) = results
    m_ours, m_theirs = np.median(ours.distances), np.median(theirs.distances)
    ratio = m_ours / m_theirs
    print(f"{name:<10}{m_ours:>9.4f}{m_theirs:>9.4f}{ratio:>8.3f}  "
          f"{'yes' if abs(ratio - 1) <= tolerance else 'NO':<6}{ours.queries.mean():>9.1f}"
          f"{theirs.queries.mean():>8.1f}{t_ours:>8.1f}{t_theirs:>8.1f}")


if __name__ == "__main__":
  app.run(main)
