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
import gc
import os
import pathlib
from typing import Dict, Optional

from absl import logging
import numpy as np
import tensorflow as tf

from abs_tf import registry
from abs_tf.export import fingerprint as fingerprint_lib
from abs_tf.export import saved_model as saved_model_lib
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
    input_key, output_key: for a SavedModel path, the signature's input and output given
      on the command line (`registry.load_model`), or None to map them automatically.
  """
  name: str
  title: str
  gradient: Optional[str]
  binarized: bool = False
  is_abs: bool = False
  fingerprint: str = ""
  input_key: Optional[str] = None
  output_key: Optional[str] = None

  @property
  def signature_keys(self) -> Dict[str, str]:
    """The keys given for its signature, as keyword arguments of `registry.load_model`."""
    return given_keys(self.input_key, self.output_key)

  @property
  def abilities(self) -> str:
    """What attacks can use of it, in words, e.g. "autodiff gradients, binarised"."""
    parts = [f"{self.gradient} gradients" if self.gradient else "no gradients"]
    return ", ".join(parts + ["binarised"] * self.binarized + ["ABS"] * self.is_abs)

  @property
  def slug(self) -> str:
    """A file-name-safe form of `name`."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in self.name).strip("_")


def given_keys(input_key: Optional[str], output_key: Optional[str]) -> Dict[str, str]:
  """The keyword arguments of `registry.load_model` for the keys that are given."""
  return {k: v for k, v in (("input_key", input_key), ("output_key", output_key)) if v}


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
    self._given = set()

  def put(self, name: str, model: classifier.Classifier):
    """Registers an already built model under `name` (e.g. a small ABS in tests)."""
    self._models[name] = model
    self._given.add(name)

  def __contains__(self, name: str) -> bool:
    return name in self._models

  def release(self, name: str):
    """Drops the model `name` if `get` loaded it (a model given by `put` stays: it could not
    be loaded again), and collects it, so that its memory (an ABS model's prototype cache,
    freed with the model) is reused by what this process loads next."""
    self._drop([name])

  def release_all(self):
    """Drops every model `get` loaded (see `release`)."""
    self._drop(list(self._models))

  def _drop(self, names):
    """Drops the models of `names` that `get` loaded, then collects them once."""
    loaded = [name for name in names if name in self._models and name not in self._given]
    for name in loaded:
      del self._models[name]
    if loaded:
      gc.collect()  # models hold reference cycles (Keras layers, traced functions)

  def get(self, name: str, **signature_keys) -> classifier.Classifier:
    """The model `name`, loaded by `registry.load_model(name, **signature_keys)` the first
    time."""
    if name not in self._models:
      self._models[name] = registry.load_model(name, **signature_keys)
    return self._models[name]

  def load(self, ref: ModelRef) -> classifier.Classifier:
    return self.get(ref.name, **ref.signature_keys)


def describe(name: str, cache: ModelCache, input_key: Optional[str] = None,
             output_key: Optional[str] = None) -> ModelRef:
  """The `ModelRef` of a registry name or a SavedModel path.

  A path gets the gradient attacks only if its model is differentiable (checked with a tape);
  its signature keys, if given, are part of its fingerprint (they choose what is attacked).

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
  keys = given_keys(input_key, output_key)
  model = cache.get(name, **keys)
  gradient = registry.AUTODIFF if is_differentiable(model) else None
  is_abs = classifier.has_latent_inference(model)
  binarized = bool(getattr(model, "binarized", False) or
                   getattr(getattr(model, "config", None), "binarize", False))
  if is_abs:
    gradient = registry.ENVELOPE
  title = pathlib.Path(name).resolve().name
  if title.isdigit():  # <name>/<version>/ layout
    title = pathlib.Path(name).resolve().parent.name
  model_fingerprint = fingerprint(name)
  if keys:
    model_fingerprint = fingerprint_lib.digest(dict(keys, saved_model=model_fingerprint))
  return ModelRef(name, title, gradient, binarized, is_abs, model_fingerprint, **keys)


class ModelCheckError(ValueError):
  """A model given by path does not meet the contract; the message is one line."""


def check_path_model(name: str, cache: ModelCache, images, input_key: Optional[str] = None,
                     output_key: Optional[str] = None) -> ModelRef:
  """Loads the SavedModel at `name`, probes it and describes it, before anything is planned.

  Args:
    name: a SavedModel directory.
    cache: where the loaded model is kept for the run.
    images: float32 [2, 28, 28, 1] in [0, 1], the probe (e.g. two MNIST test images).
    input_key, output_key: see `registry.load_model`.

  Returns:
    Its `ModelRef`; the log says how its signature is called.

  Raises:
    ModelCheckError: not a SavedModel, no fitting signature, or the probe does not give
      finite logits [2, 10]; one line naming what was expected and what was found.
  """
  keys = given_keys(input_key, output_key)
  try:
    model = cache.get(name, **keys)
  except saved_model_lib.SignatureError as error:
    raise ModelCheckError(str(error)) from error
  except (OSError, ValueError, tf.errors.OpError) as error:
    raise ModelCheckError(f"{name}: expected a SavedModel directory; loading it failed: "
                          f"{_first_line(error)}") from error
  probe = f"{name}: expected finite logits [2, 10] for 2 MNIST test images"
  try:
    logits = model.logits_graph(tf.constant(images)).numpy()
  except (tf.errors.OpError, ValueError, TypeError) as error:
    raise ModelCheckError(f"{probe}; the call failed: {_first_line(error)}") from error
  if logits.shape != (2, classifier.NUM_CLASSES) or not np.all(np.isfinite(logits)):
    raise ModelCheckError(f"{probe}; got shape {list(logits.shape)}" +
                          ("" if np.all(np.isfinite(logits)) else " with non-finite values"))
  mapping = getattr(model, "mapping", None)
  logging.info("%s: %s", name, mapping.describe() if mapping else
               f"this project's model (assets/{saved_model_lib.MODEL_JSON}), run in memory")
  ref = describe(name, cache, input_key, output_key)
  logging.info("%s: %s", name, ref.abilities)
  return ref


def _first_line(error: Exception, limit: int = 300) -> str:
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  text = lines[0] if lines else type(error).__name__
  return text if len(text) <= limit else text[:limit] + "..."
