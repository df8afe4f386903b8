"""The authors' released models in the zoo (abs_authors, binary_abs_authors, cnn_authors).

Their SavedModels hold the vendored weights (third_party/abs_authors) at the paper's settings:
the CNN gives the authors' own logits; ABS gives what this project's ABS rebuilt from the
vendored files gives. That this ABS, with the projection disabled, reproduces the authors'
code is tests/test_reference.py's.
"""

import numpy as np
import pytest

from abs_tf import registry
from abs_tf import resources
from abs_tf.export import saved_model
from abs_tf.models import abs_model
from abs_tf.models import cnn
from abs_tf.models import latent_search
from abs_tf.tools import export_authors_models
from abs_tf.tools import import_reference_weights

NAMES = export_authors_models.AUTHORS_MODELS
# Binary ABS's class scalars in the authors' code (third_party/abs_authors/README.md).
AUTHORS_CLASS_SCALES = [1.0, 0.96, 1.001, 1.06, 0.98, 0.96, 1.03, 1.0, 1.0, 1.0]
# The paper's inference settings (section 3 and the authors' code).
PAPER_SEARCH = dict(num_samples=10_000, num_steps=20, learning_rate=0.05, clip_radius=5.0,
                    beta=1.0)
ABS_IMAGES = 4  # each ABS model's first call decodes 10^5 prototypes: keep to one batch


@pytest.fixture(scope="module")
def loaded():
  return {}


def load(loaded, name, source):
  if (name, source) not in loaded:
    loaded[name, source] = registry.load_model(name, source)
  return loaded[name, source]


@pytest.fixture(scope="module")
def authors_logits():
  return dict(np.load(resources.authors_file("reference_logits.npz")))


@pytest.mark.parametrize("name", NAMES)
def test_loads_from_python_and_from_the_saved_model(name, loaded):
  spec = registry.get_spec(name)
  memory = load(loaded, name, "memory")
  assert isinstance(memory, abs_model.ABS if spec.is_abs else cnn.CNN)
  assert isinstance(load(loaded, name, "saved_model"), saved_model.SavedModelClassifier)
  assert spec.binarized == (name == "binary_abs_authors")


@pytest.mark.parametrize("name", NAMES)
def test_shipped_model_is_what_the_export_command_builds(name, loaded):
  shipped = load(loaded, name, "memory")
  built = export_authors_models.build(name)
  assert shipped.config_dict() == built.config_dict()
  shipped_values = shipped.export_variables()
  built_values = built.export_variables()
  assert len(shipped_values) == len(built_values)
  for shipped_value, built_value in zip(shipped_values, built_values):
    np.testing.assert_array_equal(shipped_value.numpy(), built_value.numpy())


@pytest.mark.parametrize("name", ["abs_authors", "binary_abs_authors"])
def test_abs_models_run_the_papers_search_on_the_authors_latents(name, loaded):
  config = saved_model.read_model_json(registry.saved_model_path(name))["config"]
  assert {key: config["search"][key] for key in PAPER_SEARCH} == PAPER_SEARCH
  binary = name == "binary_abs_authors"
  assert config["binarize"] == binary
  assert config["class_scales"] == (AUTHORS_CLASS_SCALES if binary else [1.0] * 10)
  model = load(loaded, name, "memory")
  np.testing.assert_array_equal(
      model.latents.numpy(), np.load(resources.authors_file("reference_latents_10000.npy")))


def test_cnn_saved_model_gives_the_authors_logits(loaded, authors_logits, test_split):
  served = load(loaded, "cnn_authors", "saved_model")
  images = test_split.images[:1000]
  # float32 rounding of logits up to ~36 in size: 1.2e-4 at most over the whole test set.
  np.testing.assert_allclose(served(images).numpy(), authors_logits["cnn_all_test"][:1000],
                             atol=1e-4, rtol=1e-5)


def test_abs_saved_model_gives_the_rebuilt_models_logits(loaded, authors_logits, test_split):
  served = load(loaded, "abs_authors", "saved_model")
  rebuilt = import_reference_weights.reference_abs(
      str(resources.authors_file("abs_official_weights.npz")),
      latent_search.LatentSearchConfig(**PAPER_SEARCH),
      latents=str(resources.authors_file("reference_latents_10000.npy")))
  images = test_split.images[authors_logits["test_indices"][:ABS_IMAGES]]
  logits = served(images).numpy()
  np.testing.assert_allclose(logits, rebuilt(images).numpy(), atol=1e-5, rtol=0)
  # Where the authors' radius-5 runs did not reach the ball, theirs and ours agree too.
  noclip = authors_logits["abs_n10000_iter21_noclip"][:ABS_IMAGES]
  untouched = np.abs(authors_logits["abs_n10000_iter21_clip5"][:ABS_IMAGES] - noclip) < 1e-6
  assert untouched.sum() >= ABS_IMAGES * 8
  np.testing.assert_allclose(logits[untouched], noclip[untouched], atol=1e-4, rtol=0)


def test_export_writes_and_replaces_a_version_directory(loaded, test_split, tmp_path):
  for _ in range(2):  # the second run replaces the first
    path = export_authors_models.export("cnn_authors", tmp_path)
  assert path == tmp_path / "cnn_authors" / "1"
  images = test_split.images[:64]
  np.testing.assert_allclose(saved_model.SavedModelClassifier(path)(images).numpy(),
                             load(loaded, "cnn_authors", "memory")(images).numpy(), atol=1e-6)
  (tmp_path / "abs_authors" / "1").mkdir(parents=True)
  with pytest.raises(FileExistsError, match="not a SavedModel"):
    export_authors_models.export("abs_authors", tmp_path)


def test_only_the_authors_models_are_built():
  with pytest.raises(ValueError, match="not one of the authors' models"):
    export_authors_models.build("abs")
