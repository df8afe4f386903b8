r"""Compares this project's attacks with Foolbox 3.3.4 on the same CNN, images and budgets.

Each line runs one of this project's attacks and its Foolbox counterpart under the same
epsilon search (abs_tf/tools/foolbox_reference.py) and prints both medians. The issue's bar:
the L-inf BIM median within 5 % of Foolbox's.

Then the decision-based attacks (abs_tf/tools/foolbox_decision.py), each with the queries
Foolbox spent: Boundary (Foolbox: `--boundary_foolbox_steps` steps) and Pointwise (Foolbox
to convergence). The bar: this project's median no larger than Foolbox's.

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
from abs_tf.tools import foolbox_decision
from abs_tf.tools import foolbox_reference
from abs_tf.tools import import_reference_cnn

# name -> (this project's attack, Foolbox's, allowed relative difference of the medians)
COMPARISONS = {
    "bim_linf": (gradient_attacks.BIMLinf, foolbox_reference.FoolboxLinfBIM, 0.05),
    "fgsm": (gradient_attacks.FGSM, foolbox_reference.FoolboxFGSM, 0.05),
}

# Decision-based comparisons at equal query budgets: name -> function returning a
# foolbox_decision.Comparison.
DECISION_COMPARISONS = {
    "boundary": lambda model, images, labels: foolbox_decision.compare_boundary(
        model, images, labels, foolbox_steps=FLAGS.boundary_foolbox_steps),
    "pointwise": foolbox_decision.compare_pointwise,
}

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_images", 100, "First test images attacked.")
flags.DEFINE_list("attacks", list(COMPARISONS), f"Among {sorted(COMPARISONS)}.")
flags.DEFINE_list("decision_attacks", list(DECISION_COMPARISONS),
                  f"Among {sorted(DECISION_COMPARISONS)}.")
flags.DEFINE_integer("boundary_foolbox_steps", 5000, "Foolbox Boundary steps; this project's "
                     "Boundary attack gets the queries they take.")
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
  for name in FLAGS.decision_attacks:
    comparison = DECISION_COMPARISONS[name](model, split.images, split.labels)
    ours, theirs = comparison.ours, comparison.theirs
    m_ours, m_theirs = comparison.medians()
    print(f"{name:<10}{m_ours:>9.4f}{m_theirs:>9.4f}{m_ours / m_theirs:>8.3f}  "
          f"{'yes' if m_ours <= m_theirs else 'NO':<6}{ours.queries.mean():>9.1f}"
          f"{theirs.queries.mean():>8.1f}{ours.seconds:>8.1f}{theirs.seconds:>8.1f}",
          flush=True)


if __name__ == "__main__":
  app.run(main)
