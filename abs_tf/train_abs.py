r"""Trains the ten class-conditional VAEs of ABS; resumable.

  python -m abs_tf.train_abs --checkpoint_dir=checkpoints/abs --epochs=100

Rerunning the same command continues from the last finished epoch. With --export_dir the
trained model is then exported as the ABS and Binary ABS SavedModels (see
abs_tf/export/abs_export.py).
"""

import json
import pathlib
import time

from absl import app
from absl import flags
from absl import logging

from abs_tf.data import mnist
from abs_tf.training import vae_training

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint_dir", "checkpoints/abs", "Checkpoints of the run.")
flags.DEFINE_integer("epochs", vae_training.TrainConfig.epochs, "Epochs to train.")
flags.DEFINE_integer("batch_size", vae_training.TrainConfig.batch_size, "Images per class.")
flags.DEFINE_float("learning_rate", vae_training.TrainConfig.learning_rate, "Adam's lr.")
flags.DEFINE_float("kl_anneal_epochs", vae_training.TrainConfig.kl_anneal_epochs,
                   "Epochs over which the KL weight falls from 10 to 1.")
flags.DEFINE_integer("seed", 0, "Seed of the run.")
flags.DEFINE_integer("max_images_per_class", None, "Use fewer images (dry runs).")
flags.DEFINE_string("data_dir", None, "MNIST directory; the shipped copy by default.")


def train(config: vae_training.TrainConfig, checkpoint_dir, data_dir=None):
  """Runs (or resumes) training; returns the trainer with its trained VAEs."""
  train_split = mnist.load("train", data_dir)
  trainer = vae_training.VAETrainer(config, checkpoint_dir)
  total = config.epochs

  def report(record):
    remaining = (total - record["epoch"]) * record["seconds"]
    logging.info("epoch %d/%d  kl_weight %.2f  reconstruction %.2f nats  KL %.2f nats  "
                 "%.0f s  (ETA %.0f min)", record["epoch"], total, record["kl_weight"],
                 record["reconstruction_nats"], record["kl_nats"], record["seconds"],
                 remaining / 60)

  state = trainer.run(train_split.images, train_split.labels, on_epoch=report)
  logging.info("Trained %d epochs in %.0f s of training time.", state["epoch"],
               state["seconds"])
  return trainer


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = vae_training.TrainConfig(
      epochs=FLAGS.epochs, batch_size=FLAGS.batch_size, learning_rate=FLAGS.learning_rate,
      kl_anneal_epochs=FLAGS.kl_anneal_epochs, seed=FLAGS.seed,
      max_images_per_class=FLAGS.max_images_per_class)
  train(config, FLAGS.checkpoint_dir, FLAGS.data_dir)


if __name__ == "__main__":
  app.run(main)
