"""What each Table 1 row's budget was, where it differs from the paper's: from the stored data.

A cell's budget as run is what budgets.json says its rows' fingerprint stands for (the
keyword arguments the profile gave the attack, and the seed), never what a profile says
today, so that a table rendered again later says what was run. It differs from the paper's
in each keyword argument whose value as run (the attack's default where the stored budget
does not name it, `catalog.AttackEntry.defaults`) is not the `paper` profile's
(`profiles.PAPER.budget`, Foolbox 1.3's defaults, with the same defaults filled in). The
queries per image are those the rows record (`results.Row.queries`, where above 0).

The table lists, under its legend, one line per attack row with a differing budget and one
per row beyond the paper's (`to_lines`), the models that share a budget together.

References:
  Schott et al., ICLR 2019, section 4 ("we use the implementations in Foolbox v1.3").
"""

import dataclasses
import json
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from abs_tf import registry
from abs_tf.attacks import ATTACKS
from abs_tf.evaluation import profiles

REFERENCE = profiles.PAPER


@dataclasses.dataclass(frozen=True)
class Budget:
  """One cell's budget as run, against the `paper` profile's.

  Attributes:
    fingerprint: its rows' budget fingerprint.
    recorded: whether budgets.json describes that fingerprint (False: nothing is known).
    changed: (keyword argument, value as run) of those that differ from the `paper`
      profile's, sorted by name; JSON values.
    paper: (keyword argument, the `paper` profile's value) for the same keywords.
    queries: model queries per image, of the cell's rows that record them (> 0), sorted.
  """
  fingerprint: str
  recorded: bool
  changed: Tuple[Tuple[str, object], ...]
  paper: Tuple[Tuple[str, object], ...]
  queries: Tuple[int, ...]

  def to_json(self) -> str:
    """The changed keyword arguments as a JSON object ("{}": the paper's budget), or ""
    where the budget is not recorded."""
    return to_json(self.changed) if self.recorded else ""


def to_json(pairs) -> str:
  """(name, value) pairs as a JSON object, keys sorted."""
  return _json(dict(pairs))


def _json(value) -> str:
  return json.dumps(value, sort_keys=True, separators=(", ", ": "))


def _plain(value):
  """`value` as stored JSON reads back (tuples as lists)."""
  return json.loads(json.dumps(value, default=repr))


def differences(description: Mapping, is_abs: bool
                ) -> Tuple[Tuple[Tuple[str, object], ...], Tuple[Tuple[str, object], ...]]:
  """The keyword arguments of a budgets.json description that differ from the `paper`
  profile's budget of its attack, as run and as the paper profile has them.

  Args:
    description: a budgets.json entry: at least "attack", "budget" (keyword arguments) and
      "seed".
    is_abs: whether the model is an ABS model (profiles may budget those apart).

  Returns:
    (changed, paper): (name, value) pairs sorted by name, JSON values.
  """
  for key in ("attack", "budget", "seed"):
    if key not in description:
      raise ValueError(f"Expected a budgets.json description with {key!r}, got "
                       f"{dict(description)}.")
  attack = description["attack"]
  defaults = ATTACKS[attack].defaults() if attack in ATTACKS else {}
  run = {**description["budget"], "seed": description["seed"]}
  paper = {**REFERENCE.budget(attack, is_abs), "seed": REFERENCE.seed}
  changed, reference = [], []
  for name in sorted(set(run) | set(paper)):
    ours = _plain(run[name] if name in run else defaults.get(name))
    theirs = _plain(paper[name] if name in paper else defaults.get(name))
    if ours != theirs:
      changed.append((name, ours))
      reference.append((name, theirs))
  return tuple(changed), tuple(reference)


def _is_abs(model: str) -> bool:
  """A registry model's `is_abs`; a model given by path counts as not ABS (the `paper`
  profile budgets both alike)."""
  return model in registry.MODELS and registry.MODELS[model].is_abs


def describe(rows: Sequence, descriptions: Mapping[str, Mapping]
             ) -> Dict[Tuple[str, str], Budget]:
  """(attack, model) -> its Budget, for every (model, attack) of `rows`.

  Args:
    rows: result rows (objects with model, attack, fingerprint and queries).
    descriptions: budgets.json: fingerprint -> description.

  Raises:
    ValueError: a (model, attack) has rows of several fingerprints (results of different
      budgets must not mix; `results.ResultStore` refuses them).
  """
  grouped: Dict[Tuple[str, str], list] = {}
  for row in rows:
    grouped.setdefault((row.attack, row.model), []).append(row)
  found = {}
  for (attack, model), cell_rows in grouped.items():
    fingerprints = sorted({row.fingerprint for row in cell_rows})
    if len(fingerprints) != 1:
      raise ValueError(f"{model} / {attack}: rows of several budget fingerprints "
                       f"{fingerprints}; results of different budgets must not mix.")
    description = descriptions.get(fingerprints[0])
    changed, paper = differences(description, _is_abs(model)) if description else ((), ())
    queries = tuple(sorted(row.queries for row in cell_rows if row.queries > 0))
    found[(attack, model)] = Budget(fingerprints[0], description is not None, changed, paper,
                                    queries)
  return found


def queries_median(queries: Sequence[int]) -> Optional[float]:
  """The median of queries per image; None for none."""
  return float(np.median(queries)) if len(queries) else None


def _value(value) -> str:
  if value is None:
    return "none"
  return value if isinstance(value, str) else _json(value)


def _settings(pairs) -> str:
  return ", ".join(f"{name} {_value(value)}" for name, value in pairs)


def _count(value: float) -> str:
  return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def to_lines(budgets: Mapping[Tuple[str, str], Budget], row_keys: Sequence[str],
             row_titles: Mapping[str, str], models: Sequence[str],
             model_titles: Mapping[str, str], beyond_paper: Sequence[str]) -> list:
  """The Markdown list of budgets: one line per row of `row_keys` whose budget differs from
  the `paper` profile's on some model (or is not recorded), and one per row of
  `beyond_paper`. Each line gives the budget as run, the models that share it (in column
  order), their rows' queries per image (median, max) and the `paper` profile's values.

  Args:
    budgets: `describe`'s result.
    row_keys: the attack rows in table order.
    row_titles: row key -> its title in the table.
    models: the columns in order.
    model_titles: model -> its column title.
    beyond_paper: the row keys beyond the paper's Table 1.
  """
  lines = []
  for key in row_keys:
    cells = [(model, budgets[(key, model)]) for model in models if (key, model) in budgets]
    if not cells or (key not in beyond_paper and all(
        b.recorded and not b.changed for _, b in cells)):
      continue
    groups: Dict[tuple, list] = {}  # the models that share one budget, in column order
    for model, budget in cells:
      same = (budget.recorded, "" if budget.recorded else budget.fingerprint,
              _json(budget.changed), _json(budget.paper))
      groups.setdefault(same, []).append((model, budget))
    references = {(name, _value(value)) for members in groups.values()
                  for name, value in members[0][1].paper}
    # The paper profile's values once at the end, unless they differ between the groups.
    once = len({name for name, _ in references}) == len(references)
    line = f"- {row_titles[key]}: " + "; ".join(
        _group(members, model_titles, with_paper=not once) for members in groups.values())
    if once and references:
      line += ". `paper` profile: " + ", ".join(f"{n} {v}" for n, v in sorted(references))
    lines.append(line + ".")
  return lines


def _group(members, model_titles: Mapping[str, str], with_paper: bool) -> str:
  """One budget of a line: what differs, on which models, their queries per image."""
  budget = members[0][1]
  if not budget.recorded:
    text = f"budget not recorded in budgets.json (fingerprint {budget.fingerprint})"
  else:
    text = _settings(budget.changed) if budget.changed else "the `paper` profile's budget"
  text += " on " + ", ".join(model_titles[model] for model, _ in members)
  queries = sorted(q for _, b in members for q in b.queries)
  if queries:
    text += (f" (queries per image: median {_count(queries_median(queries))}, "
             f"max {_count(queries[-1])})")
  if with_paper and budget.paper:
    text += f" (`paper` profile: {_settings(budget.paper)})"
  return text
