"""The paper's Figure 2 as per-image distances, and D+: how far our attacks fall short of the
paper's anywhere on a model's accuracy curve.

  curves = paper_curves.load()                  # third_party/abs_paper/figure2_curves.json
  curve = paper_curves.curve_for("cnn_authors", "l2", curves)   # the paper's CNN, L2
  found = paper_curves.compare(rows, curves)    # D+ per model and metric

A model's accuracy curve is the fraction of its images whose minimal adversarial distance is
larger than each perturbation size d (a clean misclassification has distance 0, a failed
attack +inf). Ours takes, per image, the smallest distance over every attack of the metric,
as Table 1's "All" rows do (`table.best_over_attacks`). Per model and metric,

  D+ = sup_d (F_paper(d) - F_ours(d)) = sup_d (accuracy_ours(d) - accuracy_paper(d)),

F(d) the fraction of images broken at distance <= d: the one-sided two-sample
Kolmogorov-Smirnov statistic, the largest excess, at any distance, of the fraction of images
the paper's attacks broke over the fraction ours broke (in Figure 2, the largest height of our
solid curve above the paper's dashed one). D+ > 0 where our attacks are weaker than the
paper's, or our model more robust. Both F are step functions continuous from the right, so the
supremum is attained at a finite distance of one of the two samples, where ties count in both
F at once.

If both samples came from one distribution, P(D+ >= c) is about exp(-2 c^2 n m / (n + m))
for n and m images (Smirnov), so the critical value at level alpha is
sqrt(-ln(alpha) / 2 * (n + m) / (n m)): 0.173 at 5 % for 100 against 100 images. The exact
distribution for n = m = 100 (Gnedenko and Korolyuk) gives P(D+ >= 0.17) = 0.056 and
P(D+ >= 0.18) = 0.039, the same decision. It is a guide rather than an exact test here:
both samples are 100 MNIST test images (probably the same ones), and ties (zeros, whole L0
pixels) make the test conservative.

References:
  Schott et al., ICLR 2019, Figure 2.
  N. Smirnov, "On the estimation of the discrepancy between empirical curves of distribution
  for two independent samples", Bull. Math. Univ. Moscou 2(2), 1939.
  B. V. Gnedenko and V. S. Korolyuk, "On the maximum discrepancy between two empirical
  distributions", Dokl. Akad. Nauk SSSR 80, 1951.
"""

import dataclasses
import json
import math
import numbers
import pathlib
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from abs_tf import registry
from abs_tf import resources
from abs_tf.evaluation import table as table_lib

CURVES_FILE = "figure2_curves.json"
ALPHA = 0.05  # the level of the critical values reported beside D+
# The distances are rounded to 6 decimals, the last distance is not.
_ROUNDING = 1e-6
_FIELDS = {"distances", "above_last_distance", "last_distance",
           "accuracy_at_threshold_percent"}


@dataclasses.dataclass(frozen=True)
class PaperCurve:
  """One curve of the paper's Figure 2.

  Attributes:
    metric: l2, linf or l0.
    column: registry name of the paper's model (what `ModelSpec.paper_column` names).
    title: its Table 1 title.
    distances: sorted per-image minimal adversarial distances, >= 0; +inf for the images
      beyond the curve's last point.
    last_distance: the largest perturbation size the curve covers.
    accuracy_at_threshold: the curve's value at the metric's threshold, in [0, 1].
  """
  metric: str
  column: str
  title: str
  distances: Tuple[float, ...]
  last_distance: float
  accuracy_at_threshold: float

  @property
  def beyond(self) -> int:
    """Images broken, if at all, beyond `last_distance`."""
    return sum(math.isinf(d) for d in self.distances)


@dataclasses.dataclass(frozen=True)
class Excess:
  """D+ and where it is attained.

  Attributes:
    d_plus: sup_d (F_paper(d) - F_ours(d)), in [0, 1].
    distance: the smallest distance attaining it; nan when d_plus is 0.
    paper_broken: F_paper(distance), in [0, 1]; nan when d_plus is 0.
    ours_broken: F_ours(distance), in [0, 1]; nan when d_plus is 0.
  """
  d_plus: float
  distance: float
  paper_broken: float
  ours_broken: float


@dataclasses.dataclass(frozen=True)
class Comparison:
  """One model and metric against the paper's curve of its `ModelSpec.paper_column`.

  Attributes:
    model: registry name.
    metric: l2, linf or l0.
    paper_column: the paper's model it is compared with.
    excess: D+ and where it is attained.
    paper_count: images of the paper's curve.
    ours_count: images with a row of the metric.
    critical_value: D+'s critical value at level ALPHA for these counts.
  """
  model: str
  metric: str
  paper_column: str
  excess: Excess
  paper_count: int
  ours_count: int
  critical_value: float

  @property
  def exceeds(self) -> bool:
    """D+ above the critical value: our attacks are significantly weaker somewhere."""
    return self.excess.d_plus > self.critical_value


def accuracy_curve(distances, sizes) -> np.ndarray:
  """Fraction of `distances` larger than each size (+inf never broken), float64
  [len(sizes)]; nan for no distances."""
  distances = np.sort(np.asarray(list(distances), np.float64))
  sizes = np.asarray(sizes, np.float64)
  if not len(distances):
    return np.full(sizes.shape, np.nan)
  return 1.0 - _broken(distances, sizes) / len(distances)


def d_plus(paper, ours) -> Excess:
  """The one-sided two-sample Kolmogorov-Smirnov statistic sup_d (F_paper(d) - F_ours(d)).

  Args:
    paper, ours: minimal adversarial distances per image, >= 0 (0: clean misclassification,
      +inf: never broken); any lengths >= 1.

  Raises:
    ValueError: an empty sample, NaN or a negative distance.
  """
  paper, ours = np.sort(_sample(paper, "paper")), np.sort(_sample(ours, "ours"))
  n, m = len(paper), len(ours)
  points = np.unique(np.concatenate([paper, ours]))
  points = points[np.isfinite(points)]
  # In whole images over n m, so that equal fractions give exactly 0.
  gaps = _broken(paper, points) * m - _broken(ours, points) * n
  if not len(points) or gaps.max() <= 0:
    return Excess(0.0, math.nan, math.nan, math.nan)
  best = int(np.argmax(gaps))  # the first, i.e. the smallest distance, of the largest
  return Excess(float(gaps[best] / (n * m)), float(points[best]),
                float(_broken(paper, points[best]) / n), float(_broken(ours, points[best]) / m))


def _broken(sorted_distances: np.ndarray, sizes) -> np.ndarray:
  """Number of distances <= each size: the images broken within it (int64)."""
  return np.searchsorted(sorted_distances, sizes, side="right")


def critical_value(n: int, m: int, alpha: float = ALPHA) -> float:
  """D+'s asymptotic critical value at level `alpha` for samples of n and m values:
  sqrt(-ln(alpha) / 2 * (n + m) / (n m)) (Smirnov); 0.173 for n = m = 100, alpha = 0.05."""
  if not (isinstance(n, numbers.Integral) and isinstance(m, numbers.Integral)
          and n >= 1 and m >= 1):
    raise ValueError(f"n and m must be integers >= 1, got {n!r} and {m!r}.")
  if not 0.0 < alpha < 1.0:
    raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}.")
  return math.sqrt(-math.log(alpha) / 2.0 * (n + m) / (n * m))


def load(path=None) -> Dict[Tuple[str, str], PaperCurve]:
  """The paper's Figure 2: (metric, paper column) -> PaperCurve.

  Args:
    path: a JSON file in the format of third_party/abs_paper/README.md; by default the
      vendored one (`resources.paper_file`).

  Raises:
    ValueError: the file does not have that format (the message names the curve and what was
      expected).
  """
  path = pathlib.Path(path) if path is not None else resources.paper_file(CURVES_FILE)
  data = json.loads(path.read_text())
  columns = {registry.MODELS[name].title: name for name in registry.paper_models()}
  _expect_keys(data, set(table_lib.METRICS), f"{path}: the metrics")
  curves = {}
  for metric in table_lib.METRICS:
    _expect_keys(data[metric], set(columns), f"{path}: {metric}: the model titles")
    for title, fields in data[metric].items():
      curve = _curve(fields, metric, columns[title], title, f"{path}: {metric}/{title}")
      curves[(metric, curve.column)] = curve
  counts = {f"{c.metric}/{c.title}": len(c.distances) for c in curves.values()}
  if len(set(counts.values())) > 1:  # one evaluation: the same images in every curve
    raise ValueError(f"{path}: every curve must cover the same number of images "
                     "(len(distances) + above_last_distance), got " + ", ".join(
                         f"{key} {count}" for key, count in counts.items()) + ".")
  return curves


def curve_for(model: str, metric: str,
              curves: Mapping[Tuple[str, str], PaperCurve]) -> Optional[PaperCurve]:
  """The paper's curve a model compares with (its `ModelSpec.paper_column`), or None."""
  column = registry.paper_column(model)
  return curves.get((metric, column)) if column else None


def compare(rows: Sequence, curves: Optional[Mapping] = None) -> List[Comparison]:
  """D+ of every model of `rows` that has a paper column, per metric it has rows of.

  Args:
    rows: result rows (objects with model, metric, test_index and distance).
    curves: `load()`'s result; by default the vendored curves.

  Returns:
    Comparisons in the table's model order (`table.model_order`), then metric order.
  """
  curves = load() if curves is None else curves
  rows = list(rows)
  found = []
  best = {metric: table_lib.best_over_attacks(rows, metric) for metric in table_lib.METRICS}
  for model in table_lib.model_order(row.model for row in rows):
    for metric in table_lib.METRICS:
      curve = curve_for(model, metric, curves)
      if curve is None or model not in best[metric]:
        continue
      ours = list(best[metric][model].values())
      found.append(Comparison(model, metric, curve.column, d_plus(curve.distances, ours),
                              len(curve.distances), len(ours),
                              critical_value(len(curve.distances), len(ours))))
  return found


def to_markdown(comparisons: Sequence[Comparison], titles: Mapping[str, str]) -> str:
  """D+ per model (rows) and metric (columns), values above the critical value in bold."""
  metrics = [m for m in table_lib.METRICS if any(c.metric == m for c in comparisons)]
  by_key = {(c.model, c.metric): c for c in comparisons}
  models = list(dict.fromkeys(c.model for c in comparisons))
  criticals = sorted({round(c.critical_value, 3) for c in comparisons})
  lines = [
      "D+ per model and metric: the largest excess, at any perturbation size d, of the "
      "fraction of images the paper's attacks broke at distance <= d (its Figure 2, "
      "`third_party/abs_paper`) over the fraction ours broke (each image's smallest distance "
      "over every attack of the metric, as in the \"All\" rows of Table 1). Failed attacks "
      "count as never broken, clean misclassifications as broken at 0. In parentheses: the "
      "smallest d where it is attained, and the two fractions there (paper's vs ours).",
      "",
      f"**Bold**: above the one-sided Kolmogorov-Smirnov critical value at "
      f"{ALPHA:.0%} (sqrt(-ln(alpha) / 2 * (n + m) / (n m)) = "
      f"{', '.join(f'{c:.3f}' for c in criticals) or '—'} here): our attacks break "
      "significantly fewer images than the paper's up to that distance. L0 of ABS and Binary "
      "ABS: the paper's figure and its Table 1 come from different runs, the figure's "
      "attacks reaching further (`third_party/abs_paper/README.md`); D+ is against the "
      "figure.",
      "",
      "| model | paper's | " + " | ".join(table_lib.METRIC_TITLES[m] for m in metrics) + " |",
      "|---|---|" + "---|" * len(metrics)]
  for model in models:
    cells = [_cell(by_key[(model, m)]) if (model, m) in by_key else "" for m in metrics]
    column = next(c.paper_column for c in comparisons if c.model == model)
    lines.append(f"| {titles.get(model, model)} | {registry.MODELS[column].title} | "
                 + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


def to_json(comparisons: Sequence[Comparison]) -> dict:
  """The comparisons as JSON-ready data (nan as None): {"alpha", "comparisons": [...]}."""
  found = []
  for c in comparisons:
    entry = {"model": c.model, "metric": c.metric, "paper_column": c.paper_column}
    entry.update({k: _number(v) for k, v in dataclasses.asdict(c.excess).items()})
    entry.update(paper_count=c.paper_count, ours_count=c.ours_count,
                 critical_value=c.critical_value, exceeds=c.exceeds)
    found.append(entry)
  return {"alpha": ALPHA, "comparisons": found}


def _cell(found: Comparison) -> str:
  excess = found.excess
  value = f"{excess.d_plus:.2f}"
  if found.exceeds:
    value = f"**{value}**"
  if excess.d_plus == 0:
    return value
  return (f"{value} ({table_lib.format_median(excess.distance, found.metric)}: "
          f"{excess.paper_broken:.0%} vs {excess.ours_broken:.0%})")


def _number(value: float):
  return None if math.isnan(value) else value


def _sample(distances, name: str) -> np.ndarray:
  values = np.asarray(list(distances), np.float64)
  if values.ndim != 1 or not len(values):
    raise ValueError(f"{name} must be a non-empty list of distances, got shape "
                     f"{values.shape}.")
  if np.isnan(values).any() or (values < 0).any():
    raise ValueError(f"{name} distances must be >= 0 (+inf for never broken), without NaN; "
                     f"got min {np.nanmin(values)} and {int(np.isnan(values).sum())} NaN.")
  return values


def _expect_keys(data, expected: set, what: str):
  if not isinstance(data, dict) or set(data) != expected:
    found = sorted(data) if isinstance(data, dict) else type(data).__name__
    raise ValueError(f"{what}: expected the keys {sorted(expected)}, got {found}.")


def _is_number(value) -> bool:
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _curve(fields, metric: str, column: str, title: str, where: str) -> PaperCurve:
  """A validated PaperCurve from one curve's JSON fields."""
  _expect_keys(fields, _FIELDS, where)
  distances, beyond = fields["distances"], fields["above_last_distance"]
  last, accuracy = fields["last_distance"], fields["accuracy_at_threshold_percent"]
  if not (_is_number(last) and 0 < last < math.inf):
    raise ValueError(f"{where}: last_distance must be a finite number > 0, got {last!r}.")
  if not (isinstance(distances, list) and all(_is_number(d) for d in distances)
          and all(0 <= d <= last + _ROUNDING for d in distances)):
    raise ValueError(f"{where}: distances must be a list of numbers in [0, last_distance = "
                     f"{last}].")
  if any(b < a for a, b in zip(distances, distances[1:])):
    raise ValueError(f"{where}: distances must be sorted in increasing order.")
  if not (isinstance(beyond, int) and not isinstance(beyond, bool) and beyond >= 0
          and len(distances) + beyond >= 1):
    raise ValueError(f"{where}: above_last_distance must be an integer >= 0 (and the curve "
                     f"cover one image at least), got {beyond!r}.")
  values = tuple(float(d) for d in distances) + (math.inf,) * beyond
  if not (_is_number(accuracy) and _accuracy_agrees(values, accuracy / 100.0, metric)):
    raise ValueError(f"{where}: accuracy_at_threshold_percent must be the curve's value at "
                     f"{table_lib.THRESHOLDS[metric]:g}, within one image of the distances' "
                     f"count ({accuracy_curve(values, [table_lib.THRESHOLDS[metric]])[0]:.0%}),"
                     f" got {accuracy!r}.")
  return PaperCurve(metric, column, title, values, float(last), accuracy / 100.0)


def _accuracy_agrees(distances, accuracy: float, metric: str) -> bool:
  """Whether `accuracy` lies between the fractions of distances above and at least at the
  threshold, give or take one image (the figure's curve is interpolated)."""
  values = np.asarray(distances)
  threshold, slack = table_lib.THRESHOLDS[metric], 1.0 / len(values)
  return (np.mean(values > threshold) - slack <= accuracy
          <= np.mean(values >= threshold) + slack)
