"""Table 1 from result rows: median distance / accuracy at the threshold, per model and row.

Per model and attack, over the test images with a row:
  median   = median of the minimal adversarial distances (0 for a clean misclassification,
             inf for a failed attack; the median is inf when most attacks failed),
  accuracy = fraction of images whose distance exceeds the metric's threshold (1.5 in L2,
             0.3 in L-infinity, 12 in L0): an adversarial at exactly the threshold counts.
"All <metric> attacks" rows take, per image, the minimum distance over every attack of the
metric that was run on the model (Latent Descent and the rows beyond the paper's, such as
`_envelope`, included), over the images with at least one such row. Where a metric has rows
beyond the paper's (`catalog.AttackEntry.paper_row` False, or attacks not registered in this
process), an "All <metric> attacks (the paper's)" row takes the same minimum over the paper's
attacks only, like for like with the paper's "All" row. "Clean" is the fraction of images
that some row shows correctly classified (distance > 0).

`to_markdown` renders the cells as "median / accuracy", the paper's in parentheses, rows
beyond the paper's marked with BEYOND_PAPER, a legend (LEGEND) under the table and, where the
table is built with budgets.json, the budgets as run where they differ from the paper's
(`budget_notes`).

References:
  Schott et al., ICLR 2019, section 5 (the two metrics) and Table 1 (the layout).
"""

import csv
import dataclasses
import io
import math
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np

from abs_tf import registry
from abs_tf.attacks import ATTACKS
from abs_tf.attacks import catalog
from abs_tf.evaluation import budget_notes
from abs_tf.evaluation import paper_table

METRICS = ("l2", "linf", "l0")
THRESHOLDS = {"l2": 1.5, "linf": 0.3, "l0": 12.0}
METRIC_TITLES = {"l2": "L2", "linf": "L∞", "l0": "L0"}
ALL_TITLES = {f"all_{m}": f"All {METRIC_TITLES[m]} Attacks" for m in METRICS}
PAPER_ALL_TITLES = {f"all_paper_{m}": f"All {METRIC_TITLES[m]} Attacks (the paper's)"
                    for m in METRICS}
BEYOND_PAPER = "†"  # marks the rows of attacks beyond the paper's Table 1

LEGEND = f"""\
- Cells: median adversarial distance / accuracy at the threshold ε, over the test images \
attacked; in parentheses the paper's Table 1 (the authors' released models compare with \
the paper's column of the model they are).
- (n=...): the number of test images: in the Clean row, those the model was evaluated on; \
in a cell, shown where the attack ran on fewer (the profile caps a costly attack at the \
first n images).
- ∞: the median is infinite: the attack found no adversarial for at least half of the \
images (a failed attack counts as ∞, a misclassified clean image as 0).
- —: no result where the paper has one: the attack did not run on this model, because \
this machine's profile caps it at 0 images for its cost (e.g. the iterative w/ GE attacks \
on ABS models in `standard`) or it was not requested.
- An empty cell: the attack does not apply to the model (e.g. real-gradient attacks on ABS \
models; Latent Descent and w/ envelope on the others), or it did not run and the paper has \
no cell either.
- {BEYOND_PAPER}: a row beyond the paper's Table 1 (an attack the paper did not run); it \
counts in the "All" rows. "All ... Attacks" is the per-image best over every attack of the \
metric; "All ... Attacks (the paper's)", shown where a metric has rows beyond the paper's, \
the per-image best over the paper's attacks only, like for like with the paper's "All" row.
- Latent Descent is the paper's attack on ABS models (section 4); its Table 1 shows it \
only inside the "All" rows. A row titled by a stable name (e.g. `old_attack`) is of an \
attack this code no longer registers; it counts as beyond the paper.
"""


def all_key(metric: str, paper_only: bool = False) -> str:
  """The key of a metric's "All" row, or of its "All (the paper's)" row."""
  return f"all_paper_{metric}" if paper_only else f"all_{metric}"


def title(row_key: str) -> str:
  """A row's title: the attack's declared one (`catalog.AttackEntry.title`), the "all"
  rows', or the key itself for an attack not registered in this process."""
  if row_key in ATTACKS:
    return ATTACKS[row_key].title
  return ALL_TITLES.get(row_key) or PAPER_ALL_TITLES.get(row_key, row_key)


def is_all_row(row_key: str) -> bool:
  """Whether a row is an "All" row (of every attack or of the paper's), not an attack's."""
  return row_key in ALL_TITLES or row_key in PAPER_ALL_TITLES


def is_paper_attack(attack: str) -> bool:
  """Whether `attack` is one of the paper's (`catalog.AttackEntry.paper_row`); an attack
  not registered in this process cannot be shown to be, so it counts as beyond."""
  return attack in ATTACKS and ATTACKS[attack].paper_row


def beyond_paper(row_key: str) -> bool:
  """Whether a row is an attack's row beyond the paper's Table 1 (never an "All" row)."""
  return not is_all_row(row_key) and not is_paper_attack(row_key)


def paper_key(row_key: str) -> str:
  """The paper's Table 1 row a row compares with: an "All (the paper's)" row with the
  paper's "All" row, any other with its own key."""
  if row_key in PAPER_ALL_TITLES:
    return all_key(row_key[len("all_paper_"):])
  return row_key


@dataclasses.dataclass(frozen=True)
class Cell:
  """One cell: median distance, accuracy in [0, 1] at the threshold, number of images."""
  median: float
  accuracy: float
  count: int


@dataclasses.dataclass(frozen=True)
class Table:
  """Table 1 as data.

  Attributes:
    models: column keys (model names), in order.
    titles: model name -> column title.
    clean: model name -> clean accuracy (fraction of images correctly classified).
    rows: (row key, metric) in order; a row key is an attack name or "all_<metric>".
    cells: (row key, model) -> Cell, for the cells with results.
    budgets: (attack, model) -> its budget as run against the paper's
      (`budget_notes.Budget`), for every attack cell; empty where built without budgets.json.
  """
  models: List[str]
  titles: Dict[str, str]
  clean: Dict[str, Cell]
  rows: List[tuple]
  cells: Dict[tuple, Cell]
  budgets: Dict[tuple, budget_notes.Budget] = dataclasses.field(default_factory=dict)


def median_distance(distances) -> float:
  """Median of distances (inf allowed); nan for none."""
  distances = np.asarray(list(distances), np.float64)
  return float(np.median(distances)) if len(distances) else math.nan


def accuracy_at(distances, threshold: float) -> float:
  """Fraction of distances strictly above `threshold` (the model resists every smaller
  perturbation the attacks found); nan for none."""
  distances = np.asarray(list(distances), np.float64)
  return float(np.mean(distances > threshold)) if len(distances) else math.nan


def cell(distances, metric: str) -> Cell:
  distances = list(distances)
  return Cell(median_distance(distances), accuracy_at(distances, THRESHOLDS[metric]),
              len(distances))


def distances_by_attack(rows) -> Dict[tuple, Dict[int, float]]:
  """(model, attack) -> {test_index: distance}."""
  found: Dict[tuple, Dict[int, float]] = {}
  for row in rows:
    found.setdefault((row.model, row.attack), {})[row.test_index] = row.distance
  return found


def best_over_attacks(rows, metric: str, paper_only: bool = False
                      ) -> Dict[str, Dict[int, float]]:
  """model -> {test_index: the smallest distance over the model's attacks of `metric`}
  (over the paper's attacks only if `paper_only`, `is_paper_attack`)."""
  best: Dict[str, Dict[int, float]] = {}
  for row in rows:
    if row.metric == metric and (not paper_only or is_paper_attack(row.attack)):
      per_model = best.setdefault(row.model, {})
      per_model[row.test_index] = min(per_model.get(row.test_index, math.inf), row.distance)
  return best


def model_order(names: Iterable[str]) -> List[str]:
  """Registry models in the paper's column order, then the others as given."""
  names = list(dict.fromkeys(names))
  known = [n for n in registry.MODELS if n in names]
  return known + [n for n in names if n not in registry.MODELS]


def build(rows: Sequence, titles: Optional[Mapping[str, str]] = None,
          budgets: Optional[Mapping[str, Mapping]] = None) -> Table:
  """Table 1 from result rows.

  Args:
    rows: any iterable of objects with model, attack, metric, test_index and distance (and
      fingerprint and queries, where `budgets` is given).
    titles: model -> column title, over the registry's.
    budgets: budgets.json (fingerprint -> description) of the rows' fingerprints; the table
      then says each row's budget as run where it differs from the paper's. None: it does
      not (e.g. hand-made rows).

  Raises:
    ValueError: `budgets` given and a (model, attack) has rows of several fingerprints.
  """
  rows = list(rows)
  models = model_order(row.model for row in rows)
  titles = {m: (titles or {}).get(m) or (registry.MODELS[m].title if m in registry.MODELS
                                        else m) for m in models}
  correct: Dict[str, Dict[int, bool]] = {}
  for row in rows:
    seen = correct.setdefault(row.model, {})
    seen[row.test_index] = seen.get(row.test_index, False) or row.distance > 0
  clean = {m: Cell(math.nan, float(np.mean(list(v.values()))), len(v))
           for m, v in correct.items()}
  by_attack = distances_by_attack(rows)
  metric_of = {row.attack: row.metric for row in rows}  # also of unregistered attacks
  order = (catalog.table_order(set(metric_of) & set(ATTACKS))
           + sorted(set(metric_of) - set(ATTACKS)))
  table_rows, cells = [], {}

  def add_row(key, metric, distances_by_model):
    table_rows.append((key, metric))
    for model, distances in distances_by_model.items():
      cells[(key, model)] = cell(distances.values(), metric)

  for metric in METRICS:
    attacks = [a for a in order if metric_of[a] == metric]
    for attack in attacks:
      add_row(attack, metric, {m: by_attack[(m, attack)] for m in models
                               if (m, attack) in by_attack})
    paper_best = best_over_attacks(rows, metric, paper_only=True)
    if paper_best and any(beyond_paper(a) for a in attacks):
      add_row(all_key(metric, paper_only=True), metric, paper_best)
    best = best_over_attacks(rows, metric)
    if best:
      add_row(all_key(metric), metric, best)
  described = {} if budgets is None else budget_notes.describe(rows, budgets)
  return Table(models, titles, clean, table_rows, cells, described)


def format_median(value: float, metric: str) -> str:
  if math.isnan(value):
    return "—"
  if math.isinf(value):
    return "∞"
  return f"{value:.1f}" if metric == "l0" else f"{value:.2f}"


def format_cell(median: float, accuracy: float, metric: str) -> str:
  return f"{format_median(median, metric)} / {accuracy:.0%}"


def _paper_entry(row_key: str, model: str):
  """The paper's (median, accuracy) for a row and model, or None."""
  return paper_table.PAPER_TABLE.get(paper_key(row_key), {}).get(registry.paper_column(model))


def _paper(row_key: str, model: str, metric: str) -> str:
  entry = _paper_entry(row_key, model)
  return format_cell(entry[0], entry[1], metric) if entry else ""


def markdown_title(row_key: str) -> str:
  """A row's title in the Markdown table: "All" rows bold, rows beyond the paper marked."""
  if is_all_row(row_key):
    return f"**{title(row_key)}**"
  return f"{title(row_key)} {BEYOND_PAPER}" if beyond_paper(row_key) else title(row_key)


def to_markdown(table: Table) -> str:
  """Table 1 in Markdown: "median / accuracy" cells, the paper's beside in parentheses, the
  number of images where a cell has fewer than its column, the legend under it and, where
  the table has budgets, the budgets list (`budgets_markdown`) under that."""
  lines = ["| | " + " | ".join(table.titles[m] for m in table.models) + " |",
           "|---|" + "---|" * len(table.models)]

  def line(title, cells):
    lines.append(f"| {title} | " + " | ".join(cells) + " |")

  line("Clean", [_with_paper(f"{table.clean[m].accuracy:.1%}", _paper_clean(m))
                 + f" (n={table.clean[m].count})" for m in table.models])
  current = None
  for row_key, metric in table.rows:
    if metric != current:
      current = metric
      line(f"*{METRIC_TITLES[metric]} (ε = {THRESHOLDS[metric]:g})*", [""] * len(table.models))
    cells = []
    for model in table.models:
      found = table.cells.get((row_key, model))
      ours = format_cell(found.median, found.accuracy, metric) if found else ""
      text = _with_paper(ours, _paper(row_key, model, metric))
      if found and found.count < table.clean[model].count:
        text += f" (n={found.count})"
      cells.append(text)
    line(markdown_title(row_key), cells)
  return ("Cells: median adversarial distance / accuracy at the threshold; the paper's "
          "Table 1 in parentheses.\n\n" + "\n".join(lines) + "\n\n" + LEGEND
          + budgets_markdown(table))


BUDGETS_HEADING = (
    "Budgets as run (from budgets.json), where they differ from the `paper` profile's "
    "(Foolbox 1.3's defaults, the paper's settings), and of every row beyond the paper "
    f"({BEYOND_PAPER}): the attack's keyword arguments that differ, the models that shared "
    "them, and the model queries per image that their rows record (median, max over the "
    "images attacked; each image's clean check and final verification included).")


def budgets_markdown(table: Table) -> str:
  """The budgets list under the legend ("" for a table built without budgets.json): a line
  per attack row whose budget as run differs from the `paper` profile's on some model, and
  per row beyond the paper's (`budget_notes.to_lines`)."""
  if not table.budgets:
    return ""
  rows = [(key, metric) for key, metric in table.rows if not is_all_row(key)]
  keys = [key for key, _ in rows]
  titles = [markdown_title(key) for key in keys]
  # A title several metrics' rows share (FMN, HopSkipJump) names its metric.
  lines = budget_notes.to_lines(
      table.budgets, keys,
      {key: f"{text} ({METRIC_TITLES[metric]})" if titles.count(text) > 1 else text
       for (key, metric), text in zip(rows, titles)},
      table.models, table.titles, [key for key in keys if beyond_paper(key)])
  if not lines:
    return "\nBudgets: every row ran with the `paper` profile's budgets.\n"
  return "\n" + BUDGETS_HEADING + "\n\n" + "\n".join(lines) + "\n"


def _paper_clean(model: str) -> str:
  value = paper_table.PAPER_CLEAN_ACCURACY.get(registry.paper_column(model))
  return f"{value:.1%}" if value is not None else ""


def _with_paper(ours: str, paper: str) -> str:
  if not paper:
    return ours
  return f"{ours or '—'} ({paper})"


CSV_FIELDS = ("row", "title", "metric", "model", "median", "accuracy", "count",
              "paper_median", "paper_accuracy", "beyond_paper", "budget", "paper_budget",
              "queries_median", "queries_max")


def to_csv(table: Table) -> str:
  """Table 1 as tidy CSV: one line per cell, numbers as numbers ("inf" for infinity);
  beyond_paper is 1 on the rows of attacks beyond the paper's Table 1, else 0. On attack
  rows of a table built with budgets.json: budget, a JSON object of the keyword arguments
  as run that differ from the `paper` profile's ("{}": none differ; empty: not recorded),
  paper_budget the `paper` profile's values of the same, and the queries per image the
  cell's rows record (median, max). Empty on the Clean and "All" rows."""
  out = io.StringIO()
  writer = csv.writer(out, lineterminator="\n")
  writer.writerow(CSV_FIELDS)
  for model in table.models:
    paper = paper_table.PAPER_CLEAN_ACCURACY.get(registry.paper_column(model))
    writer.writerow(["clean", "Clean", "", model, "", table.clean[model].accuracy,
                     table.clean[model].count, "", "" if paper is None else paper, 0,
                     "", "", "", ""])
  for row_key, metric in table.rows:
    for model in table.models:
      found = table.cells.get((row_key, model))
      if found is None:
        continue
      paper = _paper_entry(row_key, model)
      writer.writerow([row_key, title(row_key), metric, model, found.median,
                       found.accuracy, found.count,
                       "" if paper is None else paper[0], "" if paper is None else paper[1],
                       int(beyond_paper(row_key))] + _budget_fields(table, row_key, model))
  return out.getvalue()


def _budget_fields(table: Table, row_key: str, model: str) -> list:
  """budget, paper_budget, queries_median, queries_max of a cell (see `to_csv`)."""
  budget = table.budgets.get((row_key, model))
  if budget is None:
    return ["", "", "", ""]
  median = budget_notes.queries_median(budget.queries)
  return [budget.to_json(), budget_notes.to_json(budget.paper) if budget.recorded else "",
          "" if median is None else median, budget.queries[-1] if budget.queries else ""]
