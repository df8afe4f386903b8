"""The models an evaluation attacks: picklable descriptions, loaded once per process.

A `ModelRef` describes a model by what the plan needs (how it can be differentiated, whether
it binarises, whether it is ABS) and a fingerprint of what determines its outputs
(`abs_tf.export.fingerprint`: configuration and weights), so that results of retrained weights
never mix with old ones and survive a re-export of the same model. It is plain data: work
units carry it to any process, whose `ModelCache` loads the model the first time a unit needs
it.

References:
  Schott et al., ICLR 2019, section 5 (which models get which attacks).
"""

import dataclasses
import os
import pathlib
from typing import Dict, Optional

import numpy as np
import tensorflow as tf

from abs_tf import registry
from abs_tf.export import fingerprint as fingerprint_lib
from abs_tf.models import classifier


@dataclasses.dataclass(frozen=True)
class ModelRef:
  """A model of the evaluation.

  Attributes:
    name: registry name, or the path of a SavedModel directory, as given on the command line.
    title: column title of the table.
    gradient: one of registry.GRADIENTS, or None (output-only: no gradient attacks).
    binarized: the model binarises its input (attacks apply the paper's postprocessing).
    is_abs: an ABS model (Latent Descent and the `_envelope` rows apply).
    fingerprint: identifies what determines the model's outputs (`fingerprint`); part of
      every result row's budget fingerprint.
  """
  name: str
  title: str
  gradient: Optional[str]
  binarized: bool = False
  is_abs: bool = False
  fingerprint: str = ""

  @property
  def slug(self) -> str:
    """A file-name-safe form of `name`."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in self.name).strip("_")


def saved_model_dir(name: str) -> pathlib.Path:
  """The SavedModel directory of a registry name (its shipped one) or of a path."""
  return registry.saved_model_path(name) if name in registry.MODELS else pathlib.Path(name)


def fingerprint(name: str) -> str:
  """The model fingerprint (`abs_tf.export.fingerprint.model_fingerprint`) of a registry
  name's shipped SavedModel, or of the SavedModel directory `name`."""
  return fingerprint_lib.model_fingerprint(saved_model_dir(name))


def is_differentiable(model: classifier.Classifier) -> bool:
  """Whether a tape gets a finite, non-None gradient of the logits w.r.t. the images."""
  images = tf.fill([1] + list(classifier.IMAGE_SHAPE), 0.5)
  try:
    with tf.GradientTape() as tape:
      tape.watch(images)
      target = model.logits_graph(images)[:, 0]
    gradient = tape.gradient(target, images)
  except (LookupError, TypeError, ValueError, tf.errors.OpError):
    return False
  return gradient is not None and bool(np.all(np.isfinite(gradient.numpy())))


class ModelCache:
  """Models of this process, loaded once each (`registry.load_model`, in memory)."""

  def __init__(self):
    self._models: Dict[str, classifier.Classifier] = {}

  def put(self, name: str, model: classifier.Classifier):
    """Registers an already built model under `name` (e.g. a small ABS in tests)."""
    self._models[name] = model

  def get(self, name: str) -> classifier.Classifier:
    if name not in self._models:
      self._models[name] = registry.load_model(name)
    return self._models[name]


def describe(name: str, cache: ModelCache) -> ModelRef:
  """The `ModelRef` of a registry name or a SavedModel path.

  A path gets the gradient attacks only if its model is differentiable (checked with a tape).

  Raises:
    ValueError: neither a registry name nor a directory.
  """
  if name in registry.MODELS:
    spec = registry.get_spec(name)
    return ModelRef(name, spec.title, spec.gradient, spec.binarized, spec.is_abs,
                    fingerprint(name))
  if not os.path.isdir(name):
    raise ValueError(f"Unknown model {name!r}: expected a registry name "
                     f"({', '.join(registry.MODELS)}) or a SavedModel directory.")
  model = cache.get(name)
  gradient = registry.AUTODIFF if is_differentiable(model) else None
  is_abs = classifier.has_latent_inference(model)
  binarized = bool(getattr(getattr(model, "config", None), "binarize", False))
  if is_abs:
    gradient = registry.ENVELOPE
  title = pathlib.Path(name).resolve().name
  if title.isdigit():  # <name>/<version>/ layout
    title = pathlib.Path(name).resolve().parent.name
  return ModelRef(name, title, gradient, binarized, is_abs, fingerprint(name))
