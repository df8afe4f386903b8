"""Evaluation profiles: how many test images, and every attack's budget.

A budget is the keyword arguments of the attack's `__init__` (JSON values only, so that it
can be fingerprinted, stored beside the results and sent to other processes); `{}` means the
attack's defaults, which are Foolbox 1.3's, the settings the paper used. Budgets are keyed by
the attacks' stable names; an attack whose catalogue entry says it shares another's budget
(`budget_of`: the `_ge` and `_envelope` variants of a gradient attack, its family's) gets that
one, the finite-difference ones extended by the profile's `ge_settings`. Transfer attacks take
`substitute_budgets`: the budgets of the attacks run on the substitute model, by attack name.

- `smoke`: 3 images, tiny budgets: checks that everything runs (tests, minutes).
- `standard`: the first 100 test images, budgets cut so the table fits in hours on 2 cores.
- `paper`: Foolbox 1.3's defaults (e.g. 5000 Boundary iterations), for larger machines.

References:
  Schott et al., ICLR 2019, section 4 ("we use the implementations in Foolbox v1.3").
  Rauber et al., Foolbox v1.3 (2018), the attacks' default parameters.
"""

import dataclasses
import json
from typing import Mapping, Optional

from abs_tf.attacks import ATTACKS
from abs_tf.attacks import catalog
from abs_tf.attacks import gradient_attacks
from abs_tf.attacks import transfer
from abs_tf.export import fingerprint as fingerprint_lib


@dataclasses.dataclass(frozen=True)
class Overrides:
  """What a profile changes for one kind of model (ABS: every query is a latent search).

  Attributes:
    budgets: attack name (or gradient family) -> keyword arguments updated over the
      profile's budget of that attack.
    max_samples: attack name -> cap replacing the profile's (0: the attack is not run).
    chunk_size: images per work unit (larger chunks batch the model's queries better).
  """
  budgets: Mapping[str, Mapping] = dataclasses.field(default_factory=dict)
  max_samples: Mapping[str, int] = dataclasses.field(default_factory=dict)
  chunk_size: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class Profile:
  """An evaluation profile.

  Attributes:
    name: smoke, standard or paper.
    num_samples: default number of test images (from --first_index).
    chunk_size: test images attacked together in one work unit.
    budgets: attack name (or gradient family) -> keyword arguments of the attack.
    ge_settings: extra keyword arguments of every `_ge` attack (finite differences).
    max_samples: attack name -> at most this many of the run's test images (the first),
      for attacks too costly for all of them; the table's cells say how many were attacked.
    seed: seed of every attack.
    abs_overrides: budgets, caps and chunk size for ABS models.
  """
  name: str
  num_samples: int
  chunk_size: int
  budgets: Mapping[str, Mapping] = dataclasses.field(default_factory=dict)
  ge_settings: Mapping[str, object] = dataclasses.field(default_factory=dict)
  max_samples: Mapping[str, int] = dataclasses.field(default_factory=dict)
  seed: int = 0
  abs_overrides: Overrides = Overrides()

  def budget(self, attack: str, is_abs: bool = False) -> dict:
    """The keyword arguments of `attack` under this profile (a fresh, JSON-able dict)."""
    entry = ATTACKS.get(attack)
    family = entry.budget_name if entry else attack
    settings = dict(self.budgets.get(attack, self.budgets.get(family, {})))
    if entry is not None and entry.gradient == catalog.FINITE_DIFFERENCES:
      settings.update(self.ge_settings)
    if is_abs:
      overrides = self.abs_overrides.budgets
      settings.update(overrides.get(attack, overrides.get(family, {})))
    return json.loads(json.dumps(settings))  # deep copy; lists for tuples

  def sample_cap(self, attack: str, num_samples: int, is_abs: bool = False) -> int:
    """How many of the run's `num_samples` test images `attack` gets."""
    caps = dict(self.max_samples)
    if is_abs:
      caps.update(self.abs_overrides.max_samples)
    return min(num_samples, caps.get(attack, num_samples))

  def chunk_size_for(self, is_abs: bool = False) -> int:
    """Images per work unit."""
    if is_abs and self.abs_overrides.chunk_size is not None:
      return self.abs_overrides.chunk_size
    return self.chunk_size


def fingerprint(description: Mapping) -> str:
  """12 hex digits identifying a JSON-able description (sorted keys)."""
  return fingerprint_lib.digest(description)


def _by_steps(attacks, single: dict, iterative: dict) -> dict:
  """Budgets of gradient attack classes by stable name: single-step (FGSM, FGM) ones get
  `single`, iterative (BIM, MIM) ones `iterative`."""
  return {cls.name: single if issubclass(cls, gradient_attacks.SingleStepAttack) else iterative
          for cls in attacks}


def _substitute(single: dict, iterative: dict) -> dict:
  """Budgets of the attacks a transfer attack runs on its substitute."""
  return _by_steps(transfer.SUBSTITUTE_ATTACKS, single, iterative)


def _gradient(single: dict, iterative: dict) -> dict:
  """Budgets of the gradient families (their variants share them)."""
  return _by_steps(gradient_attacks.FAMILIES, single, iterative)


_SMOKE_SINGLE = {"num_epsilons": 10, "bisection_steps": 2}
_SMOKE_ITERATIVE = {"iterations": 2, "bisection_steps": 2}
SMOKE = Profile(
    name="smoke", num_samples=3, chunk_size=3,
    budgets={
        **_gradient(_SMOKE_SINGLE, _SMOKE_ITERATIVE),
        "boundary": {"steps": 20, "max_directions": 5, "init_draws": 50,
                     "init_search_steps": 5},
        "pointwise": {"repetitions": 1, "init_repetitions": 2, "init_epsilons": 20,
                      "bisection_steps": 2, "max_passes": 2, "pixels_per_call": 16,
                      "max_queries": 500},
        "gaussian_noise": {"epsilons": 20, "epsilons_per_call": 20},
        "salt_and_pepper": {"epsilons": 20, "repetitions": 2, "epsilons_per_call": 20},
        "latent_descent": {"max_steps": 200, "search_steps": 4},
        "transfer_l2": {"substitute_budgets": _substitute(_SMOKE_SINGLE, _SMOKE_ITERATIVE),
                        "bisection_steps": 4},
        "transfer_linf": {"substitute_budgets": _substitute(_SMOKE_SINGLE, _SMOKE_ITERATIVE),
                          "bisection_steps": 4},
        **{name: {"max_queries": 150, "initial_probes": 20, "init_draws": 10}
           for name in ("hop_skip_jump_l2", "hop_skip_jump_linf")},
        "fmn_l2": {"steps": 10}, "fmn_linf": {"steps": 10},
        # L0's radius grows by about a pixel a step: on the authors' CNN 10 steps broke none
        # of the first 3 images, 30 two of them.
        "fmn_l0": {"steps": 30},
    },
    ge_settings={"fd_steps": [0.1]})

# Standard: Foolbox 1.3's settings where they are cheap (Pointwise's included: on the baselines
# it costs minutes, and its capped budget left L0 medians well above the paper's, e.g. 15
# against 9 on the CNN); hard query caps on Boundary; the finite-difference attacks
# (784 * 2 + 1 queries per gradient) with two step sizes (0.01 for smooth models; 0.5, the only
# one that crosses the binarisation threshold: with 0.1 alone no `_ge` attack succeeded on
# Binary CNN), the iterative ones with 2 iterations and 4 bisection steps, on the first 20
# images only.
# ABS models (one query = a whole latent search; ~50 queries/s here) get 50-image chunks (the
# attacks batch their queries over a chunk), 1000-query caps on the decision-based attacks
# (Pointwise with 2 repetitions), the single-step `_ge` attacks on the first 10 images, and no
# iterative `_ge` attacks (one of those costs ~5 * 10^4 queries per image): a cut of the
# paper's budget that the table says where it shows these rows.
# See the README's "Evaluation" section for the measured cost of each row.
_STANDARD_SINGLE = {"num_epsilons": 100, "bisection_steps": 10}
_STANDARD_ITERATIVE = {"iterations": 10, "bisection_steps": 10}
_STANDARD_ITERATIVE_GE = {"iterations": 2, "bisection_steps": 4}
# The query-efficient attacks beyond the paper (issue 20): HopSkipJump's queries per image,
# FMN's gradient steps per image (one query each).
_QUERY_EFFICIENT = {
    **{name: {"max_queries": 20_000} for name in ("hop_skip_jump_l2", "hop_skip_jump_linf")},
    **{name: {"steps": 1000} for name in ("fmn_l2", "fmn_linf", "fmn_l0")},
}
_QUERY_EFFICIENT_ABS = {
    **{name: {"max_queries": 1000} for name in ("hop_skip_jump_l2", "hop_skip_jump_linf")},
    **{name: {"steps": 200} for name in ("fmn_l2", "fmn_linf", "fmn_l0")},
}
STANDARD = Profile(
    name="standard", num_samples=100, chunk_size=10,
    budgets={
        **_gradient(_STANDARD_SINGLE, _STANDARD_ITERATIVE),
        "bim_linf_ge": _STANDARD_ITERATIVE_GE, "bim_l2_ge": _STANDARD_ITERATIVE_GE,
        "mim_ge": _STANDARD_ITERATIVE_GE,
        "boundary": {"steps": 1000, "max_queries": 5000},
        "pointwise": {},
        "gaussian_noise": {"epsilons": 100},
        "salt_and_pepper": {"epsilons": 100, "repetitions": 3},
        "latent_descent": {"max_steps": 500},
        "transfer_l2": {},
        "transfer_linf": {},
        **_QUERY_EFFICIENT,
    },
    ge_settings={"fd_steps": [0.01, 0.5]},
    max_samples={"bim_linf_ge": 20, "bim_l2_ge": 20, "mim_ge": 20},
    abs_overrides=Overrides(
        budgets={"boundary": {"max_queries": 1000},
                 "pointwise": {"repetitions": 2, "max_queries": 1000},
                 **_QUERY_EFFICIENT_ABS},
        max_samples={"fgsm_ge": 10, "fgm_ge": 10, "bim_linf_ge": 0, "bim_l2_ge": 0,
                     "mim_ge": 0},
        chunk_size=50))

# The paper does not say how many test images it attacked.
PAPER = Profile(name="paper", num_samples=1000, chunk_size=10)

PROFILES = {p.name: p for p in (SMOKE, STANDARD, PAPER)}


def get_profile(name: str) -> Profile:
  if name not in PROFILES:
    raise ValueError(f"Unknown profile {name!r}; known profiles: {sorted(PROFILES)}.")
  return PROFILES[name]
