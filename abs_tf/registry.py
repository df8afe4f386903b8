"""The model zoo as data: one `ModelSpec` per model of the paper's Table 1, the substitute of
the transfer attacks, and the authors' released ABS, Binary ABS and CNN.

  model = abs_tf.load_model("abs")                       # Python model, shipped weights
  model = abs_tf.load_model("cnn", source="saved_model")  # the SavedModel as a Classifier
  model = abs_tf.load_model("/path/to/my/saved_model")    # any SavedModel with our signature

To add a model, add its `ModelSpec` to MODELS (see CONTRIBUTING.md): the evaluation, the
table and the loaders read every fact about it from there.

References:
  Schott et al., ICLR 2019, Table 1.
"""

import dataclasses
import os
import pathlib
from typing import Dict, Optional, Tuple

from abs_tf import resources
from abs_tf.export import saved_model
from abs_tf.models import abs_model
from abs_tf.models import classifier
from abs_tf.models import cnn
from abs_tf.models import madry
from abs_tf.models import nearest_neighbor

SAVED_MODELS_ENV = "ABS_TF_SAVED_MODELS"

# How attacks get gradients of a model.
AUTODIFF = "autodiff"                  # exact gradients by automatic differentiation
STRAIGHT_THROUGH = "straight_through"  # autodiff with binarisation passed straight through
ENVELOPE = "envelope"                  # ABS: gradient at the latent optimum (envelope theorem)
GRADIENTS = (AUTODIFF, STRAIGHT_THROUGH, ENVELOPE)


# How a model of the zoo is made (its SavedModel's producer).
TRAIN_BASELINE = "train_baseline"   # python -m abs_tf.train_baseline (training/recipes.RECIPES)
TRAIN_ABS = "train_abs"             # python -m abs_tf.train_abs
AUTHORS_WEIGHTS = "authors_weights"  # python -m abs_tf.tools.export_authors_models
PRODUCERS = (TRAIN_BASELINE, TRAIN_ABS, AUTHORS_WEIGHTS)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """A model of the zoo: every fact the package needs about it.

  Attributes:
    name: registry name, also the directory under saved_models/.
    title: its column title in Table 1 (or in tables beside it).
    gradient: how attacks differentiate it (one of GRADIENTS).
    binarized: its input is binarised at 0.5 (adversarials get the paper's postprocessing).
    is_abs: an ABS model: it exposes the latent inference (`classifier.has_latent_inference`
      of the loaded model), so Latent Descent and the `_envelope` rows apply.
    paper_column: the registry name of the paper's Table 1 column it compares with (its own
      name for the paper's six models, which `evaluation/paper_table.py` transcribes; e.g.
      "cnn" for the authors' CNN); None if it has none. The paper's numbers, its clean
      accuracy included, are in paper_table.
    made_by: how its SavedModel is made (one of PRODUCERS; `train_baseline` trains
      `training.recipes.RECIPES[name]`), or None if not by this project.
    saved_model: its SavedModel directory; None for the shipped one,
      saved_models/<name>/<version>/.
    version: the SavedModel version directory.
    in_default_plan: a column of the evaluation when no --models are given
      (`evaluation.plan.default_models`), as `AttackEntry.in_default_plan` is for attacks
      (False: only when named, e.g. models whose rows the shipped results/standard does not
      hold yet).
  """
  name: str
  title: str
  gradient: str
  binarized: bool = False
  is_abs: bool = False
  paper_column: Optional[str] = None
  made_by: Optional[str] = TRAIN_BASELINE
  saved_model: Optional[str] = None
  version: int = 1
  in_default_plan: bool = True

  def __post_init__(self):
    if self.gradient not in GRADIENTS:
      raise ValueError(f"gradient must be one of {GRADIENTS}, got {self.gradient!r}.")
    if self.made_by is not None and self.made_by not in PRODUCERS:
      raise ValueError(f"made_by must be one of {PRODUCERS}, got {self.made_by!r}.")


MODELS: Dict[str, ModelSpec] = {spec.name: spec for spec in [
    ModelSpec("cnn", "CNN", AUTODIFF, paper_column="cnn"),
    ModelSpec("binary_cnn", "Binary CNN", STRAIGHT_THROUGH, binarized=True,
              paper_column="binary_cnn"),
    ModelSpec("nearest_neighbor", "Nearest Neighbor", AUTODIFF,
              paper_column="nearest_neighbor"),
    ModelSpec("madry", "Madry et al.", AUTODIFF, paper_column="madry"),
    ModelSpec("binary_abs", "Binary ABS", ENVELOPE, binarized=True, is_abs=True,
              paper_column="binary_abs", made_by=TRAIN_ABS),
    ModelSpec("abs", "ABS", ENVELOPE, is_abs=True, paper_column="abs", made_by=TRAIN_ABS),
    ModelSpec("substitute_cnn", "Substitute CNN", AUTODIFF, in_default_plan=False),
    # The paper's authors' released weights, not trained here (third_party/abs_authors), in
    # the paper's column order; columns of the standard table since 2026-12-04.
    ModelSpec("cnn_authors", "CNN (authors' weights)", AUTODIFF, paper_column="cnn",
              made_by=AUTHORS_WEIGHTS),
    ModelSpec("binary_abs_authors", "Binary ABS (authors' weights)", ENVELOPE, binarized=True,
              is_abs=True, paper_column="binary_abs", made_by=AUTHORS_WEIGHTS),
    ModelSpec("abs_authors", "ABS (authors' weights)", ENVELOPE, is_abs=True,
              paper_column="abs", made_by=AUTHORS_WEIGHTS),
]}


def paper_models() -> Tuple[str, ...]:
  """The paper's Table 1 models in its column order."""
  return tuple(name for name, spec in MODELS.items() if spec.paper_column == name)


def paper_column(name: str) -> Optional[str]:
  """The paper's column a model compares with (None for paths and models without one)."""
  spec = MODELS.get(name)
  return spec.paper_column if spec else None


# Python classes that rebuild an exported model from its configuration, by `kind`.
KINDS = {
    abs_model.ABS.kind: abs_model.ABS,
    cnn.CNN.kind: cnn.CNN,
    madry.Madry.kind: madry.Madry,
    nearest_neighbor.NearestNeighbor.kind: nearest_neighbor.NearestNeighbor,
}


def saved_models_dir() -> pathlib.Path:
  """The directory of the shipped SavedModels ($ABS_TF_SAVED_MODELS overrides it)."""
  return resources.resource_dir("saved_models", SAVED_MODELS_ENV)


def saved_model_path(name: str) -> pathlib.Path:
  """Where the SavedModel of registry model `name` lies (`ModelSpec.saved_model`)."""
  spec = get_spec(name)
  if spec.saved_model is not None:
    return pathlib.Path(spec.saved_model)
  return saved_models_dir() / spec.name / str(spec.version)


def saved_model_dir(name: str) -> pathlib.Path:
  """The SavedModel directory of a registry name, or `name` itself if it is a directory.

  Raises:
    ValueError: `name` is neither a registry name nor a directory (the message lists the
      known names).
    FileNotFoundError: a registry model whose SavedModel is missing.
  """
  if name not in MODELS and os.path.isdir(name):
    return pathlib.Path(name)
  path = saved_model_path(name)  # an unknown name raises, listing the known ones
  if not path.is_dir():
    raise FileNotFoundError(f"The SavedModel of {name!r} is missing at {path}.")
  return path


def get_spec(name: str) -> ModelSpec:
  if name not in MODELS:
    raise ValueError(f"Unknown model {name!r}; known models: {sorted(MODELS)}, or pass the "
                     "path of a SavedModel directory.")
  return MODELS[name]


def load_model(name: str, source: str = "memory", input_key: str = None,
               output_key: str = None) -> classifier.Classifier:
  """Loads a model of the zoo by name, or any SavedModel by path.

  Args:
    name: a registry name (see MODELS) or a SavedModel directory.
    source: "memory" rebuilds the Python model with the shipped weights (differentiable,
      with ABS's latent search exposed); "saved_model" wraps the SavedModel's signature.
    input_key, output_key: the signature's input and output to use as images and logits
      (`saved_model.map_signature`); given, the SavedModel runs through its signature.

  Returns:
    A `Classifier`: float32 images [B, 28, 28, 1] in [0, 1] -> logits [B, 10].

  Raises:
    saved_model.SignatureError: a SavedModel whose signature does not fit.
  """
  if source not in ("memory", "saved_model"):
    raise ValueError(f"source must be 'memory' or 'saved_model', got {source!r}.")
  path = saved_model_dir(name)
  if (source == "saved_model" or input_key or output_key
      or not (path / "assets" / saved_model.MODEL_JSON).is_file()):
    return saved_model.SavedModelClassifier(path, input_key, output_key)
  return saved_model.load_in_memory(path, KINDS)
