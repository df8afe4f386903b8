"""TF Hub archives: served over loopback HTTP, `hub.load` and `hub.KerasLayer` give the
SavedModel's logits; the archive is deterministic; bad inputs are refused; every model card
carries TF Hub's model-page metadata."""

import functools
import hashlib
import http.server
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading

import numpy as np
import pytest
import tensorflow as tf

from abs_tf import registry
from abs_tf.export import hub_archive
from conftest import REPO_ROOT

NUM_IMAGES = 8


class _RecordingHandler(http.server.SimpleHTTPRequestHandler):
  """Serves a directory; records each request line instead of logging it."""

  def __init__(self, *args, requests, **kwargs):
    self.requests = requests
    super().__init__(*args, **kwargs)

  def log_message(self, format, *args):  # pylint: disable=redefined-builtin
    self.requests.append(self.requestline)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
  """The cnn's archive, served from 127.0.0.1: (its URL, the requests seen so far)."""
  root = tmp_path_factory.mktemp("served")
  archive = hub_archive.export_archive("cnn", root)
  requests = []
  handler = functools.partial(_RecordingHandler, directory=str(root), requests=requests)
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  yield f"http://127.0.0.1:{server.server_address[1]}/{archive.name}", requests
  server.shutdown()
  server.server_close()
  thread.join()


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
  """An empty TFHUB_CACHE_DIR (tensorflow_hub reads it at each resolve); no proxy."""
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "tfhub_cache"))
  monkeypatch.setenv("no_proxy", "127.0.0.1")
  return tmp_path / "tfhub_cache"


def test_hub_load_and_keras_layer_over_http_give_the_saved_models_logits(
    served, hub_cache, test_split):
  import tensorflow_hub as hub
  import tf_keras
  url, requests = served
  images = tf.constant(test_split.images[:NUM_IMAGES])
  local = tf.saved_model.load(str(registry.saved_model_path("cnn")))
  expected = local.signatures["serving_default"](images=images)["logits"].numpy()

  loaded = hub.load(url)
  logits = loaded.signatures["serving_default"](images=images)["logits"].numpy()
  np.testing.assert_allclose(logits, expected, atol=1e-6, rtol=0)
  assert requests == ["GET /cnn.tar.gz?tf-hub-format=compressed HTTP/1.1"]
  cached = hub_cache / hashlib.sha1(url.encode("utf8")).hexdigest()
  assert (cached / "saved_model.pb").is_file()

  # hub.KerasLayer is a tf-keras layer: it goes into tf-keras models, not Keras 3 ones.
  model = tf_keras.Sequential([
      tf_keras.Input((28, 28, 1)),
      hub.KerasLayer(url, signature="serving_default", output_key="logits")])
  np.testing.assert_allclose(model(images).numpy(), expected, atol=1e-6, rtol=0)
  assert len(requests) == 1, "the second resolve should read the cache"
  assert np.mean(expected.argmax(1) == test_split.labels[:NUM_IMAGES]) >= 0.875


def _archive_bytes(path):
  with open(path, "rb") as archive:
    return archive.read()


def test_archive_holds_the_saved_model_at_its_root_and_is_deterministic(tmp_path):
  source = registry.saved_model_path("cnn")
  first = hub_archive.export_archive("cnn", tmp_path / "a")
  # A copy elsewhere, with other times and another name, gives the same bytes.
  copy = tmp_path / "copy" / "cnn" / "1"
  shutil.copytree(source, copy, copy_function=shutil.copy)
  for path in [copy, *copy.rglob("*")]:
    os.utime(path, (1e9, 1e9))
  second = hub_archive.export_archive(str(copy), tmp_path / "b")
  assert first.name == second.name == "cnn.tar.gz"
  assert _archive_bytes(first) == _archive_bytes(second)

  with tarfile.open(first) as tar:
    members = tar.getmembers()
    names = [m.name for m in members]
    files = sorted(p.relative_to(source).as_posix() for p in source.rglob("*"))
    assert sorted(names) == files and "saved_model.pb" in names
    assert names.index("variables") < names.index("variables/variables.index")
    assert all(m.mtime == 0 and m.uid == m.gid == 0 and not m.uname for m in members)
    for member in members:
      if member.isfile():
        assert tar.extractfile(member).read() == (source / member.name).read_bytes()
      else:
        assert member.isdir()


def test_bad_inputs_are_refused_with_what_was_expected(tmp_path):
  source = registry.saved_model_path("cnn")
  (tmp_path / "empty").mkdir()
  with pytest.raises(ValueError, match="no SavedModel directory.*saved_model.pb"):
    hub_archive.write_archive(tmp_path / "empty", tmp_path / "empty.tar.gz")
  with pytest.raises(ValueError, match="must end in .tar.gz"):
    hub_archive.write_archive(source, tmp_path / "cnn.zip")
  with pytest.raises(ValueError, match="must not be written inside the SavedModel"):
    hub_archive.write_archive(source, source / "assets" / "cnn.tar.gz")
  (tmp_path / "empty" / "saved_model.pb").write_bytes(b"")
  (tmp_path / "empty" / "link").symlink_to("saved_model.pb")
  with pytest.raises(ValueError, match="link is neither a regular file nor a directory"):
    hub_archive.write_archive(tmp_path / "empty", tmp_path / "empty.tar.gz")
  (tmp_path / "file").write_text("")
  with pytest.raises(ValueError, match="must be a directory.*is a file"):
    hub_archive.export_archive("cnn", tmp_path / "file")
  with pytest.raises(ValueError, match="known models: .*'cnn'"):
    hub_archive.export_archive("no_such_model", tmp_path)
  assert sorted(os.listdir(tmp_path)) == ["empty", "file"]


def test_entry_point_refuses_an_unknown_model_naming_the_known_ones(tmp_path):
  env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
  result = subprocess.run(
      [sys.executable, "-m", "abs_tf.export.hub_archive", "--model=no_such_model",
       f"--output={tmp_path}"], capture_output=True, text=True, env=env, timeout=300)
  assert result.returncode != 0
  assert "Unknown model 'no_such_model'" in result.stderr
  assert all(repr(name) in result.stderr for name in registry.MODELS)
  assert not os.listdir(tmp_path)


# TF Hub's model-page metadata (tensorflow/tfhub.dev, tools/validator.py and tags/*.yaml):
# `<!-- key: value -->` lines after the title and the short description.
METADATA_LINE = re.compile(r"^<!--(?P<key>(\w|\s|-)+):(?P<value>.+)-->$")
REQUIRED_METADATA = ("asset-path", "task", "fine-tunable", "format", "license")
OPTIONAL_METADATA = ("network-architecture", "dataset", "language", "colab",
                     "interactive-visualizer")
ALLOWED_VALUES = {
    "task": {"image-classification"},
    # saved_model.export writes signatures only (no `__call__` with a `training` argument),
    # and hub.KerasLayer refuses trainable=True on a signature: no model here fine-tunes.
    "fine-tunable": {"false"},
    "format": {"saved_model_2"},
    "license": {"apache-2.0", "mit", "bsd-2-clause", "bsd-3-clause", "custom"},
    "network-architecture": {"cnn", "vae", "other"},
}


def card_metadata(text):
  """The metadata of a model card: {key: value}, from the block of metadata lines that
  follows the title line and the first paragraph (TF Hub's layout)."""
  lines = text.split("\n")
  assert lines[0].startswith("# "), "the card must start with its title"
  index = 1
  while index < len(lines) and not lines[index]:
    index += 1
  while index < len(lines) and lines[index] and not lines[index].startswith("<!--"):
    index += 1  # the short description
  metadata = {}
  for line in lines[index:]:
    if not line:
      continue
    match = METADATA_LINE.match(line)
    if not match:
      break
    key, value = match["key"].strip(), match["value"].strip()
    assert key not in metadata, f"{key} is given twice"
    metadata[key] = value
  return metadata


@pytest.mark.parametrize("name", sorted(registry.MODELS))
def test_every_model_card_starts_with_tf_hub_metadata(name):
  card = registry.saved_models_dir() / name / "README.md"
  assert card.is_file(), f"{name} has no model card at {card}"
  metadata = card_metadata(card.read_text())
  missing = [key for key in REQUIRED_METADATA if key not in metadata]
  assert not missing, f"{card} lacks TF Hub metadata {missing}"
  unknown = set(metadata) - set(REQUIRED_METADATA) - set(OPTIONAL_METADATA)
  assert not unknown, f"{card}: {sorted(unknown)} are no TF Hub metadata keys"
  assert metadata["asset-path"] == hub_archive.archive_name(registry.saved_model_path(name))
  for key, allowed in ALLOWED_VALUES.items():
    if key in metadata:
      assert metadata[key] in allowed, f"{card}: {key} {metadata[key]!r} not in {allowed}"
