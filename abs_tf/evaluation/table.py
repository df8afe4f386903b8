"""Table 1 from result rows: median distance / accuracy at the threshold, per model and row.

Per model and attack, over the test images with a row:
  median   = median of the minimal adversarial distances (0 for a clean misclassification,
             inf for a failed attack; the median is inf when most attacks failed),
  accuracy = fraction of images whose distance exceeds the metric's threshold (1.5 in L2,
             0.3 in L-infinity, 12 in L0): an adversarial at exactly the threshold counts.
"All <metric> attacks" rows take, per image, the minimum distance over every attack of the
metric that was run on the model (extra rows such as Latent Descent and `_envelope`
included), over the images with at least one such row. "Clean" is the fraction of images
that some row shows correctly classified (distance > 0).

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
from abs_tf.evaluation import paper_table
from abs_tf.evaluation import plan

METRICS = ("l2", "linf", "l0")
THRESHOLDS = {"l2": 1.5, "linf": 0.3, "l0": 12.0}
METRIC_TITLES = {"l2": "L2", "linf": "L∞", "l0": "L0"}
ALL_TITLES = {"all_l2": "All L2 Attacks", "all_linf": "All L∞ Attacks",
              "all_l0": "All L0 Attacks"}


def title(row_key: str) -> str:
  """A row's title: the attack's declared one (`catalog.AttackEntry.title`), the "all"
  rows', or the key itself for an attack not registered in this process."""
  if row_key in ATTACKS:
    return ATTACKS[row_key].title
  return ALL_TITLES.get(row_key, row_key)


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
  """
  models: List[str]
  titles: Dict[str, str]
  clean: Dict[str, Cell]
  rows: List[tuple]
  cells: Dict[tuple, Cell]


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


def best_over_attacks(rows, metric: str) -> Dict[str, Dict[int, float]]:
  """model -> {test_index: the smallest distance over the model's attacks of `metric`}."""
  best: Dict[str, Dict[int, float]] = {}
  for row in rows:
    if row.metric == metric:
      per_model = best.setdefault(row.model, {})
      per_model[row.test_index] = min(per_model.get(row.test_index, math.inf), row.distance)
  return best


def model_order(names: Iterable[str]) -> List[str]:
  """Registry models in the paper's column order, then the others as given."""
  names = list(dict.fromkeys(names))
  known = [n for n in registry.MODELS if n in names]
  return known + [n for n in names if n not in registry.MODELS]


def build(rows: Sequence, titles: Optional[Mapping[str, str]] = None) -> Table:
  """Table 1 from result rows (any iterable of objects with model, attack, metric,
  test_index and distance)."""
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
  stored = {row.attack for row in rows}
  order = catalog.table_order(stored & set(ATTACKS)) + sorted(stored - set(ATTACKS))
  table_rows, cells = [], {}
  for metric in METRICS:
    for attack in order:
      if any(a == attack and plan.metric_of(a) == metric for (_, a) in by_attack):
        table_rows.append((attack, metric))
        for model in models:
          if (model, attack) in by_attack:
            cells[(attack, model)] = cell(by_attack[(model, attack)].values(), metric)
    best = best_over_attacks(rows, metric)
    if best:
      table_rows.append((f"all_{metric}", metric))
      for model, distances in best.items():
        cells[(f"all_{metric}", model)] = cell(distances.values(), metric)
  return Table(models, titles, clean, table_rows, cells)


def format_median(value: float, metric: str) -> str:
  if math.isnan(value):
    return "—"
  if math.isinf(value):
    return "∞"
  return f"{value:.1f}" if metric == "l0" else f"{value:.2f}"


def format_cell(median: float, accuracy: float, metric: str) -> str:
  return f"{format_median(median, metric)} / {accuracy:.0%}"


def _paper(row_key: str, model: str, metric: str) -> str:
  entry = paper_table.PAPER_TABLE.get(row_key, {}).get(registry.paper_column(model))
  return format_cell(entry[0], entry[1], metric) if entry else ""


def to_markdown(table: Table) -> str:
  """Table 1 in Markdown: "median / accuracy" cells, the paper's beside in parentheses."""
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
      cells.append(_with_paper(ours, _paper(row_key, model, metric)))
    line(f"**{title(row_key)}**" if row_key.startswith("all_") else title(row_key), cells)
  return ("Cells: median adversarial distance / accuracy at the threshold; the paper's "
          "Table 1 in parentheses.\n\n" + "\n".join(lines) + "\n")


def _paper_clean(model: str) -> str:
  value = paper_table.PAPER_CLEAN_ACCURACY.get(registry.paper_column(model))
  return f"{value:.1%}" if value is not None else ""


def _with_paper(ours: str, paper: str) -> str:
  if not paper:
    return ours
  return f"{ours or '—'} ({paper})"


CSV_FIELDS = ("row", "title", "metric", "model", "median", "accuracy", "count",
              "paper_median", "paper_accuracy")


def to_csv(table: Table) -> str:
  """Table 1 as tidy CSV: one line per cell, numbers as numbers ("inf" for infinity)."""
  out = io.StringIO()
  writer = csv.writer(out, lineterminator="\n")
  writer.writerow(CSV_FIELDS)
  for model in table.models:
    paper = paper_table.PAPER_CLEAN_ACCURACY.get(registry.paper_column(model))
    writer.writerow(["clean", "Clean", "", model, "", table.clean[model].accuracy,
                     table.clean[model].count, "", "" if paper is None else paper])
  for row_key, metric in table.rows:
    for model in table.models:
      found = table.cells.get((row_key, model))
      if found is None:
        continue
      paper = paper_table.PAPER_TABLE.get(row_key, {}).get(registry.paper_column(model))
      writer.writerow([row_key, title(row_key), metric, model, found.median,
                       found.accuracy, found.count,
                       "" if paper is None else paper[0], "" if paper is None else paper[1]])
  return out.getvalue()
