"""Figures 2 and 3 of the paper from the result rows and the stored adversarials.

Figure 2: per metric, the accuracy of each model as a function of the perturbation size
(the fraction of images whose smallest adversarial over all attacks of the metric is larger),
with the thresholds of Table 1 dotted, and the paper's own curve of each model's paper column
(`ModelSpec.paper_column`, `paper_curves`) dashed in the model's colour; models that compare
with the same column (e.g. `cnn` and `cnn_authors`) share its colour, told apart by their
line styles. Figure 3: for one test image of each class, the best
L2 adversarial of each model (smallest L2 distance among the stored ones).

References:
  Schott et al., ICLR 2019, Figures 2 and 3.
"""

import itertools
import math
import pathlib
from typing import Dict, Mapping, Optional, Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from abs_tf import registry  # noqa: E402
from abs_tf.evaluation import paper_curves  # noqa: E402
from abs_tf.evaluation import results as results_lib  # noqa: E402
from abs_tf.evaluation import table as table_lib  # noqa: E402

# Horizontal extent of each panel (the paper's Figure 2 axes).
AXIS_LIMITS = {"l2": 10.0, "linf": 1.0, "l0": 200.0}
# Figure 2's line styles: this evaluation's models of one colour (a paper column), the paper's
# curve of that column, and the thresholds.
OUR_STYLES = ("-", "-.", (0, (3, 1, 1, 1, 1, 1)))
PAPER_STYLE = "--"
THRESHOLD_STYLE = ":"


def figure2(rows: Sequence, path, titles: Optional[Mapping[str, str]] = None,
            curves: Optional[Mapping] = None):
  """Writes Figure 2 (`plot_figure2`) to `path`."""
  fig = plot_figure2(rows, titles, curves)
  fig.savefig(path, dpi=100)
  plt.close(fig)


def plot_figure2(rows: Sequence, titles: Optional[Mapping[str, str]] = None,
                 curves: Optional[Mapping] = None) -> matplotlib.figure.Figure:
  """Figure 2: one panel per metric (L2, L-inf, L0), accuracy against perturbation size.

  Args:
    rows: result rows.
    titles: model name -> column title.
    curves: the paper's curves (`paper_curves.load()`, the default), drawn dashed beside
      the models that compare with them (`ModelSpec.paper_column`).

  Returns:
    The figure (the caller saves and closes it).
  """
  curves = paper_curves.load() if curves is None else curves
  table = table_lib.build(rows, titles)
  # One colour per paper column (or model without one): a model, the others that compare
  # with the same column (e.g. the authors' weights) and the paper's curve share it.
  groups: Dict[str, list] = {}
  for model in table.models:
    groups.setdefault(registry.paper_column(model) or model, []).append(model)
  colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
  fig, axes = plt.subplots(1, 3, figsize=(15, 5))
  entries: Dict[int, Dict[str, object]] = {}  # group -> legend label -> its line
  for ax, metric in zip(axes, table_lib.METRICS):
    best = table_lib.best_over_attacks(rows, metric)
    sizes = np.linspace(0.0, AXIS_LIMITS[metric], 400)
    for number, models in enumerate(groups.values()):
      colour, entry = colours[number % len(colours)], entries.setdefault(number, {})
      for style, model in zip(itertools.cycle(OUR_STYLES), models):
        if model in best:
          line, = ax.plot(sizes, paper_curves.accuracy_curve(best[model].values(), sizes),
                          color=colour, linestyle=style)
          entry.setdefault(table.titles[model], line)
      curve = paper_curves.curve_for(models[0], metric, curves)
      if curve is not None and any(model in best for model in models):
        line, = ax.plot(sizes, _paper_accuracy(curve, sizes), color=colour,
                        linestyle=PAPER_STYLE)
        entry.setdefault(f"{curve.title}, paper", line)
    ax.axvline(table_lib.THRESHOLDS[metric], color="gray", linestyle=THRESHOLD_STYLE,
               linewidth=1)
    ax.set_xlabel(f"{table_lib.METRIC_TITLES[metric]} perturbation size")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"All {table_lib.METRIC_TITLES[metric]} attacks "
                 f"(threshold {table_lib.THRESHOLDS[metric]:g})")
  _legend(fig, [entry for entry in entries.values() if entry])
  fig.suptitle("this evaluation: solid (dash-dot for a second model of the same paper column);"
               " the paper's Figure 2: dashed; Table 1's thresholds: dotted", fontsize=9)
  fig.tight_layout(rect=(0, 0.11, 1, 1))
  return fig


def _legend(fig, columns):
  """One legend column per colour (its models, then the paper's curve), below the panels."""
  rows = max((len(column) for column in columns), default=0)
  handles, labels = [], []
  for column in columns:  # matplotlib fills a legend column by column
    padding = rows - len(column)
    handles += list(column.values()) + [plt.Line2D([], [], linestyle="none")] * padding
    labels += list(column) + [""] * padding
  if handles:
    fig.legend(handles, labels, loc="lower center", fontsize=8, ncol=len(columns),
               frameon=False)


def _paper_accuracy(curve: paper_curves.PaperCurve, sizes: np.ndarray) -> np.ndarray:
  """The paper's curve at `sizes`; nan beyond its last point where images lie beyond it
  (their distances are unknown there)."""
  accuracy = paper_curves.accuracy_curve(curve.distances, sizes)
  if curve.beyond:
    accuracy[sizes > curve.last_distance] = np.nan
  return accuracy


def figure3(rows: Sequence, test_images: np.ndarray, indices: Sequence[int],
            adversarials: results_lib.AdversarialStore, slugs: Mapping[str, str], path,
            titles: Optional[Mapping[str, str]] = None):
  """Writes Figure 3: per test index (one per class), its best L2 adversarial per model.

  Args:
    rows: result rows.
    test_images: float32 [N, 28, 28, 1], the MNIST test set.
    indices: the test indices shown (one per class).
    adversarials: where the adversarials were stored.
    slugs: model name -> its file-name-safe form (`ModelRef.slug`).
    path: the PNG to write.
    titles: model name -> column title.
  """
  table = table_lib.build(rows, titles)
  models = [m for m in table.models if m in slugs]
  by_image = {}
  for row in rows:
    if row.metric == "l2" and row.model in slugs and 0 < row.distance < math.inf:
      by_image.setdefault((row.model, row.test_index), []).append(row)
  fig, axes = plt.subplots(max(len(indices), 1), len(models) + 1,
                           figsize=(1.4 * (len(models) + 1), 1.5 * max(len(indices), 1)),
                           squeeze=False)
  for r, index in enumerate(indices):
    axes[r, 0].imshow(test_images[index, :, :, 0], cmap="gray", vmin=0, vmax=1)
    axes[r, 0].set_ylabel(f"#{index}", fontsize=8)
    for c, model in enumerate(models, 1):
      image, label = None, "—"
      for row in sorted(by_image.get((model, index), []), key=lambda row: row.distance):
        image = adversarials.load(slugs[model], row.attack, index)
        if image is not None:
          label = f"{row.distance:.2f}"
          break
      if image is not None:
        axes[r, c].imshow(image[:, :, 0], cmap="gray", vmin=0, vmax=1)
      axes[r, c].set_xlabel(label, fontsize=8)  # its L2 distance
  for c, title in enumerate(["clean"] + [table.titles[m] for m in models]):
    axes[0, c].set_title(title, fontsize=8)
  for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
  fig.tight_layout()
  fig.savefig(pathlib.Path(path), dpi=100)
  plt.close(fig)
