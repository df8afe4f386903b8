"""Transfer attacks: directions from a substitute model, scaled until the target is fooled.

For each sample x, perturbations delta are computed on the substitute CNN by L2 and L-inf BIM,
FGSM and FGM (this project's gradient attacks, so each delta is the smallest adversarial
perturbation they find on the substitute); then, per direction, a line search
(`epsilon_search.line_search`) finds the smallest scale s for which clip(x + s delta, 0, 1)
fools the target. The closest adversarial over the directions, in the attack's metric, is kept.
`transfer_l2` and `transfer_linf` differ only in that metric.

The target is queried only by the line searches (their queries are the result's); the
substitute's own queries are not counted. A sample the substitute already misclassifies has
no direction and fails.

References:
  Schott et al., ICLR 2019, section 4 ("Transfer-based attacks").
  Papernot et al., arXiv:1602.02697 (2016), substitute models.
"""

from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from abs_tf.attacks import base
from abs_tf.attacks import epsilon_search
from abs_tf.attacks import gradient_attacks
from abs_tf.attacks import catalog
from abs_tf.models import classifier as classifier_lib

# The paper's attacks on the substitute, run with their default (Foolbox 1.3) budgets.
SUBSTITUTE_ATTACKS = (gradient_attacks.BIML2, gradient_attacks.BIMLinf, gradient_attacks.FGSM,
                      gradient_attacks.FGM)
DEFAULT_SUBSTITUTE = "substitute_cnn"


class TransferAttack(base.MinimizationAttack):
  """Base of `transfer_l2` and `transfer_linf`; subclasses set `name` and `metric`."""
  kind, title, place = catalog.TRANSFER, "Transfer Attacks", 10

  def __init__(self, *, substitute: Optional[classifier_lib.Classifier] = None,
               substitute_name: str = DEFAULT_SUBSTITUTE,
               substitute_attacks: Optional[Sequence[base.MinimizationAttack]] = None,
               substitute_budgets: Optional[Mapping[str, Mapping]] = None,
               load_model: Optional[Callable[[str], classifier_lib.Classifier]] = None,
               initial_scale: float = 0.05, growth: float = 1.25, max_scale: float = 20.0,
               bisection_steps: int = 10, seed: int = 0):
    """Args:
      substitute: the substitute model; by default `substitute_name`, loaded on first use.
      substitute_name: registry name (or SavedModel path) of the default substitute.
      substitute_attacks: the attacks run on the substitute; by default
        SUBSTITUTE_ATTACKS, seeded with `seed`.
      substitute_budgets: keyword arguments of the default substitute attacks by name (a
        profile's budgets; a missing name gets its defaults, Foolbox 1.3's).
      load_model: registry name or path -> model, to load the substitute (default
        `abs_tf.registry.load_model`; the evaluation passes its per-process model cache).
      initial_scale, growth, max_scale: the scales tried along each direction until the
        target is fooled: initial_scale * growth^k up to max_scale.
      bisection_steps: halvings after the first successful scale.
      seed: seed of the default substitute attacks.
    """
    super().__init__(seed=seed)
    if substitute_attacks is not None and substitute_budgets is not None:
      raise ValueError("Pass substitute_attacks or substitute_budgets, not both.")
    if substitute_attacks is None:
      budgets = dict(substitute_budgets or {})
      unknown = sorted(set(budgets) - {cls.name for cls in SUBSTITUTE_ATTACKS})
      if unknown:
        raise ValueError(f"substitute_budgets names attacks {unknown} that are not run on "
                         f"the substitute ({[cls.name for cls in SUBSTITUTE_ATTACKS]}).")
      substitute_attacks = [cls(**budgets.get(cls.name, {}), seed=seed)
                            for cls in SUBSTITUTE_ATTACKS]
    if not substitute_attacks or not all(
        isinstance(a, base.MinimizationAttack) for a in substitute_attacks):
      raise ValueError("substitute_attacks must be a non-empty sequence of attacks, got "
                       f"{substitute_attacks!r}.")
    if int(bisection_steps) != bisection_steps or bisection_steps < 0:
      raise ValueError(f"bisection_steps must be an integer >= 0, got {bisection_steps!r}.")
    self.substitute = substitute
    self.substitute_name = substitute_name
    self.substitute_attacks = tuple(substitute_attacks)
    self.load_model = load_model
    self.schedule = epsilon_search.geometric_schedule(initial_scale, growth, max_scale)
    self.bisection_steps = int(bisection_steps)

  @staticmethod
  def substitute_of(budget: Mapping) -> str:
    """The substitute's registry name (or SavedModel path) of the attack that `budget` (its
    keyword arguments) builds: what the evaluation loads and fingerprints."""
    return budget.get("substitute_name", DEFAULT_SUBSTITUTE)

  def load_substitute(self) -> classifier_lib.Classifier:
    if self.substitute is None:
      load_model = self.load_model
      if load_model is None:
        from abs_tf import registry  # deferred: loading models is only needed here
        load_model = registry.load_model
      self.substitute = load_model(self.substitute_name)
    return self.substitute

  def directions(self, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Perturbations found on the substitute, float32 [A, B, 28, 28, 1] (A attacks).

    Zero where the substitute attack failed or the substitute misclassifies the sample.
    """
    substitute = self.load_substitute()
    found = []
    for attack in self.substitute_attacks:
      result = attack(substitute, images, labels)
      useful = (result.success & (result.distances > 0))[:, None, None, None]
      found.append(np.where(useful, result.adversarials - images, 0.0).astype(np.float32))
    return np.stack(found)

  def run(self, model, images, labels, rng):
    del rng  # the substitute attacks have their own seeds
    results = [epsilon_search.line_search(model, images, labels, d, self.schedule,
                                          self.bisection_steps, self.metric)
               for d in self.directions(images, labels)]
    return epsilon_search.closest(results).adversarials


@catalog.register
class TransferL2(TransferAttack):
  """Transfer attack, closest adversarial in L2."""
  name, metric = "transfer_l2", base.L2


@catalog.register
class TransferLinf(TransferAttack):
  """Transfer attack, closest adversarial in L-infinity."""
  name, metric = "transfer_linf", base.LINF
