"""Figures 2 and 3 of the paper from the result rows and the stored adversarials.

Figure 2: per metric, the accuracy of each model as a function of the perturbation size
(the fraction of images whose smallest adversarial over all attacks of the metric is larger),
with the thresholds of Table 1 marked. Figure 3: for one test image of each class, the best
L2 adversarial of each model (smallest L2 distance among the stored ones).

References:
  Schott et al., ICLR 2019, Figures 2 and 3.
"""

import math
import pathlib
from typing import Mapping, Optional, Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from abs_tf.evaluation import results as results_lib  # noqa: E402
from abs_tf.evaluation import table as table_lib  # noqa: E402

# Horizontal extent of each panel (the paper's Figure 2 axes).
AXIS_LIMITS = {"l2": 10.0, "linf": 1.0, "l0": 200.0}


def accuracy_curve(distances, sizes) -> np.ndarray:
  """Fraction of distances larger than each size, float64 [len(sizes)]."""
  distances = np.sort(np.asarray(list(distances), np.float64))
  if not len(distances):
    return np.full(len(sizes), np.nan)
  return 1.0 - np.searchsorted(distances, sizes, side="right") / len(distances)


def figure2(rows: Sequence, path, titles: Optional[Mapping[str, str]] = None):
  """Writes Figure 2 (one panel per metric) to `path`."""
  table = table_lib.build(rows, titles)
  fig, axes = plt.subplots(1, 3, figsize=(15, 4))
  for ax, metric in zip(axes, table_lib.METRICS):
    best = table_lib.best_over_attacks(rows, metric)
    sizes = np.linspace(0.0, AXIS_LIMITS[metric], 400)
    for model in table.models:
      if model in best:
        ax.plot(sizes, accuracy_curve(best[model].values(), sizes), label=table.titles[model])
    ax.axvline(table_lib.THRESHOLDS[metric], color="gray", linestyle="--", linewidth=1)
    ax.set_xlabel(f"{table_lib.METRIC_TITLES[metric]} perturbation size")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"All {table_lib.METRIC_TITLES[metric]} attacks "
                 f"(threshold {table_lib.THRESHOLDS[metric]:g})")
  axes[0].legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


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
