"""The class scalars gamma_c of Binary ABS, fitted by line search on training accuracy.

Binary ABS predicts argmax_c (-gamma_c * L_c(x)) with L_c the bound of each class
(eq. 8). Only the ratios of the gamma_c matter, so gamma_0 stays 1; the others are fitted
one at a time by a grid line search that maximises the training accuracy (ties go to the
value nearest 1), sweeping over the classes until nothing changes.

References:
  Schott et al., ICLR 2019, section 3 ("Discriminative finetuning"; gamma in [0.96, 1.03]).
"""

import numpy as np

NUM_CLASSES = 10


def accuracy(losses: np.ndarray, labels: np.ndarray, scales: np.ndarray) -> float:
  """Accuracy of argmax(-scales * losses); losses float [N, 10], labels int [N]."""
  return float(np.mean(np.argmax(-np.asarray(scales)[None, :] * losses, axis=1) == labels))


def fit_class_scales(losses: np.ndarray, labels: np.ndarray,
                     grid: np.ndarray = np.linspace(0.9, 1.1, 401),
                     max_sweeps: int = 10) -> np.ndarray:
  """Coordinate-wise line search for the class scalars.

  Args:
    losses: float [N, 10], the bounds L_c of training images (unscaled, > 0).
    labels: int [N].
    grid: candidate values of each gamma_c.
    max_sweeps: most passes over the classes.

  Returns:
    float64 [10], gamma_0 = 1; training accuracy never below that of all-ones.
  """
  losses = np.asarray(losses, np.float64)
  labels = np.asarray(labels)
  if losses.ndim != 2 or losses.shape[1] != NUM_CLASSES or len(labels) != len(losses):
    raise ValueError(f"Expected losses [N, 10] and labels [N], got {losses.shape} and "
                     f"{labels.shape}.")
  grid = np.asarray(grid, np.float64)
  by_distance = grid[np.argsort(np.abs(grid - 1.0), kind="stable")]
  scales = np.ones(NUM_CLASSES)
  best = accuracy(losses, labels, scales)
  for _ in range(max_sweeps):
    changed = False
    for c in range(1, NUM_CLASSES):
      for value in by_distance:
        trial = scales.copy()
        trial[c] = value
        acc = accuracy(losses, labels, trial)
        if acc > best:
          best, scales, changed = acc, trial, True
    if not changed:
      break
  return scales


def fit_binary_abs(decoders, images: np.ndarray, labels: np.ndarray, search,
                   batch_size: int = 250):
  """Binary ABS on `decoders` with class scalars fitted on (training) images.

  Args:
    decoders: the ten trained decoders.
    images: float32 [N, 28, 28, 1] in [0, 1], training images.
    labels: int [N].
    search: the `LatentSearchConfig` used for fitting and for the returned model.

  Returns:
    (model, info): the Binary ABS and a dict with the training accuracies before and after.
  """
  from abs_tf.models import abs_model  # TensorFlow only where it is needed.
  unscaled = abs_model.ABS(decoders, abs_model.ABSConfig(search=search, binarize=True))
  losses = np.concatenate([
      unscaled.infer(images[i:i + batch_size]).losses.numpy()
      for i in range(0, len(images), batch_size)])
  scales = fit_class_scales(losses, labels)
  model = abs_model.ABS(
      decoders, abs_model.ABSConfig(search=search, binarize=True,
                                    class_scales=tuple(scales)),
      latents=unscaled.latents.numpy())
  info = {"fit_images": int(len(images)),
          "train_accuracy_unit_scales": accuracy(losses, labels, np.ones(NUM_CLASSES)),
          "train_accuracy_fitted": accuracy(losses, labels, scales),
          "class_scales": [float(s) for s in scales]}
  return model, info
