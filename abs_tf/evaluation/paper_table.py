"""Table 1 of the paper, transcribed: median adversarial distance / accuracy at the threshold.

`PAPER_TABLE[row][model]` is (median, accuracy): the median over samples of the minimal
adversarial distance (inf where the paper prints "∞") and the accuracy, in [0, 1], under
perturbations bounded by the metric's threshold. Columns are the registry names of the
paper's models (`registry.paper_models()`, in the paper's order; another model compares with
the column its `ModelSpec.paper_column` names); a missing entry is an empty cell (the attack
was not run on that model). Rows are keyed like the evaluation's rows: an attack name, or
"all_<metric>" for the per-sample minimum over a metric's attacks. `PAPER_CLEAN_ACCURACY` is
the "Clean" row.

References:
  Schott et al., ICLR 2019, Table 1.
"""

import math

from abs_tf import registry

INF = math.inf
MODELS = registry.paper_models()

PAPER_CLEAN_ACCURACY = dict(zip(MODELS, (0.991, 0.985, 0.969, 0.988, 0.990, 0.990)))


def _row(*cells):
  """One row of Table 1: six (median, accuracy in %) cells in MODELS order, None if empty."""
  return {model: (cell[0], cell[1] / 100.0)
          for model, cell in zip(MODELS, cells) if cell is not None}


PAPER_TABLE = {
    # L2 metric, epsilon = 1.5.
    "transfer_l2": _row((1.1, 14), (1.4, 38), (5.4, 90), (3.7, 94), (2.5, 86), (4.6, 94)),
    "gaussian_noise": _row((5.2, 96), (3.4, 92), (INF, 91), (5.4, 96), (5.6, 89), (10.9, 98)),
    "boundary": _row((1.2, 21), (3.3, 84), (2.9, 73), (1.4, 37), (6.0, 91), (2.6, 83)),
    "fgm": _row((1.4, 48), (1.4, 50), None, (INF, 96), None, None),
    "fgm_ge": _row((1.4, 42), (2.8, 51), (3.7, 79), (INF, 88), (1.9, 68), (3.5, 89)),
    "bim_l2": _row((1.1, 13), (1.0, 11), None, (4.8, 88), None, None),
    "bim_l2_ge": _row((1.1, 37), (INF, 50), (1.7, 62), (3.4, 88), (1.6, 63), (3.1, 87)),
    "all_l2": _row((1.1, 8), (0.9, 3), (1.5, 53), (1.4, 35), (1.3, 39), (2.3, 80)),
    # L-infinity metric, epsilon = 0.3.
    "transfer_linf": _row((0.08, 0), (0.44, 85), (0.42, 78), (0.39, 92), (0.49, 88),
                          (0.34, 73)),
    "fgsm": _row((0.10, 4), (0.43, 77), None, (0.45, 93), None, None),
    "fgsm_ge": _row((0.10, 21), (0.42, 71), (0.38, 68), (0.47, 89), (0.49, 85), (0.27, 34)),
    "bim_linf": _row((0.08, 0), (0.36, 70), None, (0.36, 90), None, None),
    "bim_linf_ge": _row((0.08, 37), (INF, 70), (0.25, 43), (0.46, 89), (0.49, 86),
                        (0.25, 13)),
    "mim": _row((0.08, 0), (0.37, 71), None, (0.34, 90), None, None),
    "mim_ge": _row((0.09, 36), (INF, 69), (0.19, 26), (0.36, 89), (0.46, 85), (0.26, 17)),
    "all_linf": _row((0.08, 0), (0.34, 64), (0.19, 22), (0.34, 88), (0.44, 77), (0.23, 8)),
    # L0 metric, epsilon = 12.
    "salt_and_pepper": _row((44.0, 91), (44.0, 88), (161.0, 88), (13.5, 56), (158.5, 96),
                            (182.5, 95)),
    "pointwise": _row((9.0, 19), (11.0, 39), (10.0, 34), (4.0, 0), (36.5, 82), (22.0, 78)),
    "all_l0": _row((9.0, 19), (11.0, 38), (10.0, 34), (4.0, 0), (36.0, 82), (22.0, 78)),
}
