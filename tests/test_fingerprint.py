"""Model fingerprints (abs_tf/export/fingerprint.py) follow what an exported model computes: the
same model exported twice keeps its fingerprint; another weight, configuration value, latent
or training file changes it; a SavedModel not exported by this project gets the hash of its
fingerprint.pb."""

import hashlib
import json
import pathlib
import shutil

import numpy as np
import pytest
import tensorflow as tf

from abs_tf import registry
from abs_tf.data import mnist
from abs_tf.evaluation import models as models_lib
from abs_tf.export import fingerprint
from abs_tf.export import saved_model
from abs_tf.models import cnn


@pytest.fixture(scope="module")
def tiny_cnn():
  return cnn.CNN(cnn.CNNConfig(filters=(4, 4, 4, 10)))


def _copy_shipped(name, directory):
  """A copy of the shipped SavedModel of `name` under `directory`."""
  return pathlib.Path(shutil.copytree(registry.saved_model_path(name), directory / name / "1"))


def _reconfigured_abs(directory, edit):
  """A copy of the shipped ABS whose abs_tf_model.json configuration `edit` changed."""
  path = _copy_shipped("abs", directory)
  meta = saved_model.read_model_json(path)
  edit(meta["config"])
  (path / "assets" / saved_model.MODEL_JSON).write_text(json.dumps(meta))
  return path


def _one_more_step(config):
  config["search"]["num_steps"] += 1


def _another_class_scale(config):
  config["class_scales"][3] = 0.95


def test_two_exports_of_one_model_share_the_fingerprint(tiny_cnn, tmp_path):
  first = saved_model.export(tiny_cnn, tmp_path / "first" / "1")
  second = saved_model.export(tiny_cnn, tmp_path / "second" / "1")
  assert fingerprint.model_fingerprint(first) == fingerprint.model_fingerprint(second)
  assert len(fingerprint.exported_variables(first)) == len(tiny_cnn.export_variables())


def test_a_changed_weight_changes_it(tiny_cnn, tmp_path):
  before = saved_model.export(tiny_cnn, tmp_path / "before" / "1")
  bias = tiny_cnn.net.weights[-1]
  bias.assign(bias + 1e-3)
  after = saved_model.export(tiny_cnn, tmp_path / "after" / "1")
  assert fingerprint.model_fingerprint(before) != fingerprint.model_fingerprint(after)


def test_a_changed_configuration_changes_it(tiny_cnn, tmp_path):
  binary = cnn.CNN(cnn.CNNConfig(filters=(4, 4, 4, 10), binarize=True))
  for target, value in zip(binary.export_variables(), tiny_cnn.export_variables()):
    target.assign(value)
  plain = saved_model.export(tiny_cnn, tmp_path / "plain" / "1")
  binarized = saved_model.export(binary, tmp_path / "binary" / "1")
  assert fingerprint.model_fingerprint(plain) != fingerprint.model_fingerprint(binarized)

  shipped = fingerprint.model_fingerprint(registry.saved_model_path("abs"))
  found = {fingerprint.model_fingerprint(_reconfigured_abs(tmp_path / edit.__name__, edit))
           for edit in (_one_more_step, _another_class_scale)}
  assert len(found | {shipped}) == 3


def test_it_covers_abs_latents_and_the_nearest_neighbours_training_files(tmp_path):
  path = registry.saved_model_path("abs")
  variables = fingerprint.exported_variables(path)
  rebuilt = registry.KINDS["abs"].from_config(saved_model.read_model_json(path)["config"])
  assert [tuple(v.shape) for v in variables] == [tuple(v.shape) for v in
                                                 rebuilt.export_variables()]
  assert variables[-1].shape == (10_000, 8)  # the prototype latents

  files = fingerprint.manifest(registry.saved_model_path("nearest_neighbor"))["assets"]
  data = mnist.verify()
  assert files == {name: hashlib.sha256((data / name).read_bytes()).hexdigest()
                   for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")}
  changed = _copy_shipped("nearest_neighbor", tmp_path)
  labels = changed / "assets" / "train-labels-idx1-ubyte.gz"
  labels.write_bytes(labels.read_bytes() + b"\0")
  assert fingerprint.model_fingerprint(changed) != models_lib.fingerprint("nearest_neighbor")


class Foreign(tf.Module):
  """A SavedModel with this project's serving signature, not exported by this project."""

  def __init__(self):
    super().__init__()
    self.weights = tf.Variable(tf.random.stateless_normal([784, 10], seed=[1, 2]))

  @tf.function(input_signature=[saved_model.INPUT_SPEC])
  def serve(self, images):
    return {"logits": tf.matmul(tf.reshape(images, [-1, 784]), self.weights)}


def test_a_foreign_saved_model_gets_the_hash_of_its_fingerprint_pb(tmp_path):
  module = Foreign()
  tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": module.serve})
  expected = hashlib.sha256((tmp_path / "fingerprint.pb").read_bytes()).hexdigest()[:12]
  assert fingerprint.model_fingerprint(tmp_path) == expected
  ref = models_lib.describe(str(tmp_path), models_lib.ModelCache())
  assert ref.fingerprint == expected and ref.gradient == registry.AUTODIFF
  logits = registry.load_model(str(tmp_path))(np.zeros((2, 28, 28, 1), np.float32))
  assert logits.shape == (2, 10)
