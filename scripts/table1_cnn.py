"""Table 1's CNN column (Schott et al., ICLR 2019), the calibration scripts' targets.

A view of `abs_tf.evaluation.paper_table` (the one transcription of Table 1): the median
adversarial distance of each attack the calibration runs on the CNN and the accuracy under
the paper's thresholds, in Table 1's row order (L2, L-infinity, L0 attacks).
"""

from absl import flags

from abs_tf.attacks import ATTACKS
from abs_tf.attacks import catalog
from abs_tf.evaluation import paper_table
from abs_tf.evaluation import table


def _calibrated(entry: catalog.AttackEntry) -> bool:
  """The paper's rows that the calibration runs on the authors' CNN: decision-based,
  transfer and real-gradient ones (not the `_ge` rows, nor the ABS-only ones)."""
  return entry.paper_row and (entry.kind in (catalog.DECISION, catalog.TRANSFER) or
                              entry.gradient == catalog.AUTODIFF)


# The calibrated attacks in Table 1's order -> the paper's (median distance, accuracy under
# THRESHOLDS[metric]) on the CNN.
PAPER_CNN = {name: paper_table.PAPER_TABLE[name]["cnn"]
             for name in catalog.table_order(n for n, e in ATTACKS.items() if _calibrated(e))}
# The paper's thresholds for "accuracy under bounded perturbations" (section 5).
THRESHOLDS = table.THRESHOLDS
# The decision-based ones (scripts/calibrate_cnn_decision.py) and the transfer ones.
DECISION = tuple(n for n in PAPER_CNN if ATTACKS[n].kind == catalog.DECISION)
TRANSFER = tuple(n for n in PAPER_CNN if ATTACKS[n].kind == catalog.TRANSFER)


def define_authors_cnn_flags():
  """The flags of the scripts that attack the authors' CNN: which test images, which
  weights. Call it only when run as a script (tests import several of them, whose flags
  would clash)."""
  flags.DEFINE_integer("num_images", 100, "First test images attacked.")
  flags.DEFINE_string("weights", None, "The authors' cnn_official_weights.npz (default: "
                      "their file in third_party/abs_authors).")


def define_common_flags(attacks, output_help: str):
  """The flags the calibration scripts share (`define_authors_cnn_flags` and these): call it
  from their `define_flags`, only when run as a script.

  Args:
    attacks: the attack names the script can run (--attacks defaults to all of them).
    output_help: what the script's --output file holds.
  """
  define_authors_cnn_flags()
  flags.DEFINE_list("attacks", list(attacks), f"Rows among {list(attacks)}.")
  flags.DEFINE_float("tolerance", 0.10, "Relative tolerance around the paper's medians.")
  flags.DEFINE_string("output", None, output_help)
