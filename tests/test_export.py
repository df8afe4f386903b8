"""The SavedModel contract: every loader gives the in-memory logits; bad input is refused."""

import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from abs_tf import registry
from abs_tf.export import saved_model
from abs_tf.models import abs_model
from abs_tf.models import cnn
from abs_tf.models import latent_search
from abs_tf.tools import import_reference_weights

SMALL = latent_search.LatentSearchConfig(num_samples=300, num_steps=3)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, reference_dir, test_split):
  """A Binary ABS on the authors' decoders (small search), exported; with its logits."""
  model = import_reference_weights.reference_abs(
      str(reference_dir / "abs_official_weights.npz"), SMALL, binary=True)
  images = test_split.images[:5]
  expected = model(images).numpy()
  path = saved_model.export(model, tmp_path_factory.mktemp("export") / "binary_abs" / "1")
  return path, images, expected


def test_tf_saved_model_load(exported):
  path, images, expected = exported
  outputs = tf.saved_model.load(str(path)).signatures["serving_default"](
      images=tf.constant(images))
  np.testing.assert_allclose(outputs["logits"].numpy(), expected, atol=1e-5)
  probabilities = outputs["probabilities"].numpy()
  np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-5)
  np.testing.assert_array_equal(probabilities.argmax(1), expected.argmax(1))


def test_tensorflow_hub_load(exported):
  import tensorflow_hub as hub
  path, images, expected = exported
  logits = hub.load(str(path)).signatures["serving_default"](images=tf.constant(images))
  np.testing.assert_allclose(logits["logits"].numpy(), expected, atol=1e-5)


def test_keras_tfsm_layer(exported):
  path, images, expected = exported
  layer = keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")
  np.testing.assert_allclose(np.asarray(layer(images)["logits"]), expected, atol=1e-5)


def test_registry_loads_it_in_memory_and_as_saved_model(exported):
  path, images, expected = exported
  in_memory = registry.load_model(str(path))
  assert isinstance(in_memory, abs_model.ABS) and in_memory.config.binarize
  np.testing.assert_allclose(in_memory(images).numpy(), expected, atol=1e-5)
  wrapped = registry.load_model(str(path), source="saved_model")
  np.testing.assert_allclose(wrapped(images).numpy(), expected, atol=1e-5)


def test_infer_signature_exposes_the_reconstructions(exported):
  path, images, _ = exported
  outputs = tf.saved_model.load(str(path)).signatures["infer"](images=tf.constant(images))
  assert outputs["reconstructions"].shape == (5, 10, 28, 28, 1)
  assert outputs["latents"].shape == (5, 10, 8)


def test_saved_model_cli_run_the_session_based_loader_of_tf_serving(exported, tmp_path):
  path, images, expected = exported
  np.save(tmp_path / "images.npy", images)
  out = subprocess.run(
      [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "run",
       "--dir", str(path), "--tag_set", "serve", "--signature_def",
       "serving_default", "--inputs", f"images={tmp_path / 'images.npy'}",
       "--outdir", str(tmp_path / "out")],
      capture_output=True, text=True, timeout=1200,
      env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
  assert out.returncode == 0, out.stderr[-2000:]
  np.testing.assert_allclose(np.load(tmp_path / "out" / "logits.npy"), expected, atol=1e-5)


def test_saved_model_is_small_and_holds_no_prototypes(exported):
  path, _, _ = exported
  size = sum(f.stat().st_size for f in pathlib.Path(path).rglob("*") if f.is_file())
  assert size < 10 * 2**20
  # 300 decoded prototypes x 10 classes x 785 floats would be 9.4 MB.
  assert (path / "variables" / "variables.data-00000-of-00001").stat().st_size < 2 * 2**20


def saved_variable_values(path):
  """Checkpoint keys of the SavedModel's saved variable values, and the values' bytes."""
  prefix = pathlib.Path(path) / "variables" / "variables"
  keys = tf.train.load_checkpoint(str(prefix)).get_variable_to_shape_map()
  values = [k for k in keys if k.endswith("/.ATTRIBUTES/VARIABLE_VALUE")]
  data = sum(f.stat().st_size for f in prefix.parent.glob("variables.data-*"))
  return values, data


@pytest.fixture(scope="module")
def exported_cnn(tmp_path_factory):
  model = cnn.CNN()
  return model, saved_model.export(model, tmp_path_factory.mktemp("export") / "cnn" / "1")


@pytest.mark.parametrize("which", ["cnn", "binary_abs"])
def test_each_variable_is_saved_once(which, exported, exported_cnn):
  # Tracking the Keras layers besides `export_variables()` once saved every weight twice.
  if which == "cnn":
    model, path = exported_cnn
  else:
    path = exported[0]
    model = registry.load_model(str(path))
  variables = model.export_variables()
  values, data = saved_variable_values(path)
  assert len(values) == len(variables), values
  expected = sum(int(np.prod(v.shape)) * v.dtype.size for v in variables)
  assert expected <= data < expected * 1.01 + 64 * 2**10
  loaded = tf.saved_model.load(str(path))
  assert [tuple(v.shape) for v in loaded.model_variables] == [
      tuple(v.shape) for v in variables]


@pytest.mark.parametrize("images, error", [
    (np.full((1, 28, 28, 1), np.nan, np.float32), "NaN"),
    (np.full((1, 28, 28, 1), 1.5, np.float32), r"\[0, 1\]"),
    (np.full((1, 28, 28, 1), -1.0, np.float32), r"\[0, 1\]"),
])
def test_signature_refuses_bad_values(exported, images, error):
  path, _, _ = exported
  serve = tf.saved_model.load(str(path)).signatures["serving_default"]
  with pytest.raises(tf.errors.InvalidArgumentError, match=error):
    serve(images=tf.constant(images))


@pytest.mark.parametrize("images, error", [
    (np.zeros((1, 28, 28), np.float32), r"expected images: float32 \[batch, 28, 28, 1\].*"
                                        r"got shape\] \[1 28 28\]"),
    (np.zeros((1, 32, 32, 1), np.float32), r"got shape\] \[1 32 32 1\]"),
    (np.zeros((1, 28, 28, 1), np.float64), "expected to be a float tensor"),
])
def test_signature_refuses_bad_shapes_and_dtypes(exported, images, error):
  path, _, _ = exported
  serve = tf.saved_model.load(str(path)).signatures["serving_default"]
  with pytest.raises(tf.errors.InvalidArgumentError, match=error):
    serve(images=tf.constant(images))


def test_empty_batch_gives_empty_outputs(exported):
  path, _, _ = exported
  loaded = tf.saved_model.load(str(path))
  assert loaded.signatures["serving_default"](images=tf.zeros([0, 28, 28, 1]))[
      "logits"].shape == (0, 10)
  assert loaded.signatures["infer"](images=tf.zeros([0, 28, 28, 1]))[
      "reconstructions"].shape == (0, 10, 28, 28, 1)


def test_unknown_model_name_lists_the_known_ones():
  with pytest.raises(ValueError, match="known models: .*'abs'.*'madry'"):
    registry.load_model("resnet")
