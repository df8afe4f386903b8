"""Adversarial attacks that search minimal perturbations in L0, L2 and L-infinity.

`ATTACKS` maps each attack's stable name (the evaluation's --attacks flag) to its
`catalog.AttackEntry`: a factory (`ATTACKS[name](**budget)` builds the attack) with the
attack's declarations (metric, kind, requirements, Table 1 title and place). Importing this
package registers every attack module below; to add an attack, see CONTRIBUTING.md.
"""

from abs_tf.attacks import boundary  # noqa: F401
from abs_tf.attacks import fmn  # noqa: F401
from abs_tf.attacks import gradient_attacks  # noqa: F401
from abs_tf.attacks import hop_skip_jump  # noqa: F401
from abs_tf.attacks import latent_descent  # noqa: F401
from abs_tf.attacks import noise  # noqa: F401
from abs_tf.attacks import pointwise  # noqa: F401
from abs_tf.attacks import transfer  # noqa: F401
from abs_tf.attacks.base import AttackResult, MinimizationAttack, L0, L2, LINF  # noqa: F401
from abs_tf.attacks.catalog import ATTACKS, register  # noqa: F401
