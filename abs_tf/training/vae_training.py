"""Training of the ten class-conditional VAEs of ABS.

Each VAE sees only the training images of its class and minimises the negative ELBO

  E_q[-log p(x|z)] + w(t) * KL(q(z|x) || p(z)),

where the KL weight w falls linearly from 10 to 1 over the first 50 epochs and stays at 1
(paper, section 3, "Hyperparameters and training details"). All ten VAEs take one step
together on a batch of their own class; the run checkpoints after every epoch and resumes.

References:
  Schott et al., ICLR 2019, section 3. Kingma & Welling, Auto-encoding variational Bayes.
"""

import dataclasses
import time
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from abs_tf.models import vae as vae_lib
from abs_tf.training import augmentation
from abs_tf.training import checkpoint

NUM_CLASSES = 10


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Settings of a VAE training run (the classifiers' are `classifier_training.TrainConfig`:
  there a batch is of all classes, an epoch a pass over all training images, the learning
  rate follows a cosine, and adversarial stages may set the length).

  Attributes:
    epochs: passes over the largest class's images.
    batch_size: images per class and step.
    learning_rate: Adam's step size.
    kl_weight_start, kl_weight_end, kl_anneal_epochs: the KL weight falls linearly from
      start to end over kl_anneal_epochs epochs (paper: 10 -> 1 over 50).
    learning_rate_drop_epoch, learning_rate_drop_factor: from this epoch on, Adam's step
      size is learning_rate * factor (None: constant; the paper does not give a schedule).
    seed: seed of initialisation, shuffling and posterior samples.
    max_images_per_class: use only the first N images of each class (tests).
    classes: the classes whose VAEs the run trains (all ten by default; a run of fewer,
      e.g. one class with another seed, is combined with a full run at export).
    decoder_variance: the decoder Gaussian's fixed variance v; the loss weighs the squared
      error by 1 / (2 v) against the KL term (the paper does not state v; 1/2 makes the
      training loss the inference bound).
    augment: distort training images at random (`augmentation.augment`).
  """
  epochs: int = 100
  batch_size: int = 64
  learning_rate: float = 1e-3
  kl_weight_start: float = 10.0
  kl_weight_end: float = 1.0
  kl_anneal_epochs: float = 50.0
  learning_rate_drop_epoch: Optional[int] = None
  learning_rate_drop_factor: float = 0.1
  seed: int = 0
  max_images_per_class: Optional[int] = None
  classes: Tuple[int, ...] = tuple(range(NUM_CLASSES))
  decoder_variance: float = vae_lib.DECODER_VARIANCE
  augment: bool = False

  def __post_init__(self):
    classes = tuple(self.classes)
    if (not classes or len(set(classes)) != len(classes) or
        not all(isinstance(c, int) and 0 <= c < NUM_CLASSES for c in classes)):
      raise ValueError(f"classes must be distinct integers in [0, {NUM_CLASSES}), got "
                       f"{self.classes!r}.")
    object.__setattr__(self, "classes", classes)
    for name in ("epochs", "batch_size"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
    if not (self.learning_rate > 0 and self.kl_anneal_epochs > 0 and
            self.decoder_variance > 0):
      raise ValueError("learning_rate, kl_anneal_epochs and decoder_variance must be > 0.")
    if not 0 < self.learning_rate_drop_factor <= 1:
      raise ValueError("learning_rate_drop_factor must be in (0, 1], got "
                       f"{self.learning_rate_drop_factor}.")
    if self.learning_rate_drop_epoch is not None and self.learning_rate_drop_epoch < 0:
      raise ValueError("learning_rate_drop_epoch must be >= 0 or None, got "
                       f"{self.learning_rate_drop_epoch}.")


def kl_weight(epoch: float, config: TrainConfig) -> float:
  """The KL weight at a (fractional) epoch."""
  fraction = min(max(epoch / config.kl_anneal_epochs, 0.0), 1.0)
  return config.kl_weight_start + fraction * (config.kl_weight_end - config.kl_weight_start)


def learning_rate(epoch: int, config: TrainConfig) -> float:
  """Adam's step size during epoch `epoch` (0-based); a function of the epoch, so a resumed
  run follows the same schedule."""
  drop = config.learning_rate_drop_epoch
  if drop is not None and epoch >= drop:
    return config.learning_rate * config.learning_rate_drop_factor
  return config.learning_rate


def class_images(images: np.ndarray, labels: np.ndarray,
                 max_per_class: Optional[int] = None) -> List[np.ndarray]:
  """Splits images [N, 28, 28, 1] by label into ten arrays."""
  per_class = [images[labels == c] for c in range(NUM_CLASSES)]
  if max_per_class is not None:
    per_class = [x[:max_per_class] for x in per_class]
  if any(len(x) == 0 for x in per_class):
    raise ValueError("Every class needs at least one training image.")
  return per_class


# The settings, beyond its classes, that a run's checkpoint is bound to (a resumed run must
# use the same): TrainConfig field -> (what to call it, its value in checkpoints older than it).
RUN_SETTINGS = {"decoder_variance": ("decoder variance", vae_lib.DECODER_VARIANCE),
                "augment": ("augmentation", False)}


def stored_config(state: dict) -> TrainConfig:
  """The settings a checkpoint's VAEs were trained with (classes and `RUN_SETTINGS`); older
  checkpoints, without them, hold all ten classes and the settings' earlier values."""
  return TrainConfig(classes=tuple(state.get("classes", range(NUM_CLASSES))),
                     **{field: state.get(field, default)
                        for field, (_, default) in RUN_SETTINGS.items()})


class VAETrainer:
  """Trains the VAEs of `config.classes` jointly; one Adam over all their weights (Adam is
  per-parameter, so the classes do not interact)."""

  def __init__(self, config: TrainConfig, checkpoint_dir=None):
    self.config = config
    self.checkpoint_dir = checkpoint_dir
    keras.utils.set_random_seed(config.seed)
    self.vaes = [vae_lib.VAE(decoder_variance=config.decoder_variance, name=f"vae_{c}")
                 for c in config.classes]
    self.optimizer = keras.optimizers.Adam(config.learning_rate)
    self.weights = [w for v in self.vaes for w in v.weights]
    trainable = [w for v in self.vaes for w in v.trainable_weights]
    self.optimizer.build(trainable)
    self._trainable = trainable
    self._seed = tf.random.Generator.from_seed(config.seed)
    self.state = {"epoch": 0, "step": 0, "history": [], "seconds": 0.0,
                  "classes": list(config.classes), "seed": config.seed,
                  **{field: getattr(config, field) for field in RUN_SETTINGS}}

  def _variables(self):
    return ([w.value for w in self.weights] + [v.value for v in self.optimizer.variables] +
            [self._seed.state])

  @tf.function
  def _train_step(self, batches, weight):
    """batches: float32 [C, B, 28, 28, 1], C = len(classes). Returns mean reconstruction
    and KL over the classes."""
    seeds = tf.cast(self._seed.make_seeds(len(self.vaes)), tf.int32)
    with tf.GradientTape() as tape:
      recs, kls = [], []
      for c, v in enumerate(self.vaes):
        rec, kl = v.loss_terms(batches[c], training=True, seed=seeds[:, c])
        recs.append(tf.reduce_mean(rec))
        kls.append(tf.reduce_mean(kl))
      rec, kl = tf.add_n(recs), tf.add_n(kls)
      loss = rec + weight * kl
    grads = tape.gradient(loss, self._trainable)
    self.optimizer.apply_gradients(zip(grads, self._trainable))
    return rec / len(self.vaes), kl / len(self.vaes)

  def restore(self) -> bool:
    """Loads the checkpoint of `checkpoint_dir` if there is one; returns whether it did.

    Raises:
      ValueError: the checkpoint was written for other classes or another architecture.
    """
    if self.checkpoint_dir is None:
      return False
    state = checkpoint.read_state(self.checkpoint_dir)
    if state is None:
      return False
    stored = stored_config(state)
    if stored.classes != self.config.classes:
      raise ValueError(f"{self.checkpoint_dir} holds the VAEs of classes "
                       f"{list(stored.classes)}, this run trains {list(self.config.classes)}.")
    for field, (label, _) in RUN_SETTINGS.items():
      theirs, ours = getattr(stored, field), getattr(self.config, field)
      if theirs != ours:
        raise ValueError(f"{self.checkpoint_dir} was trained with {label} {theirs}, this run "
                         f"uses {ours}; fine-tune into another directory (initialize_from).")
    self.state = checkpoint.restore(self.checkpoint_dir, self._variables())
    return True

  def initialize_from(self, directory) -> bool:
    """Starts this run from the VAE weights of another, finished run (a fine-tune with other
    settings): its weights only, not its optimiser state or epoch count. Does nothing, and
    returns False, once this run has a checkpoint of its own.

    Raises:
      FileNotFoundError: `directory` holds no checkpoint.
      ValueError: it lacks some of this run's classes.
    """
    if self.checkpoint_dir is not None and checkpoint.read_state(self.checkpoint_dir):
      return False
    by_class, source = restore_run(directory)
    if not set(self.config.classes) <= set(by_class):
      raise ValueError(f"{directory} holds the VAEs of classes {sorted(by_class)}, not all "
                       f"of {list(self.config.classes)}.")
    for c, vae in zip(self.config.classes, self.vaes):
      for weight, value in zip(vae.weights, by_class[c].weights):
        weight.assign(value)
    self.state["initialized_from"] = {"checkpoint_dir": str(directory),
                                      "epoch": source["epoch"], "seconds": source["seconds"]}
    return True

  def run(self, images: np.ndarray, labels: np.ndarray,
          on_epoch: Optional[Callable[[dict], None]] = None) -> dict:
    """Trains to `config.epochs`, resuming from the checkpoint if there is one.

    Args:
      images: float32 [N, 28, 28, 1] in [0, 1], the training images.
      labels: int [N].
      on_epoch: called with each epoch's record (for progress output).

    Returns:
      The run's state: epoch, step, history (one record per epoch), seconds.
    """
    if self.restore():
      logging.info("Resumed from %s at epoch %d.", self.checkpoint_dir, self.state["epoch"])
    per_class = class_images(images, labels, self.config.max_images_per_class)
    per_class = [per_class[c] for c in self.config.classes]
    steps_per_epoch = int(np.ceil(max(len(x) for x in per_class) / self.config.batch_size))
    b = self.config.batch_size
    while self.state["epoch"] < self.config.epochs:
      epoch = self.state["epoch"]
      start = time.time()
      # The step size is checkpointed with Adam's state; set it from the schedule.
      self.optimizer.learning_rate.assign(learning_rate(epoch, self.config))
      rng = np.random.default_rng([self.config.seed, epoch])
      # Each class cycles through its own permutation; smaller classes wrap around.
      orders = [np.resize(rng.permutation(len(x)), steps_per_epoch * b) for x in per_class]
      recs, kls = [], []
      for s in range(steps_per_epoch):
        batch = np.stack([x[o[s * b:(s + 1) * b]] for x, o in zip(per_class, orders)])
        if self.config.augment:
          batch = augmentation.augment(batch.reshape((-1,) + batch.shape[2:]), rng
                                       ).reshape(batch.shape)
        w = kl_weight(epoch + s / steps_per_epoch, self.config)
        rec, kl = self._train_step(tf.constant(batch), tf.constant(w, tf.float32))
        recs.append(float(rec))
        kls.append(float(kl))
      record = {"epoch": epoch + 1, "kl_weight": kl_weight(epoch + 1, self.config),
                "learning_rate": learning_rate(epoch, self.config),
                "reconstruction_nats": float(np.mean(recs)), "kl_nats": float(np.mean(kls)),
                "seconds": time.time() - start}
      self.state["epoch"] = epoch + 1
      self.state["step"] += steps_per_epoch
      self.state["seconds"] += record["seconds"]
      self.state["history"].append(record)
      if self.checkpoint_dir is not None:
        checkpoint.save(self.checkpoint_dir, self._variables(), self.state)
      if on_epoch is not None:
        on_epoch(record)
    return self.state


def restore_run(directory) -> Tuple[Dict[int, vae_lib.VAE], dict]:
  """The VAEs of a run's checkpoint by class, and the run's record: directory, epoch, step,
  seed, training seconds, decoder variance, the run it started from and its last epoch.

  Raises:
    FileNotFoundError: `directory` holds no checkpoint.
  """
  state = checkpoint.read_state(directory)
  if state is None:
    raise FileNotFoundError(f"No checkpoint in {directory}.")
  stored = stored_config(state)
  trainer = VAETrainer(stored, directory)
  trainer.restore()
  state = trainer.state
  return dict(zip(stored.classes, trainer.vaes)), {
      "checkpoint_dir": str(directory), "epoch": state["epoch"], "step": state["step"],
      "seed": state.get("seed"), "seconds": state["seconds"],
      "decoder_variance": stored.decoder_variance,
      "initialized_from": state.get("initialized_from"),
      "final_epoch": state["history"][-1] if state["history"] else None}


def load_vaes(checkpoint_dir, class_checkpoints: Optional[Mapping[int, str]] = None
              ) -> Tuple[List[vae_lib.VAE], dict]:
  """The ten VAEs of a run of all classes, some replaced by those of other runs.

  Args:
    checkpoint_dir: checkpoint of a run of all ten classes.
    class_checkpoints: class -> checkpoint of another run that trained that class (e.g.
      `classes=(4, 9)` with another seed); its VAE replaces the full run's.

  Returns:
    The ten VAEs in class order, and their provenance: for the full run ("training") and
    for each replacement ("replaced_vaes"), the directory, epoch, step, seed, training
    seconds and last epoch's record.

  Raises:
    FileNotFoundError: a directory without a checkpoint.
    ValueError: a checkpoint without the class asked of it.
  """
  by_class, base = restore_run(checkpoint_dir)
  if len(by_class) != NUM_CLASSES:
    raise ValueError(f"{checkpoint_dir} holds the VAEs of classes {sorted(by_class)}; "
                     "expected a run of all ten.")
  vaes = [by_class[c] for c in range(NUM_CLASSES)]
  provenance = {"training": base, "replaced_vaes": {}}
  for c, directory in sorted((class_checkpoints or {}).items()):
    other, record = restore_run(directory)
    if c not in other:
      raise ValueError(f"{directory} holds the VAEs of classes {sorted(other)}, not {c}.")
    vaes[c] = other[c]
    provenance["replaced_vaes"][str(c)] = record
  return vaes, provenance
