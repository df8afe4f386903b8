"""Evaluating your own model: `export_classifier`, Keras 3's `model.export()` mapped, the
up-front check of models given by path, and the README's example.

A small Keras MLP, trained for one epoch on 6,000 images (about 90 % accurate), stands for
"your model"; the command-line runs use two images and two attacks.
"""

import json
import os
import pathlib
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from abs_tf import registry
from abs_tf.evaluation import models as models_lib
from abs_tf.export import classifier_export
from abs_tf.export import saved_model

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
README_HEADING = "## Evaluate your own model"
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(
    filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])), TF_CPP_MIN_LOG_LEVEL="2")
SMOKE = ["--profile=smoke", "--attacks=boundary,fgsm", "--num_samples=2", "--figures=false"]


def _mlp(inputs=(28, 28, 1), activation=None):
  # Keras numbers the default names of inputs per process ('keras_tensor', then
  # 'keras_tensor_1', ...); start afresh, so that the input is 'keras_tensor' after other tests.
  keras.backend.clear_session()
  keras.utils.set_random_seed(0)
  layers = [keras.Input(inputs)] + ([keras.layers.Flatten()] if len(inputs) > 1 else [])
  return keras.Sequential(layers + [keras.layers.Dense(32, activation="relu"),
                                    keras.layers.Dense(10, activation=activation)])


@pytest.fixture(scope="module")
def mlp():
  from abs_tf.data import mnist
  train = mnist.load("train")
  model = _mlp()
  model.compile(keras.optimizers.Adam(1e-2),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  model.fit(train.images[:6000], train.labels[:6000], epochs=1, batch_size=100, verbose=0)
  return model


def _serve(path, images):
  loaded = tf.saved_model.load(str(path))  # kept referenced while its signature runs
  outputs = loaded.signatures["serving_default"](images=tf.constant(images))
  return {k: v.numpy() for k, v in outputs.items()}


def _evaluate(*flags, output_dir):
  return subprocess.run([sys.executable, "-m", "abs_tf.evaluate", *flags,
                         f"--output_dir={output_dir}"],
                        capture_output=True, text=True, cwd=REPO_ROOT, env=ENV, timeout=300)


def test_export_classifier_serves_the_keras_models_logits(mlp, tmp_path, test_split):
  images = test_split.images[:5]
  path = classifier_export.export_classifier(mlp, tmp_path / "mlp" / "1")
  outputs = _serve(path, images)
  np.testing.assert_allclose(outputs["logits"], mlp(images).numpy(), atol=1e-5)
  np.testing.assert_allclose(outputs["probabilities"].sum(1), 1.0, atol=1e-5)
  assert json.loads((path / "assets" / saved_model.ADAPTER_JSON).read_text())["binarized"] is False
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected images: float32"):
    _serve(path, images * 255)  # the graph checks the contract's range


def test_own_conventions_are_applied_in_the_graph(tmp_path, test_split):
  """A callable on normalised pixels in 0..255 giving probabilities, recorded as binarising
  (its variables are those of the Keras model it closes over)."""
  net = _mlp(activation="softmax")
  mean, std = 0.1307 * 255, 0.3081 * 255
  path = classifier_export.export_classifier(
      lambda normalised: net(normalised), tmp_path / "own", input_scale=255.0, mean=mean,
      std=std, outputs="probabilities", binarized=True, variables=net.variables)
  images = test_split.images[:4]
  expected = net((images * 255.0 - mean) / std).numpy()
  outputs = _serve(path, images)
  np.testing.assert_allclose(outputs["logits"], np.log(expected), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(outputs["probabilities"], expected, rtol=1e-4, atol=1e-6)
  ref = models_lib.describe(str(path), models_lib.ModelCache())
  assert ref.binarized and ref.gradient == registry.AUTODIFF and not ref.is_abs


def test_export_classifier_says_what_it_needs(tmp_path):
  with pytest.raises(ValueError, match=r"must map float32 \[B, 28, 28, 1\] to \[B, 10\]; got "
                     r"shape \[2, 32\]"):
    classifier_export.export_classifier(keras.Sequential([keras.layers.Flatten(),
                                                          keras.layers.Dense(32)]), tmp_path)
  numpy_code = lambda images: tf.constant(np.zeros([images.numpy().shape[0], 10], "float32"))
  with pytest.raises(TypeError, match="must be TF-traceable"):
    classifier_export.export_classifier(numpy_code, tmp_path / "numpy")
  with pytest.raises(ValueError, match="outputs must be one of"):
    classifier_export.export_classifier(_mlp(), tmp_path / "x", outputs="scores")


def test_keras_export_with_flat_input_is_mapped(tmp_path, test_split):
  net = _mlp(inputs=(784,))
  net.export(str(tmp_path / "flat"), verbose=False)
  model = registry.load_model(str(tmp_path / "flat"))
  assert model.mapping.input_shape == (784,) and model.mapping.output_key == "output_0"
  images = test_split.images[:3]
  np.testing.assert_allclose(model(images).numpy(), net(images.reshape(3, 784)).numpy(),
                             atol=1e-5)


class _TwoInputs(tf.Module):

  @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="x"),
                                tf.TensorSpec([None, 28, 28, 1], tf.float32, name="y")])
  def serve(self, x, y):
    return {"logits": tf.reshape(x + y, [-1, 784])[:, :10]}


@pytest.fixture(scope="module")
def two_inputs(tmp_path_factory):
  module = _TwoInputs()
  path = tmp_path_factory.mktemp("two_inputs") / "1"
  tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
  return path


def _keras_input_name(model) -> str:
  """The input name Keras 3's `model.export()` gives `model`'s signature."""
  name = model.inputs[0].name
  assert re.fullmatch(r"keras_tensor(_\d+)?", name), name
  return name


def test_check_names_what_was_expected_and_found(two_inputs, mlp, tmp_path, test_split):
  cache, images = models_lib.ModelCache(), test_split.images[:2]
  with pytest.raises(models_lib.ModelCheckError) as error:
    models_lib.check_path_model(str(two_inputs), cache, images)
  assert "expected signature 'serving_default' with one float input of images" in str(
      error.value)
  assert "found inputs 'x' float32 [?, 28, 28, 1], 'y' float32 [?, 28, 28, 1]." in str(
      error.value)
  mlp.export(str(tmp_path / "keras"), verbose=False)
  # Keras names the input keras_tensor, or keras_tensor_<n> after other models in the process.
  keras_input = _keras_input_name(mlp)
  with pytest.raises(models_lib.ModelCheckError, match=r"expected input 'images' "
                     rf"\(--input_key\); found inputs '{keras_input}' float32 \[\?, 28, 28, 1\]"):
    models_lib.check_path_model(str(tmp_path / "keras"), cache, images, input_key="images")
  ref = models_lib.check_path_model(str(tmp_path / "keras"), models_lib.ModelCache(), images,
                                    input_key=keras_input, output_key="output_0")
  assert ref.output_key == "output_0" and ref.fingerprint != models_lib.fingerprint(
      str(tmp_path / "keras"))
  with pytest.raises(models_lib.ModelCheckError, match=r"expected output 'scores' "
                     r"\(--output_key\); found outputs 'output_0' float32 \[\?, 10\]"):
    models_lib.check_path_model(str(tmp_path / "keras"), cache, images, output_key="scores")


def test_keras_export_and_export_classifier_are_evaluated_from_the_command_line(
    mlp, tmp_path):
  mlp.export(str(tmp_path / "keras_export"), verbose=False)
  classifier_export.export_classifier(mlp, tmp_path / "adapted" / "1")
  out = tmp_path / "out"
  result = _evaluate(f"--models={tmp_path / 'keras_export'},{tmp_path / 'adapted' / '1'}",
                     *SMOKE, "--executor=local", output_dir=out)  # processes: elsewhere
  assert result.returncode == 0, result.stderr[-3000:]
  assert (f"input '{_keras_input_name(mlp)}' (float32 [B, 28, 28, 1]), output 'output_0' -> "
          "logits") in result.stderr
  assert "| | keras_export | adapted |" in result.stdout
  rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
  assert len(rows) == 2 * 2 * 2  # models x attacks x images
  clean = re.findall(r"\| Clean \| ([\d.]+)% \(n=2\) \| ([\d.]+)% \(n=2\) \|", result.stdout)
  assert clean and clean[0][0] == clean[0][1]  # the same model, two ways


def test_a_model_that_does_not_fit_gets_one_line_and_nothing_is_written(two_inputs,
                                                                        tmp_path):
  out = tmp_path / "never_written"
  result = _evaluate(f"--models=cnn,{two_inputs}", *SMOKE, output_dir=out)
  assert result.returncode == 2
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith(f"abs_tf.evaluate: {two_inputs}: expected signature "
                         "'serving_default' with one float input"), result.stderr[-2000:]
  assert "found inputs 'x' float32" in last and "Traceback" not in result.stderr
  assert not out.exists()


def _readme_example():
  """The fenced blocks under README.md's "Evaluate your own model" heading (or under it in
  $ABS_TF_README, to try a draft)."""
  readme = pathlib.Path(os.environ.get("ABS_TF_README", REPO_ROOT / "README.md")).read_text()
  if README_HEADING not in readme:
    pytest.skip(f"README.md has no '{README_HEADING}' section yet (issue 19): its example "
                "is what this test runs.")
  section = readme.split(README_HEADING, 1)[1].split("\n## ", 1)[0]
  blocks = re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)
  assert [lang for lang, _ in blocks] == ["python", "sh"], (
      f"expected a python block (export) and a sh block (evaluate) under '{README_HEADING}'")
  return blocks[0][1], blocks[1][1]


def test_readme_example_runs(tmp_path):
  python_code, shell = _readme_example()
  assert len(python_code.strip().splitlines()) <= 10
  exported = subprocess.run([sys.executable, "-c", python_code], cwd=tmp_path, env=ENV,
                            capture_output=True, text=True, timeout=300)
  assert exported.returncode == 0, exported.stderr[-3000:]
  command = shell.replace("\\\n", " ").strip().replace("python ", f"{sys.executable} ", 1)
  evaluated = subprocess.run(command, shell=True, cwd=tmp_path, env=ENV, capture_output=True,
                             text=True, timeout=300)
  assert evaluated.returncode == 0, evaluated.stderr[-3000:]
  assert "| Clean |" in evaluated.stdout
