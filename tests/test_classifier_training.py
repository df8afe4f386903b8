"""Baseline training: it learns, adversarial stages switch as configured, and it resumes."""

import numpy as np
import pytest

from abs_tf.data import mnist
from abs_tf.models import cnn
from abs_tf.models import madry
from abs_tf.training import checkpoint
from abs_tf.training import classifier_training as ct

TINY_CNN = cnn.CNNConfig(filters=(4, 8, 8, 10))


@pytest.fixture(scope="module")
def train_split():
  return mnist.load("train")


def small_cnn():
  return cnn.CNN(TINY_CNN)


def weights(trainer):
  return [w.numpy() for w in trainer.model.export_variables()]


class Interrupted(Exception):
  pass


def test_resumed_run_equals_uninterrupted_run(train_split, tmp_path, monkeypatch):
  config = ct.TrainConfig(epochs=2, batch_size=50, max_train_images=200, log_every=1)
  x, y = train_split.images, train_split.labels
  straight = ct.ClassifierTrainer(small_cnn, config, tmp_path / "a")
  straight.run(x, y)

  save = checkpoint.save

  def save_then_die(*args):
    save(*args)
    raise Interrupted()  # the process is killed right after its first checkpoint

  monkeypatch.setattr(ct.checkpoint, "save", save_then_die)
  with pytest.raises(Interrupted):
    ct.ClassifierTrainer(small_cnn, config, tmp_path / "b").run(x, y)
  monkeypatch.setattr(ct.checkpoint, "save", save)
  resumed = ct.ClassifierTrainer(small_cnn, config, tmp_path / "b")
  state = resumed.run(x, y)
  assert state["step"] == 8 and len(state["history"]) == 2
  for a, b in zip(weights(straight), weights(resumed)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_rerun_after_the_end_does_nothing(train_split, tmp_path):
  config = ct.TrainConfig(epochs=1, batch_size=50, max_train_images=100)
  ct.ClassifierTrainer(small_cnn, config, tmp_path).run(train_split.images, train_split.labels)
  again = ct.ClassifierTrainer(small_cnn, config, tmp_path)
  before = weights(again)
  state = again.run(train_split.images, train_split.labels)
  assert state["step"] == 2
  assert any(not np.array_equal(a, b) for a, b in zip(before, weights(again)))  # restored


def test_plain_training_learns(train_split):
  config = ct.TrainConfig(epochs=1, batch_size=50, max_train_images=1000, learning_rate=3e-3)
  trainer = ct.ClassifierTrainer(small_cnn, config)
  state = trainer.run(train_split.images, train_split.labels)
  assert state["history"][-1]["batch_accuracy"] > 0.3


def test_adversarial_stages_and_ramp(train_split, tmp_path):
  adv = ct.AdversarialConfig(
      epsilon=0.3, ramp_epochs=1.0, monitor_images=20,
      stages=(ct.AttackStage(1, 1, 0.375), ct.AttackStage(1, 3, 0.1)))
  config = ct.TrainConfig(epochs=None, batch_size=20, max_train_images=60, adversarial=adv)
  build = lambda: madry.Madry(madry.MadryConfig(filters=(4, 8), hidden_units=16))
  state = ct.ClassifierTrainer(build, config, tmp_path).run(train_split.images,
                                                            train_split.labels)
  first, second = state["history"]
  assert (first["attack_steps"], second["attack_steps"]) == (1, 3)
  assert first["epsilon"] == pytest.approx(0.3 * 2 / 3)  # last step of epoch 1 is at 2/3
  assert second["epsilon"] == pytest.approx(0.3)
  assert 0 <= second["monitor_pgd_accuracy"] <= second["monitor_clean_accuracy"] <= 1


def test_stage_parsing_and_config_validation():
  assert ct.AttackStage.parse("2.5:7:0.1") == ct.AttackStage(2.5, 7, 0.1)
  with pytest.raises(ValueError, match="EPOCHS:STEPS:STEP_SIZE"):
    ct.AttackStage.parse("2:7")
  with pytest.raises(ValueError, match="exactly one of epochs"):
    ct.TrainConfig(epochs=3, adversarial=ct.AdversarialConfig())
  with pytest.raises(ValueError, match="fewer than one batch"):
    ct.ClassifierTrainer(small_cnn, ct.TrainConfig(epochs=1, batch_size=50)).run(
        np.zeros((10, 28, 28, 1), np.float32), np.zeros(10, np.int64))


def test_random_shift_moves_each_image_by_at_most_max_shift():
  x = np.zeros((8, 28, 28, 1), np.float32)
  x[:, 10, 12, 0] = 1.0
  y = ct.random_shift(x, 2, np.array([1, 2], np.int32)).numpy()
  assert np.all(y.sum(axis=(1, 2, 3)) == 1.0)
  rows, cols = np.nonzero(y[..., 0])[1:]
  assert np.all(np.abs(rows - 10) <= 2) and np.all(np.abs(cols - 12) <= 2)
  assert len(set(zip(rows, cols))) > 1  # each image its own shift
