"""Dry run of the ABS training entry point: trains, resumes, exports (tiny settings)."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from abs_tf.training import vae_training

REPO = pathlib.Path(__file__).resolve().parents[1]
TINY = dict(batch_size=16, max_images_per_class=16, seed=0)
# The shared runs: all ten classes for three epochs (one step each) at KL weight 1, and
# classes 4 and 9 alone with another seed for one.
BASE = dict(epochs=3, kl_weight_start=1.0)
PAIR = dict(classes=(4, 9), seed=1)


def test_kl_weight_falls_from_10_to_1_over_50_epochs():
  config = vae_training.TrainConfig()
  assert vae_training.kl_weight(0, config) == 10.0
  assert vae_training.kl_weight(25, config) == pytest.approx(5.5)
  assert vae_training.kl_weight(50, config) == 1.0
  assert vae_training.kl_weight(80, config) == 1.0


def test_learning_rate_drops_once_at_its_epoch():
  config = vae_training.TrainConfig(learning_rate=1e-3, learning_rate_drop_epoch=3,
                                    learning_rate_drop_factor=0.1)
  assert [vae_training.learning_rate(e, config) for e in (0, 2, 3, 9)] == pytest.approx(
      [1e-3, 1e-3, 1e-4, 1e-4])
  assert vae_training.learning_rate(500, vae_training.TrainConfig()) == 1e-3
  with pytest.raises(ValueError, match="learning_rate_drop_factor"):
    vae_training.TrainConfig(learning_rate_drop_factor=0.0)


def test_resumed_run_takes_the_scheduled_learning_rate(pair_run, tmp_path):
  """Adam's checkpointed step size must not override the schedule after a resume."""
  from abs_tf.data import mnist
  train = mnist.load("train")
  shutil.copytree(pair_run.checkpoint_dir, tmp_path / "run")
  config = vae_training.TrainConfig(epochs=2, learning_rate_drop_epoch=1, **{**TINY, **PAIR})
  trainer = vae_training.VAETrainer(config, tmp_path / "run")
  trained = []
  state = trainer.run(train.images, train.labels, on_epoch=trained.append)
  assert [record["epoch"] for record in trained] == [2]  # resumed: the second epoch only
  assert state["history"][-1]["learning_rate"] == pytest.approx(1e-4)
  assert float(trainer.optimizer.learning_rate) == pytest.approx(1e-4)


def _run(tmp_path, epochs, export, extra=(), expect_ok=True):
  args = [sys.executable, "-m", "abs_tf.train_abs", f"--checkpoint_dir={tmp_path / 'ck'}",
          f"--epochs={epochs}", *extra]
  if export:
    args += ["--export", f"--abs_export_dir={tmp_path / 'abs' / '1'}",
             f"--binary_abs_export_dir={tmp_path / 'binary_abs' / '1'}",
             "--scale_fit_images=40", "--num_samples=50", "--num_steps=2"]
  out = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
  assert (out.returncode == 0) == expect_ok, out.stderr[-3000:]
  return out.stderr


def _train(directory, **settings):
  """A tiny run (one epoch of `TINY` unless `settings` say otherwise) in this process;
  returns its trainer."""
  from abs_tf.data import mnist
  train = mnist.load("train")
  config = vae_training.TrainConfig(**{"epochs": 1, **TINY, **settings})
  trainer = vae_training.VAETrainer(config, directory)
  trainer.run(train.images, train.labels)
  return trainer


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
  """One tiny run of all ten classes (`BASE`), shared (read-only) by the tests that start
  from one; at KL weight 1 its loss is the negative ELBO throughout."""
  return _train(tmp_path_factory.mktemp("all"), **BASE)


@pytest.fixture(scope="module")
def pair_run(tmp_path_factory):
  """One tiny run of classes 4 and 9 alone (`PAIR`), shared (read-only) likewise."""
  return _train(tmp_path_factory.mktemp("c49"), **PAIR)


def test_train_resume_and_export(base_run, pair_run, tmp_path):
  """The command line resumes a run (one the library trained: the command trains through the
  same `VAETrainer`), trains its next epoch, swaps in a class's VAE and exports."""
  shutil.copytree(base_run.checkpoint_dir, tmp_path / "ck")
  epochs = BASE["epochs"] + 1
  settings = [f"--{name}={value}" for name, value in {**TINY, **BASE}.items()
              if name != "epochs"]
  log = _run(tmp_path, epochs, export=True, extra=[
      *settings, f"--class_checkpoints=4:{pair_run.checkpoint_dir}", "--measure_train_images=20"])
  assert "Resumed" in log and re.findall(r"epoch (\d+)/(\d+)", log) == [(str(epochs),) * 2]
  assert "on the last 20 training images" in log
  record = json.loads((tmp_path / "binary_abs" / "training.json").read_text())
  assert record["training"]["epoch"] == epochs
  assert record["replaced_vaes"]["4"]["seed"] == 1
  assert 0 <= record["train_accuracy"]["abs_accuracy"] <= 1
  scales = record["binary_abs_class_scales"]
  assert scales["train_accuracy_fitted"] >= scales["train_accuracy_unit_scales"]
  for name in ("abs", "binary_abs"):
    assert (tmp_path / name / "1" / "saved_model.pb").is_file()


def test_training_lowers_the_loss(base_run):
  history = base_run.state["history"]
  assert len(history) == BASE["epochs"]
  first = history[0]["reconstruction_nats"] + history[0]["kl_nats"]
  last = history[-1]["reconstruction_nats"] + history[-1]["kl_nats"]
  # Untrained (a step size of 1e-12), posterior samples alone move it by about 0.05 %.
  assert last < 0.99 * first
  assert np.isfinite(last)


def test_a_class_trained_alone_replaces_that_class(base_run, pair_run, tmp_path):
  full, alone = base_run, pair_run
  assert len(alone.vaes) == 2 and alone.state["classes"] == [4, 9]
  vaes, provenance = vae_training.load_vaes(full.checkpoint_dir, {9: alone.checkpoint_dir})
  for c, expected in ((9, alone.vaes[1]), (3, full.vaes[3])):
    for got, want in zip(vaes[c].weights, expected.weights):
      np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
  assert not np.array_equal(np.asarray(vaes[9].weights[0]), np.asarray(full.vaes[9].weights[0]))
  assert provenance["replaced_vaes"]["9"]["seed"] == 1 and "4" not in provenance["replaced_vaes"]
  assert provenance["training"]["epoch"] == BASE["epochs"]
  with pytest.raises(ValueError, match=r"classes \[4, 9\], not 5"):
    vae_training.load_vaes(full.checkpoint_dir, {5: alone.checkpoint_dir})
  with pytest.raises(ValueError, match="expected a run of all ten"):
    vae_training.load_vaes(alone.checkpoint_dir)
  with pytest.raises(FileNotFoundError, match="No checkpoint"):
    vae_training.load_vaes(tmp_path / "missing")
  with pytest.raises(ValueError, match=r"classes \[4, 9\], this run trains \[4\]"):
    vae_training.VAETrainer(vae_training.TrainConfig(classes=(4,)), alone.checkpoint_dir
                            ).restore()


@pytest.mark.parametrize("classes", [(), (3, 3), (10,), (-1,)])
def test_classes_are_checked(classes):
  with pytest.raises(ValueError, match="distinct integers"):
    vae_training.TrainConfig(classes=classes)


def test_export_of_a_per_class_run_is_refused(tmp_path):
  log = _run(tmp_path, 1, export=True, extra=["--classes=4"], expect_ok=False)
  assert "a run of --classes joins it by --class_checkpoints" in log


def test_decoder_variance_weighs_the_squared_error():
  """-log p(x|z) = ||x - mean||^2 / (2 v) + 392 log(2 pi v): v = 1/2 and v = 1/4 differ by
  exactly the squared error plus the constant."""
  from abs_tf.models import vae as vae_lib
  images = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype(np.float32)
  z = np.zeros((3, 8), np.float32)
  decoders = [vae_lib.Decoder(variance=v) for v in (0.5, 0.25)]
  for dec in decoders:
    dec.build((None, 8))
  for w, value in zip(decoders[1].weights, decoders[0].weights):
    w.assign(value)
  half, quarter = (-np.asarray(d(z).log_prob(images)) for d in decoders)
  squared = np.sum((images - np.asarray(decoders[0].mean(z))) ** 2, axis=(1, 2, 3))
  np.testing.assert_allclose(half, squared + 392 * np.log(np.pi), rtol=1e-5)
  np.testing.assert_allclose(quarter, 2 * squared + 392 * np.log(np.pi / 2), rtol=1e-5)
  with pytest.raises(ValueError, match="decoder_variance must be > 0"):
    vae_training.TrainConfig(decoder_variance=0.0)


def test_a_fine_tune_starts_from_another_runs_weights(base_run, tmp_path):
  base = base_run
  tune = vae_training.VAETrainer(
      vae_training.TrainConfig(epochs=1, batch_size=16, max_images_per_class=16,
                               classes=(3, 9), decoder_variance=0.35, kl_weight_start=1.0),
      tmp_path / "tune")
  assert tune.initialize_from(base.checkpoint_dir)
  for got, want in zip(tune.vaes[1].weights, base.vaes[9].weights):
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
  assert tune.state["initialized_from"]["epoch"] == BASE["epochs"] and tune.state["epoch"] == 0
  from abs_tf.data import mnist
  train = mnist.load("train")
  tune.run(train.images, train.labels)
  # Once the fine-tune has a checkpoint of its own it resumes from that, not the source.
  again = vae_training.VAETrainer(tune.config, tmp_path / "tune")
  assert not again.initialize_from(base.checkpoint_dir)
  _, provenance = vae_training.load_vaes(base.checkpoint_dir, {9: tmp_path / "tune"})
  assert provenance["replaced_vaes"]["9"]["decoder_variance"] == 0.35
  assert provenance["replaced_vaes"]["9"]["initialized_from"]["checkpoint_dir"] == str(
      base.checkpoint_dir)
  with pytest.raises(ValueError, match="decoder variance 0.35, this run uses 0.5"):
    vae_training.VAETrainer(vae_training.TrainConfig(classes=(3, 9)), tmp_path / "tune").restore()
  with pytest.raises(ValueError, match=r"not all of \[3, 5\]"):
    vae_training.VAETrainer(vae_training.TrainConfig(classes=(3, 5)), tmp_path / "x"
                            ).initialize_from(tmp_path / "tune")
