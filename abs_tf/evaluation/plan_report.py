"""The plan of a run, said before it starts: per model, the attacks that run and on how many
images, the attacks that do not and why, and the estimated time if timings are given.

  run = driver.prepare(config, runner)
  print(plan_report.to_text(plan_report.describe(config, run, estimates)))

An attack does not run on a model, for the first of these reasons that holds:
- --attacks names other attacks (counted, not listed);
- the model does not offer what the attack requires (`plan.unmet_requirement`: no gradients,
  not an ABS model, ...);
- the attack is not in the default plan (`AttackEntry.in_default_plan`) and --attacks is not
  given;
- the profile excludes it for this model (`Profile.sample_cap` 0, e.g. the standard profile's
  iterative `_ge` attacks on ABS);
- every one of its images is stored in the output directory already ("done").
An attack that runs says on how many test images (the first few only, if the profile caps
it), how many of them are stored already, and how many work units remain.

References:
  Schott et al., ICLR 2019, section 5 and Table 1 (which attacks apply to which model).
"""

import dataclasses
from typing import Dict, Mapping, Optional, Sequence, Tuple

from abs_tf.attacks import ATTACKS
from abs_tf.attacks import catalog
from abs_tf.evaluation import models as models_lib
from abs_tf.evaluation import plan
from abs_tf.evaluation import profiles
from abs_tf.evaluation import progress

RUN, DONE, SKIPPED = "run", "done", "skipped"
NOT_DEFAULT = "not in the default plan; name it with --attacks"


@dataclasses.dataclass(frozen=True)
class AttackPlan:
  """One attack on one model, as planned.

  Attributes:
    attack: its stable name.
    status: RUN (units remain), DONE (every image stored) or SKIPPED.
    reason: why it is skipped ("" otherwise).
    images: the test images it gets in this run (fewer than the run's if the profile caps it).
    capped: the profile caps it below the run's test images.
    stored: of `images`, those whose rows the output directory holds.
    units: work units to run.
    seconds: estimated seconds of those units; None without an estimate.
  """
  attack: str
  status: str
  reason: str = ""
  images: int = 0
  capped: bool = False
  stored: int = 0
  units: int = 0
  seconds: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class ModelPlan:
  """The plan of one model: every registered attack in Table 1's order, except those that
  --attacks does not name (counted in `not_requested`)."""
  model: models_lib.ModelRef
  attacks: Tuple[AttackPlan, ...]
  not_requested: int = 0

  def seconds(self) -> Optional[float]:
    """Estimated seconds of its units; None without an estimate."""
    found = [a.seconds for a in self.attacks if a.seconds is not None]
    return sum(found) if found else None


@dataclasses.dataclass(frozen=True)
class RunPlan:
  """The plan of a run: its profile, test images, output directory and models' plans."""
  profile: str
  first_index: int
  num_samples: int
  output_dir: str
  models: Tuple[ModelPlan, ...]

  def count(self, field: str) -> int:
    """The sum of an `AttackPlan` count ("units", "images", "stored") over the attacks that
    run."""
    return sum(getattr(a, field) for m in self.models for a in m.attacks if a.status == RUN)

  def seconds(self) -> Optional[float]:
    found = [s for s in (m.seconds() for m in self.models) if s is not None]
    return sum(found) if found else None


def describe_attack(attack: str, model: models_lib.ModelRef, run,
                    profile: profiles.Profile, first_index: int, num_samples: int,
                    estimates: Optional[Mapping[tuple, float]]) -> AttackPlan:
  """The plan of `attack` on `model` (one it applies to or one --attacks names).

  Args:
    attack, model: the attack's name and the model's description.
    run: the run's `driver.Prepared` (planned attacks, units, stored rows).
    profile: the run's profile.
    first_index, num_samples: the run's test images.
    estimates: (model, attack) -> estimated seconds of its units, or None.
  """
  reason = plan.unmet_requirement(attack, model)
  if reason is None and (model.name, attack) not in run.planned:
    reason = NOT_DEFAULT
  images = profile.sample_cap(attack, num_samples, model.is_abs)
  if reason is None and images == 0:
    reason = f"excluded by profile {profile.name}" + (
        " for ABS models" if model.is_abs and profile.sample_cap(attack, num_samples) else "")
  if reason is not None:
    return AttackPlan(attack, SKIPPED, reason)
  stored = sum((model.name, attack, i) in run.store.rows
               for i in range(first_index, first_index + images))
  units = sum(u.model.name == model.name and u.attack == attack for u in run.units)
  seconds = None if estimates is None else estimates.get((model.name, attack), 0.0)
  return AttackPlan(attack, DONE if stored == images else RUN, "", images,
                    images < num_samples, stored, units, seconds)


def describe(config, run, estimates: Optional[Mapping[tuple, float]] = None) -> RunPlan:
  """The plan of a prepared run.

  Args:
    config: the run's `driver.EvaluationConfig`.
    run: its `driver.Prepared`.
    estimates: (model, attack) -> estimated seconds of the units still to run
      (`progress.estimate`); None for no estimate.
  """
  profile = profiles.get_profile(config.profile)
  requested = None if config.attacks is None else set(config.attacks)
  names = catalog.table_order(ATTACKS)
  chosen = [a for a in names if requested is None or a in requested]
  models = [ModelPlan(ref, tuple(describe_attack(a, ref, run, profile, config.first_index,
                                                 config.samples, estimates) for a in chosen),
                      len(names) - len(chosen))
            for ref in run.refs]
  return RunPlan(profile.name, config.first_index, config.samples, config.output_dir,
                 tuple(models))


def _plural(count: int, word: str) -> str:
  return f"{count} {word}{'' if count == 1 else 's'}"


def _run_line(a: AttackPlan, num_samples: int, width: int) -> str:
  scope = (f"first {a.images} of {num_samples} images (the profile's cap)"
           if a.capped else f"{_plural(a.images, 'image')}")
  stored = f", {a.stored} stored" if a.stored else ""
  left = f"{a.images - a.stored} to attack in {_plural(a.units, 'unit')}"
  eta = "" if a.seconds is None else f", ~{progress.format_seconds(a.seconds)}"
  return f"  run  {a.attack:<{width}} {scope}{stored}; {left}{eta}"


def _grouped(attacks: Sequence[AttackPlan]) -> Dict[str, list]:
  """Attack names by reason (DONE's reason: every image stored), in first-seen order."""
  groups: Dict[str, list] = {}
  for a in attacks:
    groups.setdefault(a.reason or "every image stored", []).append(a.attack)
  return groups


def to_text(run_plan: RunPlan) -> str:
  """The plan as lines of text: a header, per model its attacks that run (one line each),
  those done and those skipped (one line per reason), and the totals."""
  p = run_plan
  last = p.first_index + p.num_samples - 1
  lines = [f"Plan: profile {p.profile}, test images {p.first_index}-{last}, output "
           f"{p.output_dir}"]
  width = max((len(a.attack) for m in p.models for a in m.attacks), default=0)
  for m in p.models:
    lines.append(f"{m.model.name} ({m.model.title}): {m.model.abilities}")
    lines += [_run_line(a, p.num_samples, width)
              for a in m.attacks if a.status == RUN]
    for status in (DONE, SKIPPED):
      for reason, names in _grouped([a for a in m.attacks if a.status == status]).items():
        lines.append(f"  {status} ({reason}): {', '.join(names)}")
    if m.not_requested:
      lines.append(f"  ({_plural(m.not_requested, 'other attack')} not named by --attacks)")
    if m.seconds() is not None:
      lines.append(f"  estimated time: {progress.format_seconds(m.seconds())}")
  images = p.count("images") - p.count("stored")
  total = (f"In all: {_plural(p.count('units'), 'work unit')} to run, "
           f"{_plural(images, 'image-attack pair')} to attack")
  if p.seconds() is not None:
    total += f"; estimated time {progress.format_seconds(p.seconds())}"
  return "\n".join(lines + [total + "."])
