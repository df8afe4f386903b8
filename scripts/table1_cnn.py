"""Table 1's CNN column (Schott et al., ICLR 2019), the calibration scripts' targets.

Only data: the median adversarial distance of each attack on the CNN and the accuracy under
the paper's thresholds, in Table 1's row order (L2, L-infinity, L0 attacks).
"""

# attack -> (median distance, accuracy under THRESHOLDS[metric]).
PAPER_CNN = {
    "transfer_l2": (1.1, 0.14), "gaussian_noise": (5.2, 0.96), "boundary": (1.2, 0.21),
    "fgm": (1.4, 0.48), "bim_l2": (1.1, 0.13),
    "transfer_linf": (0.08, 0.0), "fgsm": (0.10, 0.04), "bim_linf": (0.08, 0.0),
    "mim": (0.08, 0.0),
    "salt_and_pepper": (44.0, 0.91), "pointwise": (9.0, 0.19),
}
# The paper's thresholds for "accuracy under bounded perturbations" (section 5).
THRESHOLDS = {"l2": 1.5, "linf": 0.3, "l0": 12}
# The decision-based attacks (scripts/calibrate_cnn_decision.py).
DECISION = ("boundary", "pointwise", "salt_and_pepper", "gaussian_noise")
