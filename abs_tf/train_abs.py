r"""Trains the ten class-conditional VAEs of ABS; resumable.

  python -m abs_tf.train_abs --checkpoint_dir=checkpoints/abs --epochs=100

Rerunning the same command continues from the last finished epoch. With --export, the
trained decoders then become the ABS and Binary ABS SavedModels (paper settings: 10^4
latent samples, 20 Adam steps); Binary ABS's class scalars are fitted on the first
--scale_fit_images training images.
"""

import json
import pathlib
import time

from absl import app
from absl import flags
from absl import logging

from abs_tf.data import mnist
from abs_tf.export import saved_model
from abs_tf.models import abs_model
from abs_tf.models import latent_search
from abs_tf.training import class_scales
from abs_tf.training import vae_training

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint_dir", "checkpoints/abs", "Checkpoints of the run.")
flags.DEFINE_integer("epochs", vae_training.TrainConfig.epochs, "Epochs to train.")
flags.DEFINE_integer("batch_size", vae_training.TrainConfig.batch_size, "Images per class.")
flags.DEFINE_float("learning_rate", vae_training.TrainConfig.learning_rate, "Adam's lr.")
flags.DEFINE_float("kl_anneal_epochs", vae_training.TrainConfig.kl_anneal_epochs,
                   "Epochs over which the KL weight falls from 10 to 1.")
flags.DEFINE_integer("learning_rate_drop_epoch", None,
                     "From this epoch on, Adam's lr is multiplied by --learning_rate_drop_factor.")
flags.DEFINE_float("learning_rate_drop_factor", vae_training.TrainConfig.learning_rate_drop_factor,
                   "Factor of the learning-rate drop.")
flags.DEFINE_integer("seed", 0, "Seed of the run.")
flags.DEFINE_integer("max_images_per_class", None, "Use fewer images (dry runs).")
flags.DEFINE_string("data_dir", None, "MNIST directory; the shipped copy by default.")
flags.DEFINE_bool("export", False, "Export ABS and Binary ABS after training.")
flags.DEFINE_string("abs_export_dir", "saved_models/abs/1", "Where ABS goes.")
flags.DEFINE_string("binary_abs_export_dir", "saved_models/binary_abs/1",
                    "Where Binary ABS goes.")
flags.DEFINE_integer("scale_fit_images", 3000,
                     "Training images on which Binary ABS's class scalars are fitted.")
flags.DEFINE_integer("num_samples", latent_search.LatentSearchConfig.num_samples,
                     "Latent samples of the exported models (paper: 10^4).")
flags.DEFINE_integer("num_steps", latent_search.LatentSearchConfig.num_steps,
                     "Adam steps of the exported models (paper: 20).")


def train(config: vae_training.TrainConfig, checkpoint_dir, data_dir=None):
  """Runs (or resumes) training; returns the trainer with its trained VAEs."""
  train_split = mnist.load("train", data_dir)
  trainer = vae_training.VAETrainer(config, checkpoint_dir)
  total = config.epochs

  def report(record):
    remaining = (total - record["epoch"]) * record["seconds"]
    logging.info("epoch %d/%d  lr %.0e  kl_weight %.2f  reconstruction %.2f nats  KL %.2f nats  "
                 "%.0f s  (ETA %.0f min)", record["epoch"], total, record["learning_rate"],
                 record["kl_weight"], record["reconstruction_nats"], record["kl_nats"], record["seconds"],
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
      kl_anneal_epochs=FLAGS.kl_anneal_epochs,
      learning_rate_drop_epoch=FLAGS.learning_rate_drop_epoch,
      learning_rate_drop_factor=FLAGS.learning_rate_drop_factor, seed=FLAGS.seed,
      max_images_per_class=FLAGS.max_images_per_class)
  trainer = train(config, FLAGS.checkpoint_dir, FLAGS.data_dir)
  if FLAGS.export:
    export(trainer, FLAGS.data_dir)


def export(trainer, data_dir=None):
  """Writes ABS and Binary ABS (class scalars fitted on training images)."""
  decoders = [v.decoder for v in trainer.vaes]
  search = latent_search.LatentSearchConfig(num_samples=FLAGS.num_samples,
                                            num_steps=FLAGS.num_steps)
  model = abs_model.ABS(decoders, abs_model.ABSConfig(search=search))
  saved_model.export(model, FLAGS.abs_export_dir)
  logging.info("Exported ABS to %s.", FLAGS.abs_export_dir)
  fit = mnist.load("train", data_dir).take(0, FLAGS.scale_fit_images)
  start = time.time()
  binary, info = class_scales.fit_binary_abs(decoders, fit.images, fit.labels, search)
  info["seconds"] = time.time() - start
  saved_model.export(binary, FLAGS.binary_abs_export_dir)
  logging.info("Exported Binary ABS to %s: %s", FLAGS.binary_abs_export_dir, info)
  record = {"training": {k: v for k, v in trainer.state.items() if k != "history"},
            "final_epoch": trainer.state["history"][-1] if trainer.state["history"] else None,
            "binary_abs_class_scales": info}
  for directory in (FLAGS.abs_export_dir, FLAGS.binary_abs_export_dir):
    path = pathlib.Path(directory).parent / "training.json"
    path.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
  app.run(main)
