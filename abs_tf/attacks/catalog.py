"""The catalogue of attacks: each stable name (the evaluation's --attacks flag) -> its entry.

An attack declares, next to its code, what the evaluation needs to know about it: its metric,
its kind, what it requires of a model, its title and place in Table 1, and whether it is one
of the paper's rows. `register` reads those declarations from an attack class's attributes;
`register_entry` adds an `AttackEntry` made by composition (e.g. an attack class with another
gradient source, `gradient_attacks`). The evaluation (plan, profiles, table) reads the
entries and keeps no list of attack names of its own.

This module imports no attack: the attack modules import it, and the package
(`abs_tf.attacks`) imports them all, so `abs_tf.attacks.ATTACKS` is complete.

References:
  Schott et al., ICLR 2019, section 4 (the attacks) and Table 1 (their rows).
  Rauber et al., Foolbox 3 (2020): an attack's class says everything about it.
"""

import dataclasses
import functools
import inspect
from typing import Callable, Dict, Optional

# An attack's kind.
DECISION = "decision"              # needs only the model's decisions (or logits)
GRADIENT = "gradient"              # follows a gradient (see `AttackEntry.gradient`)
TRANSFER = "transfer"              # directions from a substitute model
MODEL_SPECIFIC = "model_specific"  # designed for one model's internals
KINDS = (DECISION, GRADIENT, TRANSFER, MODEL_SPECIFIC)

# What an attack requires of the attacked model.
OUTPUTS = "outputs"                     # its logits only (any model, SavedModels included)
GRADIENTS = "gradients"                 # real input gradients (autodiff or straight-through)
LATENT_INFERENCE = "latent_inference"   # ABS internals: the per-class latent search
MODEL_GRADIENTS = "model_gradients"     # the model's own input gradients of any kind:
                                        # autodiff, straight-through or ABS's envelope
REQUIREMENTS = (OUTPUTS, GRADIENTS, LATENT_INFERENCE, MODEL_GRADIENTS)

# Where a gradient attack's gradient comes from.
AUTODIFF = "autodiff"                       # the model's own gradient
FINITE_DIFFERENCES = "finite_differences"   # estimated from outputs ("w/ GE")
ENVELOPE = "envelope"                       # ABS: at the latent optimum (envelope theorem)
GRADIENT_SOURCES = (AUTODIFF, FINITE_DIFFERENCES, ENVELOPE)


@dataclasses.dataclass(frozen=True)
class AttackEntry:
  """One attack of the catalogue.

  Attributes:
    name: stable name (results rows, --attacks, profile budgets).
    factory: keyword arguments (a profile's budget, `seed`) -> the attack.
    metric: "l2", "linf" or "l0".
    kind: one of KINDS.
    title: its row title in Table 1.
    place: its row's place in Table 1 among the rows of its metric (smaller first).
    requires: what it requires of a model, one of REQUIREMENTS.
    gradient: for GRADIENT attacks, one of GRADIENT_SOURCES; otherwise None.
    budget_of: the stable name whose profile budget it shares (a gradient variant shares its
      family's); its own name by default.
    paper_row: one of the paper's Table 1 rows (False: a row beyond them).
    in_default_plan: run when no --attacks are given (False: only when named, e.g. attacks
      whose rows the shipped results/standard does not hold yet).
    version: the attack's version, an integer >= 1, or None (undeclared). Part of its rows'
      budget fingerprint when declared (`evaluation.plan.budget_description`): raise it with
      every change to the attack's code that changes its results, so that rows of the old
      code are refused instead of mixed with the new. None leaves the fingerprint as it was
      before versions existed (the rows of results/standard keep theirs).
  """
  name: str
  factory: Callable
  metric: str
  kind: str
  title: str
  place: float
  requires: str = OUTPUTS
  gradient: Optional[str] = None
  budget_of: Optional[str] = None
  paper_row: bool = True
  in_default_plan: bool = True
  version: Optional[int] = None

  def __post_init__(self):
    if not self.name:
      raise ValueError("An attack needs a name.")
    if self.metric not in ("l2", "linf", "l0"):
      raise ValueError(f"{self.name}: metric must be l2, linf or l0, got {self.metric!r}.")
    if self.kind not in KINDS:
      raise ValueError(f"{self.name}: kind must be one of {KINDS}, got {self.kind!r}.")
    if self.requires not in REQUIREMENTS:
      raise ValueError(f"{self.name}: requires must be one of {REQUIREMENTS}, got "
                       f"{self.requires!r}.")
    if (self.kind == GRADIENT) != (self.gradient in GRADIENT_SOURCES):
      raise ValueError(f"{self.name}: gradient attacks (only) name a gradient source of "
                       f"{GRADIENT_SOURCES}, got kind {self.kind!r}, gradient "
                       f"{self.gradient!r}.")
    if self.version is not None and not (
        isinstance(self.version, int) and not isinstance(self.version, bool)
        and self.version >= 1):
      raise ValueError(f"{self.name}: version must be an integer >= 1 or None, got "
                       f"{self.version!r}.")

  @property
  def budget_name(self) -> str:
    """The stable name whose profile budget this attack takes."""
    return self.budget_of or self.name

  def defaults(self) -> dict:
    """The keyword arguments the attack takes when its budget does not name them: the
    defaults of its factory's keyword parameters (of a class, over its `__init__`s from the
    most derived on, as the attacks pass their keyword arguments on to their bases), and a
    composition's fixed ones (`functools.partial`, e.g. the gradient source of a variant).
    {} for a factory whose signature cannot be read."""
    return keyword_defaults(self.factory)

  def __call__(self, **kwargs):
    """The attack built with `kwargs` (its budget and seed), reporting under `name`."""
    attack = self.factory(**kwargs)
    attack.name = self.name
    return attack

  def substitute_of(self, budget) -> Optional[str]:
    """For a TRANSFER attack, the substitute model (registry name or SavedModel path) that
    `budget` makes it use; None for the others."""
    return self.factory.substitute_of(budget) if self.kind == TRANSFER else None


ATTACKS: Dict[str, AttackEntry] = {}


def keyword_defaults(factory) -> dict:
  """name -> default of every keyword parameter of `factory` (see `AttackEntry.defaults`)."""
  if isinstance(factory, functools.partial):
    return {**keyword_defaults(factory.func), **factory.keywords}
  functions = ([cls.__init__ for cls in factory.__mro__ if "__init__" in vars(cls)]
               if inspect.isclass(factory) else [factory])
  found = {}
  for function in functions:
    try:
      parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # e.g. a builtin's
      continue
    for parameter in parameters:
      if parameter.default is not inspect.Parameter.empty:
        found.setdefault(parameter.name, parameter.default)
  return found


def register_entry(entry: AttackEntry) -> AttackEntry:
  """Adds `entry` to ATTACKS.

  Raises:
    ValueError: its name is taken.
  """
  if entry.name in ATTACKS:
    raise ValueError(f"Attack name {entry.name!r} registered twice.")
  ATTACKS[entry.name] = entry
  return entry


def entry_of(cls, **changes) -> AttackEntry:
  """The entry an attack class declares in its attributes: `name`, `metric`, `kind`,
  `title`, `place`, and optionally `requires`, `gradient_source`, `paper_row`,
  `in_default_plan`, `version`; `changes` replace any of them (and may set `factory`,
  `budget_of`)."""
  declared = dict(name=cls.name, factory=cls, metric=cls.metric, kind=cls.kind,
                  title=cls.title, place=cls.place,
                  requires=getattr(cls, "requires", OUTPUTS),
                  gradient=getattr(cls, "gradient_source", None),
                  paper_row=getattr(cls, "paper_row", True),
                  in_default_plan=getattr(cls, "in_default_plan", True),
                  version=getattr(cls, "version", None))
  declared.update(changes)
  return AttackEntry(**declared)


def register(cls):
  """Class decorator: registers an attack class under the entry its attributes declare."""
  register_entry(entry_of(cls))
  return cls


def unregister(name: str):
  """Removes an attack (for tests that register one for their duration)."""
  del ATTACKS[name]


def table_order(names) -> list:
  """`names` of registered attacks in Table 1's order: by metric (L2, L-inf, L0), then by
  place (a gradient family's variants after it: real, estimated, envelope)."""
  metrics = ("l2", "linf", "l0")
  return sorted(names, key=lambda n: (metrics.index(ATTACKS[n].metric), ATTACKS[n].place))
