"""The shipped baseline SavedModels: round trip, accuracy, robustness ordering, gradients,
input validation, registry errors.

Each test uses the first test images only, so that the whole file stays fast.
"""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from abs_tf import registry
from abs_tf.models import binarization
from abs_tf.training import accuracy
from abs_tf.training import adversarial

# Lowest accepted accuracy on the first 500 test images (the full test set's targets are
# in each model card; these are set a little below what the shipped models measured).
SHIPPED_ACCURACY = {
    "cnn": 0.985,
    "binary_cnn": 0.975,
    "nearest_neighbor": 0.96,
    "madry": 0.975,
    "substitute_cnn": 0.98,
}


def shipped(name):
  if not registry.saved_model_path(name).is_dir():
    pytest.fail(f"The SavedModel of {name} is missing at {registry.saved_model_path(name)}.")
  return name


@pytest.fixture(scope="module")
def models():
  return {}


def load(models, name, source):
  key = (name, source)
  if key not in models:
    models[key] = registry.load_model(shipped(name), source)
  return models[key]


@pytest.mark.parametrize("name", sorted(SHIPPED_ACCURACY))
def test_saved_model_gives_in_memory_logits_and_accuracy(name, models, test_split):
  memory = load(models, name, "memory")
  served = load(models, name, "saved_model")
  x = test_split.images[:500]
  np.testing.assert_allclose(served(x[:64]).numpy(), memory(x[:64]).numpy(), atol=1e-4)
  acc = accuracy.clean_accuracy(served.logits_graph, x, test_split.labels[:500])
  assert acc >= SHIPPED_ACCURACY[name]


def test_saved_model_cli_runs_the_cnn(models, test_split, tmp_path):
  x = test_split.images[:3]
  np.save(tmp_path / "x.npy", x)
  cli = [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "run",
         "--dir", str(registry.saved_model_path(shipped("cnn"))), "--tag_set", "serve",
         "--signature_def", "serving_default", "--inputs", f"images={tmp_path / 'x.npy'}",
         "--outdir", str(tmp_path / "out")]
  result = subprocess.run(cli, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  logits = np.load(tmp_path / "out" / "logits.npy")
  np.testing.assert_allclose(logits, load(models, "cnn", "memory")(x).numpy(), atol=1e-4)


def test_pgd_lowers_madry_accuracy_less_than_cnn(models, test_split):
  attack = adversarial.PGDConfig(epsilon=0.3, steps=10, step_size=0.05)
  x, y = test_split.images[:100], test_split.labels[:100]
  drops = {}
  for name in ("cnn", "madry"):
    result = adversarial.evaluate_pgd(load(models, name, "memory").logits_graph, x, y, attack)
    drops[name] = result.clean_accuracy - result.robust_accuracy
  assert drops["cnn"] > 0.8
  assert drops["madry"] < drops["cnn"] - 0.5


def test_binary_cnn_straight_through_gradient(models, test_split):
  model = load(models, "binary_cnn", "memory")
  x = tf.constant(test_split.images[:4])
  hard = tf.cast(x >= binarization.THRESHOLD, tf.float32)
  with tf.GradientTape(persistent=True) as tape:
    tape.watch([x, hard])
    plain = tf.reduce_sum(model.net(tf.cast(x >= binarization.THRESHOLD, tf.float32))[:, 0])
    straight = tf.reduce_sum(model.logits_graph(x)[:, 0])
    at_binary = tf.reduce_sum(model.net(hard)[:, 0])
  plain_grad = tape.gradient(plain, x)  # a hard threshold has no gradient
  assert plain_grad is None or not np.any(plain_grad.numpy())
  st_grad = tape.gradient(straight, x).numpy()
  assert np.abs(st_grad).sum() > 0
  # Straight through: the gradient at x is the network's gradient at binarise(x).
  np.testing.assert_allclose(st_grad, tape.gradient(at_binary, hard).numpy(), atol=1e-6)


@pytest.mark.parametrize("source", ["memory", "saved_model"])
def test_bad_input_is_refused(models, source):
  model = load(models, "madry", source)
  good = np.zeros((2, 28, 28, 1), np.float32)
  with pytest.raises(ValueError, match="NaN"):
    model(np.where(good == 0, np.nan, good).astype(np.float32))
  with pytest.raises(ValueError, match=r"\[0, 1\]"):
    model(good + 1.5)
  with pytest.raises(ValueError, match="shape"):
    model(np.zeros((2, 28, 28), np.float32))
  with pytest.raises(ValueError, match="float32"):
    model(good.astype(np.float64))


def test_signature_refuses_out_of_range_in_graph(models):
  served = load(models, "nearest_neighbor", "saved_model")
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, 1\]"):
    served.signature(images=tf.fill([1, 28, 28, 1], 2.0))


def test_unknown_name_lists_the_known_ones():
  with pytest.raises(ValueError, match="known models") as error:
    registry.load_model("resnet")
  for name in SHIPPED_ACCURACY:
    assert name in str(error.value)
