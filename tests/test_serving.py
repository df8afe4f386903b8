"""The serving contract of every shipped SavedModel, and what TF Serving needs beside them.

Each shipped `serving_default` refuses a wrong rank or shape with a message naming the
expected `images` [batch, 28, 28, 1] before any other computation, then NaN and values outside
[0, 1]; it returns empty outputs for an empty batch. The ABS models carry TF Serving warmup
requests, one per batch bucket of the shipped batching configuration; one model's are replayed
through its signature.
"""

import re

import numpy as np
import pytest
import tensorflow as tf

from abs_tf import registry
from abs_tf.export import serving
from abs_tf.models import abs_model
from abs_tf.models import classifier

EXPECTED = re.escape(f"expected {classifier.EXPECTED_IMAGES}")


def _signature(name):
  loaded = tf.saved_model.load(str(registry.saved_model_path(name)))
  return loaded, loaded.signatures["serving_default"]


@pytest.mark.parametrize("name", sorted(registry.MODELS))
def test_signature_checks_its_input_first(name):
  _, serve = _signature(name)  # the loaded object is kept referenced while serving
  cases = [(np.zeros((28, 28)), r"got shape\] \[28 28\]"),
           (np.zeros((1, 28, 28)), r"got shape\] \[1 28 28\]"),
           (np.zeros((1, 784)), r"got shape\] \[1 784\]"),
           (np.zeros((2, 32, 32, 1)), r"got shape\] \[2 32 32 1\]"),
           (np.full((1, 28, 28, 1), np.nan), "got NaN"),
           (np.full((1, 28, 28, 1), 1.5), r"got values in\] \[1.5\] \[1.5\]"),
           (np.full((1, 28, 28, 1), -0.5), r"got values in\] \[-0.5\] \[-0.5\]")]
  for images, found in cases:
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{EXPECTED}; {found}"):
      serve(images=tf.constant(images, tf.float32))
  with pytest.raises(tf.errors.InvalidArgumentError, match="float"):
    serve(images=tf.zeros([1, 28, 28, 1], tf.float64))
  outputs = serve(images=tf.zeros([0, 28, 28, 1]))
  assert {key: tuple(value.shape) for key, value in outputs.items()} == {
      "logits": (0, 10), "probabilities": (0, 10)}


def _shipped_batch_sizes():
  text = serving.batching_parameters_path().read_text()
  return [int(size) for size in re.findall(r"^allowed_batch_sizes: (\d+)$", text, re.M)]


def test_batching_configuration_pads_to_the_latent_search_buckets():
  sizes = _shipped_batch_sizes()
  assert sizes == [s for s in abs_model.BATCH_BUCKETS if s <= serving.MAX_BATCH_SIZE]
  text = serving.batching_parameters_path().read_text()
  body = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))
  assert body == serving.batching_parameters(sizes)


@pytest.mark.parametrize("sizes", [[], [2, 1], [0, 1], [1, 1]])
def test_batching_parameters_refuse_bad_sizes(sizes):
  with pytest.raises(ValueError, match="increasing positive integers"):
    serving.batching_parameters(sizes)


@pytest.mark.parametrize("name", sorted(registry.MODELS))
def test_models_that_compile_per_batch_size_carry_warmup_requests(name):
  path = registry.saved_model_path(name)
  if not registry.get_spec(name).is_abs:
    assert not (path / serving.WARMUP_FILE).exists()
    return
  requests = serving.read_warmup_requests(path)
  assert [inputs["images"].shape[0] for _, inputs in requests] == _shipped_batch_sizes()


def test_warmup_requests_replay_through_the_signature():
  path = registry.saved_model_path("binary_abs_authors")
  loaded = tf.saved_model.load(str(path))
  for signature, inputs in serving.read_warmup_requests(path):
    images = inputs["images"]
    assert images.dtype == np.float32 and images.shape[1:] == (28, 28, 1)
    outputs = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
    assert outputs["logits"].shape == (len(images), 10)
    assert np.all(np.isfinite(outputs["logits"].numpy()))


def test_missing_warmup_file_is_named(tmp_path):
  with pytest.raises(FileNotFoundError, match="no TF Serving warmup file"):
    serving.read_warmup_requests(tmp_path)
