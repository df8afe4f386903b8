"""The base of every attack: minimal adversarials, verified, clipped and measured here.

An attack searches, per sample, for the smallest perturbation (in its metric) that changes
the model's decision. Subclasses implement `run`; the base owns the invariants (as in
Foolbox 3): it validates inputs, counts model queries, clips to [0, 1], applies the paper's
postprocessing for binarised models, re-checks with the model that each adversarial is
misclassified and computes the distances itself. A subclass never reports its own success.

Conventions: a sample the model already misclassifies has distance 0 (and is not attacked);
a failed search has distance infinity. Distances are in units of [0, 1] pixel values; L0
counts changed pixels.

References:
  Schott et al., ICLR 2019, sections 4 and 5. Rauber et al., Foolbox (2017).
"""

import dataclasses
import time
import weakref
from typing import Optional

import numpy as np
import tensorflow as tf

from abs_tf.models import binarization
from abs_tf.models import classifier

L0, L2, LINF = "l0", "l2", "linf"
METRICS = (L0, L2, LINF)


def distance(originals, perturbed, metric: str) -> np.ndarray:
  """Per-sample distance, float64 [B], between two batches [B, 28, 28, 1] in [0, 1]."""
  diff = (np.asarray(perturbed, np.float64) - np.asarray(originals, np.float64)).reshape(
      len(originals), -1)
  if metric == L0:
    return np.count_nonzero(diff, axis=1).astype(np.float64)
  if metric == L2:
    return np.sqrt(np.sum(diff**2, axis=1))
  if metric == LINF:
    return np.max(np.abs(diff), axis=1) if diff.shape[1] else np.zeros(len(diff))
  raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")


def binary_postprocess(originals, adversarials):
  """The paper's postprocessing for binarised models (section 4).

  Every pixel takes either its clean value or the threshold, whichever keeps the
  binarised adversarial unchanged: a pixel whose binary value is unchanged returns to its
  clean value; one that flips moves only as far as the threshold (0.5 flips to 1; the
  largest float32 below 0.5 flips to 0).

  Args:
    originals, adversarials: float32 [B, 28, 28, 1] in [0, 1].

  Returns:
    float32 [B, 28, 28, 1] with the same binarisation as `adversarials`.
  """
  originals = np.asarray(originals, np.float32)
  adversarials = np.asarray(adversarials, np.float32)
  threshold = np.float32(binarization.THRESHOLD)
  below = np.nextafter(threshold, np.float32(0))
  clean_bits = originals >= threshold
  adv_bits = adversarials >= threshold
  flipped_value = np.where(adv_bits, threshold, below).astype(np.float32)
  return np.where(clean_bits == adv_bits, originals, flipped_value)


# Compiled model functions, one per model and method, shared by all attack calls: tracing
# (for ABS also optimising the latent search's graph) costs seconds, so it must happen once.
_COMPILED = weakref.WeakKeyDictionary()
_IMAGES_SPEC = tf.TensorSpec([None] + list(classifier.IMAGE_SHAPE), tf.float32)


def compiled(model: classifier.Classifier, method: str = "logits_graph"):
  """`model.<method>` as a tf.function over any batch size, traced once per model.

  Decision-based attacks make thousands of small calls, 2-10x faster in a graph than eagerly
  (the paper's CNN on 2 cores); one input signature keeps varying batch sizes from
  retracing.
  """
  functions = _COMPILED.setdefault(model, {})
  if method not in functions:
    if method == "logits_graph" and classifier.has_latent_inference(model):
      # ABS: the logits come out of the compiled inference, so one trace serves both.
      infer = compiled(model, "infer_graph")
      functions[method] = lambda images: infer(images)["logits"]
    else:
      functions[method] = tf.function(getattr(model, method), input_signature=[_IMAGES_SPEC])
  return functions[method]


class CountingModel:
  """A model as attacks see it: numpy in, logits out, with per-sample query counts.

  Attributes:
    model: the `Classifier`.
    queries: int64 [B], forward passes spent on each sample of the attacked batch.
  """

  def __init__(self, model: classifier.Classifier, batch_size: int, max_batch: int = 1000):
    self.model = model
    self.queries = np.zeros(batch_size, np.int64)
    self.max_batch = max_batch
    self._forward = compiled(model)
    self.seconds = 0.0

  def logits(self, images, sample_indices=None) -> np.ndarray:
    """Logits, float32 [N, 10], of images [N, 28, 28, 1] (clipped to [0, 1] first).

    Args:
      images: float32 [N, 28, 28, 1].
      sample_indices: int [N], which attacked sample each image belongs to (for counting);
        by default image i belongs to sample i.
    """
    out = self._counted(self._forward, images, sample_indices)
    return (np.concatenate([part.numpy() for part in out]) if out
            else np.zeros((0, classifier.NUM_CLASSES), np.float32))

  def _counted(self, function, images, sample_indices) -> list:
    """`function` on images [N, 28, 28, 1] (clipped to [0, 1]) in batches of at most
    `max_batch`, one query per image counted for `sample_indices` (default: image i is
    sample i) and the time added to `seconds`; returns the batches' outputs."""
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    if sample_indices is None:
      sample_indices = np.arange(len(images))
    np.add.at(self.queries, np.asarray(sample_indices), 1)
    start = time.perf_counter()
    out = [function(tf.constant(images[i:i + self.max_batch]))
           for i in range(0, len(images), self.max_batch)]
    self.seconds += time.perf_counter() - start
    return out

  def is_adversarial(self, images, labels, sample_indices=None) -> np.ndarray:
    """bool [N]: the model's decision differs from `labels` [N]."""
    return self.logits(images, sample_indices).argmax(axis=1) != np.asarray(labels)

  def add_queries(self, count: int, sample_indices, seconds: float = 0.0):
    """Records queries spent outside `logits`, e.g. gradients inside a TensorFlow graph.

    Args:
      count: model queries per listed sample (a gradient evaluation counts as one; a
        finite-difference estimate as the forward passes it makes).
      sample_indices: int [N], the samples that spent them.
      seconds: wall time of those model calls.
    """
    np.add.at(self.queries, np.asarray(sample_indices, np.int64), int(count))
    self.seconds += seconds

  def infer(self, images, sample_indices=None) -> dict:
    """ABS inference (`model.infer_graph`), counted like `logits`: one query per image.

    Args:
      images: float32 [N, 28, 28, 1] (clipped to [0, 1] first).
      sample_indices: as for `logits`.

    Returns:
      dict of numpy arrays: losses [N, 10], latents [N, 10, 8], reconstructions
      [N, 10, 28, 28, 1], logits [N, 10] (see `abs_model.Inference`).

    Raises:
      TypeError: the model has no latent inference (not an ABS model).
    """
    if not classifier.has_latent_inference(self.model):
      raise TypeError(f"{type(self.model).__name__} has no `infer_graph`; only ABS models "
                      "expose their latent inference.")
    parts = self._counted(compiled(self.model, "infer_graph"), images, sample_indices)
    return {key: np.concatenate([part[key].numpy() for part in parts])
            for key in ("losses", "latents", "reconstructions", "logits")}


@dataclasses.dataclass(frozen=True)
class AttackResult:
  """What an attack found for a batch of B samples.

  Attributes:
    attack: the attack's name.
    metric: L0, L2 or LINF.
    adversarials: float32 [B, 28, 28, 1]; the original where the attack failed.
    distances: float64 [B]; 0 for samples misclassified already, inf where it failed.
    success: bool [B], verified by the base with the model.
    queries: int64 [B], model forward passes per sample (the base's checks included).
    seconds: wall time of the attack; model_seconds: the part spent in model calls.
  """
  attack: str
  metric: str
  adversarials: np.ndarray
  distances: np.ndarray
  success: np.ndarray
  queries: np.ndarray
  seconds: float
  model_seconds: float


class MinimizationAttack:
  """Base of all attacks. Subclasses set `name` and `metric` and implement `run`.

  Hyperparameters are keyword arguments of a subclass's `__init__`; data goes to `__call__`.
  """
  name: str = ""
  metric: str = ""

  def __init__(self, *, seed: int = 0):
    self.seed = int(seed)

  def run(self, model: CountingModel, images: np.ndarray, labels: np.ndarray,
          rng: np.random.Generator) -> np.ndarray:
    """Searches adversarials for samples the model classifies correctly.

    Args:
      model: the counting model.
      images: float32 [B, 28, 28, 1] in [0, 1], all correctly classified.
      labels: int64 [B].
      rng: the attack's random generator, seeded per call.

    Returns:
      float32 [B, 28, 28, 1] candidates; the base verifies them (a non-adversarial
      candidate counts as a failure, so return the best found, or the original).
    """
    raise NotImplementedError

  def __call__(self, model: classifier.Classifier, images, labels,
               binarized: bool = False) -> AttackResult:
    """Attacks a batch.

    Args:
      model: a `Classifier`.
      images: float32 [B, 28, 28, 1] in [0, 1].
      labels: int [B] in 0..9.
      binarized: the model binarises its input (apply the paper's postprocessing).

    Returns:
      An `AttackResult`.
    """
    if self.metric not in METRICS or not self.name:
      raise TypeError(f"{type(self).__name__} must set `name` and `metric`.")
    images = classifier.validate_images(images).numpy()
    labels = np.asarray(labels)
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
      raise ValueError(f"labels must be integers of shape ({len(images)},), got "
                       f"{labels.dtype} {labels.shape}.")
    if len(labels) and (labels.min() < 0 or labels.max() >= classifier.NUM_CLASSES):
      raise ValueError("labels must lie in 0..9.")
    start = time.perf_counter()
    counting = CountingModel(model, len(images))
    correct = ~counting.is_adversarial(images, labels)
    candidates = images.copy()
    todo = np.flatnonzero(correct)
    if len(todo):
      sub = _SubsetCounter(counting, todo)
      found = self.run(sub, images[todo], labels[todo], np.random.default_rng(self.seed))
      found = np.asarray(found, np.float32)
      if found.shape != images[todo].shape:
        raise ValueError(f"{self.name}.run returned shape {found.shape}, expected "
                         f"{images[todo].shape}.")
      candidates[todo] = np.clip(found, 0.0, 1.0)
    if binarized:
      candidates = binary_postprocess(images, candidates)
    success = counting.is_adversarial(candidates, labels)
    adversarials = np.where(success[:, None, None, None], candidates, images)
    distances = np.where(success, distance(images, adversarials, self.metric), np.inf)
    distances[~correct] = 0.0
    success = success | ~correct
    adversarials[~correct] = images[~correct]
    return AttackResult(self.name, self.metric, adversarials.astype(np.float32), distances,
                        success, counting.queries.copy(), time.perf_counter() - start,
                        counting.seconds)


def within_budget(mask, budget) -> np.ndarray:
  """`mask` bool [a, k] with only the first `budget[i]` True entries of each row kept.

  Attacks ask the model about the True entries in order; this caps each sample's queries.
  """
  mask = np.asarray(mask, bool)
  return mask & (np.cumsum(mask, axis=1) <= np.asarray(budget)[:, None])


def subset(model: CountingModel, indices) -> CountingModel:
  """A view of `model` for samples `indices`: its sample i is the model's indices[i]."""
  return _SubsetCounter(model, np.asarray(indices))


class _SubsetCounter(CountingModel):
  """A view of a CountingModel for the subset of samples being attacked."""

  def __init__(self, parent: CountingModel, indices: np.ndarray):
    self.parent = parent
    self.indices = indices
    self.model = parent.model

  @property
  def queries(self):
    """int64 [len(indices)], queries spent so far on each sample of the subset."""
    return self.parent.queries[self.indices]

  def logits(self, images, sample_indices=None):
    if sample_indices is None:
      sample_indices = np.arange(len(images))
    return self.parent.logits(images, self.indices[np.asarray(sample_indices)])

  def add_queries(self, count, sample_indices, seconds=0.0):
    self.parent.add_queries(count, self.indices[np.asarray(sample_indices, np.int64)], seconds)

  def infer(self, images, sample_indices=None):
    if sample_indices is None:
      sample_indices = np.arange(len(images))
    return self.parent.infer(images, self.indices[np.asarray(sample_indices)])
