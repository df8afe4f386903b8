"""What to run: the attacks that apply to each model, cut into picklable work units.

Which attacks apply follows the paper's Table 1 (section 5), from what each attack declares it
requires of a model (`abs_tf.attacks.catalog`): decision-based, transfer and
estimated-gradient (`_ge`) attacks run on every model; the gradient attacks with real
gradients only on models that have them (autodiff, or the straight-through estimate of the
binarised models); on ABS models Latent Descent and, as extra rows, the gradient attacks with
the envelope-theorem gradient (`_envelope`). A SavedModel given by path gets the output-only
attacks, and the gradient attacks if a tape differentiates it.

A `WorkUnit` is one attack on one model for one chunk of consecutive test images. Chunks are
aligned to multiples of the chunk size, so a rerun cuts the same chunks and (the attacks being
seeded per call) computes the same results: a resumed chunk is attacked whole again and only
its missing rows are written.

References:
  Schott et al., ICLR 2019, sections 4 and 5, Table 1.
"""

import dataclasses
import json
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np

from abs_tf import registry
from abs_tf.attacks import ATTACKS
from abs_tf.attacks import catalog
from abs_tf.evaluation import models as models_lib
from abs_tf.evaluation import profiles

Key = Tuple[str, str, int]  # (model, attack, test_index)


def metric_of(attack: str) -> str:
  return ATTACKS[attack].metric


def default_models() -> Tuple[str, ...]:
  """The models evaluated when none are named: the registry's, in its order, whose
  `ModelSpec.in_default_plan` is set (the attacks' counterpart: `select_attacks`)."""
  return tuple(name for name, spec in registry.MODELS.items() if spec.in_default_plan)


def offers(model: models_lib.ModelRef) -> Set[str]:
  """What `model` offers attacks (catalog.REQUIREMENTS): its outputs always; real gradients
  if it has autodiff or straight-through ones; the latent inference if it is ABS; its own
  gradients of any kind (those or ABS's envelope gradient) if it has any."""
  offered = {catalog.OUTPUTS}
  if model.gradient in (registry.AUTODIFF, registry.STRAIGHT_THROUGH):
    offered.add(catalog.GRADIENTS)
  if model.gradient in registry.GRADIENTS:
    offered.add(catalog.MODEL_GRADIENTS)
  if model.is_abs:
    offered.add(catalog.LATENT_INFERENCE)
  return offered


def applicable_attacks(model: models_lib.ModelRef) -> List[str]:
  """The registered attacks whose requirement `model` offers, in Table 1's order."""
  offered = offers(model)
  return catalog.table_order(name for name, entry in ATTACKS.items()
                             if entry.requires in offered)


def unmet_requirement(attack: str, model: models_lib.ModelRef) -> Optional[str]:
  """Why `attack` does not apply to `model` (what the attack requires that the model does
  not offer), or None if it applies."""
  requires = ATTACKS[attack].requires
  if requires in offers(model):
    return None
  if requires == catalog.LATENT_INFERENCE:
    return "not an ABS model"
  if model.gradient is None:
    return "no gradients, a GradientTape cannot differentiate the model"
  return (f"needs autodiff or straight-through gradients, the model has {model.gradient} "
          "gradients")


def variants_for(attack: str, model: models_lib.ModelRef) -> List[str]:
  """The other variants of `attack`'s family (`AttackEntry.budget_name`: real, estimated or
  envelope gradients) that apply to `model`."""
  family = ATTACKS[attack].budget_name
  return [a for a in applicable_attacks(model)
          if a != attack and ATTACKS[a].budget_name == family]


def differentiates_model(attack: str) -> bool:
  """Whether `attack` uses the model's own gradient (autodiff or ABS's envelope gradient)."""
  return ATTACKS[attack].gradient in (catalog.AUTODIFF, catalog.ENVELOPE)


def select_attacks(models: Sequence[models_lib.ModelRef],
                   requested: Optional[Sequence[str]]) -> Dict[str, List[str]]:
  """Attacks to run per model name: the applicable ones of the default plan
  (`AttackEntry.in_default_plan`), or those of `requested` that apply.

  Raises:
    ValueError: an unknown attack name, or a requested attack that applies to none of the
      models (e.g. latent_descent without an ABS model).
  """
  if requested is not None:
    unknown = sorted(set(requested) - set(ATTACKS))
    if unknown:
      raise ValueError(f"Unknown attacks {unknown}; known attacks: {sorted(ATTACKS)}.")
  selected = {}
  for model in models:
    applicable = applicable_attacks(model)
    selected[model.name] = ([a for a in applicable if ATTACKS[a].in_default_plan]
                            if requested is None
                            else [a for a in applicable if a in set(requested)])
  for name in requested or ():
    if not any(name in attacks for attacks in selected.values()):
      reasons = "; ".join(
          f"{m.name}: {unmet_requirement(name, m)}" +
          (f", use {' or '.join(variants_for(name, m))}" if variants_for(name, m) else "")
          for m in models)
      raise ValueError(f"Attack {name!r} applies to none of the models ({reasons}).")
  return selected


@dataclasses.dataclass(frozen=True)
class WorkUnit:
  """One attack on one model for the test images start .. stop - 1 (plain, picklable data).

  Attributes:
    model: the model's description.
    attack: attack name (abs_tf.attacks.ATTACKS).
    start, stop: the chunk of test indices.
    budget_json: the attack's keyword arguments, JSON.
    seed: the attack's seed.
    profile: the profile's name (recorded in the rows).
    fingerprint: identifies (model weights, attack, budget, seed); stored in every row.
    keep_adversarials: test indices of the chunk whose adversarials are stored (Figure 3).
  """
  model: models_lib.ModelRef
  attack: str
  start: int
  stop: int
  budget_json: str
  seed: int
  profile: str
  fingerprint: str
  keep_adversarials: Tuple[int, ...] = ()

  @property
  def budget(self) -> dict:
    return json.loads(self.budget_json)

  @property
  def indices(self) -> np.ndarray:
    return np.arange(self.start, self.stop)

  @property
  def metric(self) -> str:
    return metric_of(self.attack)


def budget_description(model: models_lib.ModelRef, attack: str,
                       profile: profiles.Profile) -> dict:
  """What the results of (model, attack) depend on, besides the chunking: the model and its
  fingerprint, the attack, its budget and seed; the attack's version where it declares one
  (`catalog.AttackEntry.version`: a change to its code that changes its results); for a
  transfer attack also its substitute model and that model's fingerprint (a retrained
  substitute gives other directions)."""
  entry = ATTACKS[attack]
  budget = profile.budget(attack, model.is_abs)
  description = {"model": model.name, "model_fingerprint": model.fingerprint, "attack": attack,
                 "budget": budget, "seed": profile.seed}
  if entry.version is not None:  # undeclared: the fingerprints of the rows made before
    description["attack_version"] = entry.version
  substitute = entry.substitute_of(budget)
  if substitute is not None:
    description.update(substitute=substitute,
                       substitute_fingerprint=models_lib.fingerprint(substitute))
  return description


def budget_entry(model: models_lib.ModelRef, attack: str,
                 profile: profiles.Profile) -> Tuple[str, dict]:
  """The budget fingerprint of (model, attack) under `profile`, and what budgets.json says it
  stands for: the fingerprinted description and the profile's name."""
  description = budget_description(model, attack, profile)
  return profiles.fingerprint(description), dict(description, profile=profile.name)


def figure_indices(labels: np.ndarray, first_index: int) -> Tuple[int, ...]:
  """For each class, the first test index among `labels` (which start at first_index)."""
  found = []
  for label in range(10):
    hits = np.flatnonzero(np.asarray(labels) == label)
    if len(hits):
      found.append(first_index + int(hits[0]))
  return tuple(found)


def make_units(selected: Dict[str, List[str]], models: Sequence[models_lib.ModelRef],
               profile: profiles.Profile, first_index: int, num_samples: int,
               chunk_size: Optional[int], keep_indices: Iterable[int] = (),
               done: Set[Key] = frozenset()) -> List[WorkUnit]:
  """Work units for every (model, attack) and aligned chunk with a missing row.

  Args:
    selected: attacks per model name (`select_attacks`).
    models: the models' descriptions.
    profile: budgets and seed.
    first_index, num_samples: the test images.
    chunk_size: images per unit (None: the profile's for each model); chunks are
      [k * chunk_size, (k + 1) * chunk_size) cut to the test images.
    keep_indices: test indices whose L2 adversarials are stored (Figure 3).
    done: (model, attack, test_index) keys already in the results.

  An attack with a cap (`profile.sample_cap`) gets only the first that many test images.

  Returns:
    Units, model by model, attack by attack in table order, chunk by chunk.
  """
  keep = set(keep_indices)
  end = first_index + num_samples
  units = []
  for model in models:
    for attack in selected[model.name]:
      fingerprint, description = budget_entry(model, attack, profile)
      is_l2 = metric_of(attack) == "l2"
      attack_end = first_index + profile.sample_cap(attack, num_samples, model.is_abs)
      size = chunk_size or profile.chunk_size_for(model.is_abs)
      for chunk_start in range(first_index - first_index % size, attack_end, size):
        start, stop = max(chunk_start, first_index), min(chunk_start + size, attack_end)
        if all((model.name, attack, i) in done for i in range(start, stop)):
          continue
        units.append(WorkUnit(
            model=model, attack=attack, start=start, stop=stop,
            budget_json=json.dumps(description["budget"], sort_keys=True),
            seed=profile.seed, profile=profile.name,
            fingerprint=fingerprint,
            keep_adversarials=tuple(i for i in range(start, stop) if is_l2 and i in keep)))
  return units
