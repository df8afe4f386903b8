"""Adversarial attacks that search minimal perturbations in L0, L2 and L-infinity.

`ATTACKS` maps each attack's stable name (the evaluation's --attacks flag) to its class.
"""

from abs_tf.attacks.base import AttackResult, MinimizationAttack, L0, L2, LINF  # noqa: F401

ATTACKS = {}


def register(cls):
  """Class decorator: adds an attack to ATTACKS under its `name`."""
  if cls.name in ATTACKS:
    raise ValueError(f"Attack name {cls.name!r} registered twice.")
  ATTACKS[cls.name] = cls
  return cls


# Decision-based attacks and Latent Descent (they register themselves on import).
from abs_tf.attacks import boundary, latent_descent, noise, pointwise  # noqa: E402,F401
from abs_tf.attacks import hop_skip_jump  # noqa: E402,F401

# Gradient-based and transfer attacks (they register themselves on import).
from abs_tf.attacks import gradient_attacks, transfer  # noqa: E402,F401
from abs_tf.attacks import fmn  # noqa: E402,F401
