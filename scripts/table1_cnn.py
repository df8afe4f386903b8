"""Table 1's CNN column (Schott et al., ICLR 2019), the calibration scripts' targets.

A view of `abs_tf.evaluation.paper_table` (the one transcription of Table 1): the median
adversarial distance of each attack the calibration runs on the CNN and the accuracy under
the paper's thresholds, in Table 1's row order (L2, L-infinity, L0 attacks).
"""

from absl import flags

from abs_tf.evaluation import paper_table
from abs_tf.evaluation import table

# The attacks calibrated on the authors' CNN: every real-gradient, transfer and
# decision-based row (the `_ge` and "all" rows are not calibrated).
_CALIBRATED = ("transfer_l2", "gaussian_noise", "boundary", "fgm", "bim_l2", "transfer_linf",
               "fgsm", "bim_linf", "mim", "salt_and_pepper", "pointwise")
# attack -> (median distance, accuracy under THRESHOLDS[metric]).
PAPER_CNN = {name: paper_table.PAPER_TABLE[name]["cnn"] for name in _CALIBRATED}
# The paper's thresholds for "accuracy under bounded perturbations" (section 5).
THRESHOLDS = table.THRESHOLDS
# The decision-based attacks (scripts/calibrate_cnn_decision.py).
DECISION = ("boundary", "pointwise", "salt_and_pepper", "gaussian_noise")


def define_common_flags(attacks, output_help: str):
  """The flags the calibration scripts share: call it from their `define_flags`, only when
  run as a script (tests import several of them, whose flags would clash).

  Args:
    attacks: the attack names the script can run (--attacks defaults to all of them).
    output_help: what the script's --output file holds.
  """
  flags.DEFINE_integer("num_images", 100, "First test images attacked.")
  flags.DEFINE_list("attacks", list(attacks), f"Rows among {list(attacks)}.")
  flags.DEFINE_string("weights", None, "The authors' cnn_official_weights.npz (default: "
                      "their file in third_party/abs_authors).")
  flags.DEFINE_float("tolerance", 0.10, "Relative tolerance around the paper's medians.")
  flags.DEFINE_string("output", None, output_help)
