"""Training of the feed-forward baselines (CNN, Binary CNN, substitute CNN, Madry et al.).

Plain training minimises the mean cross-entropy of the training labels with Adam. Adversarial
training (Madry et al., 2018) minimises it on adversarial examples instead,

  min_theta E_(x, y) [ max_{||d||_inf <= eps} CE(f_theta(x + d), y) ],

the inner maximum approximated by L-infinity PGD (`adversarial.pgd_linf`). The attack changes
over the run in stages (e.g. one-step FGSM with random start, Wong et al. 2020, then
multi-step PGD), and eps can grow linearly from 0 over the first epochs. The learning rate
follows a cosine from `learning_rate` down to `learning_rate * final_learning_rate_fraction`.

A run is a sequence of steps over per-epoch permutations fixed by the seed; it checkpoints
at every epoch end (and every `checkpoint_every` steps) and resumes from the last checkpoint.

References:
  Madry et al., Towards deep learning models resistant to adversarial attacks, ICLR 2018.
  Wong, Rice, Kolter, Fast is better than free: revisiting adversarial training, ICLR 2020.
  Schott et al., ICLR 2019, section 5 (the baselines).
"""

import dataclasses
import math
import time
from typing import Callable, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from abs_tf.models import classifier
from abs_tf.training import adversarial
from abs_tf.training import checkpoint


@dataclasses.dataclass(frozen=True)
class AttackStage:
  """A part of an adversarial training run.

  Attributes:
    epochs: its length in (possibly fractional) epochs, > 0.
    steps: PGD steps per training batch (1 with a random start is FGSM-RS).
    step_size: PGD step size at full epsilon; scaled by eps(t) / eps during the ramp.
  """
  epochs: float
  steps: int
  step_size: float

  def __post_init__(self):
    if not self.epochs > 0 or self.steps < 1 or not self.step_size > 0:
      raise ValueError(f"A stage needs epochs > 0, steps >= 1 and step_size > 0, got {self}.")

  @classmethod
  def parse(cls, text: str) -> "AttackStage":
    """Parses "EPOCHS:STEPS:STEP_SIZE", e.g. "8:1:0.375"."""
    parts = text.split(":")
    if len(parts) != 3:
      raise ValueError(f"Expected a stage as EPOCHS:STEPS:STEP_SIZE, got {text!r}.")
    return cls(float(parts[0]), int(parts[1]), float(parts[2]))


@dataclasses.dataclass(frozen=True)
class AdversarialConfig:
  """Adversarial training settings.

  Attributes:
    epsilon: L-infinity radius of the training attack.
    stages: the attack over the run, in order; the run lasts their summed epochs.
    ramp_epochs: eps grows linearly from 0 to `epsilon` over these first epochs.
    monitor: the attack reported at each epoch end on `monitor_images` training images
      (to see catastrophic overfitting of one-step training early).
    monitor_images: how many of the first training images to monitor (0: none).
  """
  epsilon: float = 0.3
  stages: Tuple[AttackStage, ...] = (AttackStage(100_000 * 50 / 60_000, 40, 0.01),)
  ramp_epochs: float = 0.0
  monitor: adversarial.PGDConfig = adversarial.PGDConfig(steps=20, step_size=0.025)
  monitor_images: int = 500

  def __post_init__(self):
    object.__setattr__(self, "stages", tuple(self.stages))
    if not self.stages:
      raise ValueError("Adversarial training needs at least one stage.")
    if not 0 < self.epsilon <= 1 or self.ramp_epochs < 0 or self.monitor_images < 0:
      raise ValueError(f"Expected 0 < epsilon <= 1, ramp_epochs >= 0, monitor_images >= 0, "
                       f"got {self.epsilon}, {self.ramp_epochs}, {self.monitor_images}.")

  @property
  def epochs(self) -> float:
    return sum(s.epochs for s in self.stages)

  def stage_at(self, epoch: float) -> AttackStage:
    """The stage that covers a (fractional) epoch."""
    end = 0.0
    for stage in self.stages:
      end += stage.epochs
      if epoch < end:
        return stage
    return self.stages[-1]

  def epsilon_at(self, epoch: float) -> float:
    if self.ramp_epochs == 0:
      return self.epsilon
    return self.epsilon * min(epoch / self.ramp_epochs, 1.0)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Settings of a classifier's training run (ABS's VAEs have their own,
  `vae_training.TrainConfig`: the fields they share by name differ in meaning and default).

  Attributes:
    epochs: passes over the training set (plain training); must be None with `adversarial`,
      whose stages set the length.
    batch_size: images per step.
    learning_rate: Adam's initial step size.
    final_learning_rate_fraction: the cosine schedule ends at this fraction of it.
    seed: seed of initialisation, shuffling and random starts.
    max_train_images: use only the first N training images (tests).
    checkpoint_every: also checkpoint every this many steps (0: at epoch ends only).
    log_every: log progress every this many steps.
    max_shift: translate each training image by a random whole number of pixels in
      [-max_shift, max_shift] along each axis (0: no augmentation).
    adversarial: adversarial training settings; None for plain training.
  """
  epochs: Optional[float] = 20
  batch_size: int = 100
  learning_rate: float = 1e-3
  final_learning_rate_fraction: float = 0.01
  seed: int = 0
  max_train_images: Optional[int] = None
  checkpoint_every: int = 0
  log_every: int = 100
  max_shift: int = 0
  adversarial: Optional[AdversarialConfig] = None

  def __post_init__(self):
    if (self.adversarial is None) == (self.epochs is None):
      raise ValueError("Set exactly one of epochs (plain training) and adversarial (whose "
                       f"stages give the length); got epochs={self.epochs!r}, "
                       f"adversarial={self.adversarial!r}.")
    if self.epochs is not None and not self.epochs > 0:
      raise ValueError(f"epochs must be > 0, got {self.epochs!r}.")
    if (self.batch_size < 1 or self.log_every < 1 or self.checkpoint_every < 0 or
        not 0 <= self.max_shift < 14):
      raise ValueError("batch_size and log_every must be >= 1, checkpoint_every >= 0, "
                       f"max_shift in [0, 13]; got {self}.")
    if not self.learning_rate > 0 or not 0 < self.final_learning_rate_fraction <= 1:
      raise ValueError("Expected learning_rate > 0 and final_learning_rate_fraction in "
                       "(0, 1].")

  @property
  def total_epochs(self) -> float:
    return self.epochs if self.adversarial is None else self.adversarial.epochs

  def learning_rate_at(self, progress: float) -> float:
    """Cosine schedule; progress in [0, 1] is the fraction of the run done."""
    low = self.learning_rate * self.final_learning_rate_fraction
    return low + 0.5 * (self.learning_rate - low) * (1 + math.cos(math.pi * min(progress, 1)))


def random_shift(images, max_shift: int, seed):
  """Translates each image by its own random whole-pixel offset, filling with 0.

  Args:
    images: float32 [B, H, W, C].
    max_shift: offsets are uniform in [-max_shift, max_shift] along each axis.
    seed: int32 [2], stateless seed.

  Returns:
    float32 [B, H, W, C].
  """
  b = tf.shape(images)[0]
  shifts = tf.cast(tf.random.stateless_uniform([b, 2], seed, -max_shift, max_shift + 1,
                                               dtype=tf.int32), tf.float32)
  ones, zeros = tf.ones([b]), tf.zeros([b])
  # Projective transforms map output to input pixels: (x, y) -> (x + dx, y + dy).
  transforms = tf.stack([ones, zeros, shifts[:, 0], zeros, ones, shifts[:, 1], zeros, zeros],
                        axis=1)
  return tf.raw_ops.ImageProjectiveTransformV3(
      images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
      fill_value=0.0, interpolation="NEAREST", fill_mode="CONSTANT")


class ClassifierTrainer:
  """Trains a `Classifier` whose Keras 3 network is its attribute `net`.

  The model is built by `build_model` after seeding Keras, so that a seed fixes the
  initialisation.
  """

  def __init__(self, build_model: Callable[[], classifier.Classifier], config: TrainConfig,
               checkpoint_dir=None):
    self.config = config
    self.checkpoint_dir = checkpoint_dir
    keras.utils.set_random_seed(config.seed)
    self.model = build_model()
    self.optimizer = keras.optimizers.Adam(config.learning_rate)
    self._trainable = self.model.net.trainable_weights
    self.optimizer.build(self._trainable)
    self._seed = tf.random.Generator.from_seed(config.seed)
    self.state = {"step": 0, "history": [], "seconds": 0.0}

  def _variables(self):
    return ([w.value for w in self.model.net.weights] +
            [v.value for v in self.optimizer.variables] + [self._seed.state])

  @tf.function(reduce_retracing=True)
  def _train_step(self, images, labels, epsilon, step_size, attack_steps):
    """One Adam step; attack_steps (a Python int, 0 for plain training) PGD steps first.

    Returns the mean loss and the accuracy on the (adversarial) batch.
    """
    if self.config.max_shift:
      seed = tf.cast(self._seed.make_seeds(1)[:, 0], tf.int32)
      images = random_shift(images, self.config.max_shift, seed)
    if attack_steps:
      seed = tf.cast(self._seed.make_seeds(1)[:, 0], tf.int32)
      images = adversarial.pgd_linf(self.model.logits_graph, images, labels, epsilon,
                                    attack_steps, step_size, random_start=True, seed=seed)
    with tf.GradientTape() as tape:
      logits = self.model.logits_graph(images, training=True)
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
    grads = tape.gradient(loss, self._trainable)
    self.optimizer.apply_gradients(zip(grads, self._trainable))
    accuracy = tf.reduce_mean(tf.cast(tf.argmax(logits, axis=1) == labels, tf.float32))
    return loss, accuracy

  def _attack_at(self, epoch: float):
    """(attack steps, epsilon, step size) at a fractional epoch; (0, 0, 0) if plain."""
    adv = self.config.adversarial
    if adv is None:
      return 0, 0.0, 0.0
    stage = adv.stage_at(epoch)
    eps = adv.epsilon_at(epoch)
    return stage.steps, eps, stage.step_size * eps / adv.epsilon

  def _save(self, started: float):
    self.state["seconds"] += time.time() - started
    if self.checkpoint_dir is not None:
      checkpoint.save(self.checkpoint_dir, self._variables(), self.state)
    return time.time()

  def _monitor(self, images, labels) -> dict:
    adv = self.config.adversarial
    if adv is None or adv.monitor_images == 0:
      return {}
    n = min(adv.monitor_images, len(images))
    result = adversarial.evaluate_pgd(self.model.logits_graph, images[:n], labels[:n],
                                      adv.monitor, seed=self.config.seed)
    return {"monitor_clean_accuracy": result.clean_accuracy,
            "monitor_pgd_accuracy": result.robust_accuracy}

  def run(self, images: np.ndarray, labels: np.ndarray) -> dict:
    """Trains to the configured length, resuming from the checkpoint if there is one.

    Args:
      images: float32 [N, 28, 28, 1] in [0, 1], the training images.
      labels: int [N].

    Returns:
      The run's state: step, history (one record per epoch), seconds of training.
    """
    config = self.config
    if self.checkpoint_dir is not None:
      restored = checkpoint.restore(self.checkpoint_dir, self._variables())
      if restored is not None:
        self.state = restored
        logging.info("Resumed from %s at step %d.", self.checkpoint_dir, restored["step"])
    if config.max_train_images is not None:
      images, labels = images[:config.max_train_images], labels[:config.max_train_images]
    labels = np.asarray(labels, np.int64)
    b = config.batch_size
    steps_per_epoch = len(images) // b
    if steps_per_epoch == 0:
      raise ValueError(f"{len(images)} training images are fewer than one batch of {b}.")
    total_steps = int(round(config.total_epochs * steps_per_epoch))
    started = time.time()
    losses, accuracies, order, order_epoch = [], [], None, -1
    while self.state["step"] < total_steps:
      step = self.state["step"]
      epoch, within = divmod(step, steps_per_epoch)
      if epoch != order_epoch:
        order = np.random.default_rng([config.seed, epoch]).permutation(len(images))
        order_epoch = epoch
      index = order[within * b:(within + 1) * b]
      attack_steps, eps, step_size = self._attack_at(step / steps_per_epoch)
      lr = config.learning_rate_at(step / total_steps)
      self.optimizer.learning_rate = lr
      loss, accuracy = self._train_step(
          tf.constant(images[index]), tf.constant(labels[index]), tf.constant(eps, tf.float32),
          tf.constant(step_size, tf.float32), attack_steps)
      losses.append(float(loss))
      accuracies.append(float(accuracy))
      self.state["step"] = step = step + 1
      if step % config.log_every == 0:
        seconds = self.state["seconds"] + time.time() - started
        logging.info("step %d/%d (epoch %.2f)  loss %.4f  batch accuracy %.4f  eps %.3f  "
                     "attack %d x %.4f  lr %.2e  %.0f s", step, total_steps,
                     step / steps_per_epoch, np.mean(losses[-config.log_every:]),
                     np.mean(accuracies[-config.log_every:]), eps, attack_steps, step_size,
                     lr, seconds)
      if step % steps_per_epoch == 0 or step == total_steps:
        record = {"epoch": step / steps_per_epoch, "step": step,
                  "loss": float(np.mean(losses)) if losses else None,
                  "batch_accuracy": float(np.mean(accuracies)) if accuracies else None,
                  "epsilon": eps, "attack_steps": attack_steps, "attack_step_size": step_size,
                  "learning_rate": lr}
        record.update(self._monitor(images, labels))
        losses, accuracies = [], []
        self.state["history"].append(record)
        started = self._save(started)
        logging.info("epoch %.2f done: %s; %.0f s of training so far", record["epoch"],
                     record, self.state["seconds"])
      elif config.checkpoint_every and step % config.checkpoint_every == 0:
        started = self._save(started)
    return self.state
