r"""Trains the ten class-conditional VAEs of ABS; resumable.

  python -m abs_tf.train_abs --checkpoint_dir=checkpoints/abs --epochs=100

Rerunning the same command continues from the last finished epoch. With --export, the
trained decoders then become the ABS and Binary ABS SavedModels (paper settings: 10^4
latent samples, 20 Adam steps); Binary ABS's class scalars are fitted on the first
--scale_fit_images training images.

Some classes' VAEs can be trained again (another seed, say) and swapped into a full run:

  python -m abs_tf.train_abs --classes=4,9 --seed=1 --checkpoint_dir=checkpoints/abs_s1 \
      --epochs=165 --learning_rate_drop_epoch=140
  python -m abs_tf.train_abs --checkpoint_dir=checkpoints/abs --epochs=165 \
      --class_checkpoints=4:checkpoints/abs_s1 --measure_train_images=5000 [--export]

The second command trains nothing (its run is finished), measures ABS with class 4's VAE
replaced on the last 5,000 training images, and exports that combination with --export.

A run can start from another run's weights (a fine-tune with other settings, e.g. a smaller
decoder variance at KL weight 1):

  python -m abs_tf.train_abs --checkpoint_dir=checkpoints/abs_v035 --init_from=checkpoints/abs \
      --decoder_variance=0.35 --kl_weight_start=1 --epochs=40 --learning_rate_drop_epoch=30
"""

import json
import pathlib
import time
from typing import Dict

from absl import app
from absl import flags
from absl import logging

from abs_tf.data import mnist
from abs_tf.export import saved_model
from abs_tf.models import abs_model
from abs_tf.models import latent_search
from abs_tf.training import accuracy
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
flags.DEFINE_list("classes", None, "Train only these classes' VAEs (e.g. 4,9) into their "
                  "own --checkpoint_dir; all ten by default.")
flags.DEFINE_list("class_checkpoints", [], "CLASS:DIR pairs: with --export or "
                  "--measure_train_images, the VAE of CLASS comes from the run in DIR (of "
                  "--classes, say) instead of --checkpoint_dir.")
flags.DEFINE_bool("augment", False, "Distort training images at random: zoom, shear, skew, grid "
                  "distortion (abs_tf.training.augmentation; experimental).")
flags.DEFINE_float("decoder_variance", vae_training.TrainConfig.decoder_variance,
                   "The decoder Gaussian's fixed variance (training only; 1/2: the training "
                   "loss is the inference bound).")
flags.DEFINE_float("kl_weight_start", vae_training.TrainConfig.kl_weight_start,
                   "KL weight at epoch 0, falling to 1 over --kl_anneal_epochs (paper: 10).")
flags.DEFINE_string("init_from", None, "Start from the VAE weights of this finished run "
                    "(not its optimiser or epochs) if --checkpoint_dir has no checkpoint yet.")
flags.DEFINE_integer("measure_train_images", 0, "If > 0, log ABS's accuracy on the last N "
                     "training images (with --class_checkpoints, to choose among runs).")


def train(config: vae_training.TrainConfig, checkpoint_dir, data_dir=None, init_from=None):
  """Runs (or resumes) training, from `init_from`'s weights if given and not resuming;
  returns the trainer with its trained VAEs."""
  train_split = mnist.load("train", data_dir)
  trainer = vae_training.VAETrainer(config, checkpoint_dir)
  if init_from and trainer.initialize_from(init_from):
    logging.info("Starting from the weights of %s.", init_from)
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


def parse_class_checkpoints(pairs) -> Dict[int, str]:
  """["4:dir", ...] -> {4: "dir"}."""
  parsed = {}
  for pair in pairs:
    label, sep, directory = pair.partition(":")
    if not sep or not label.strip().isdigit() or not directory:
      raise app.UsageError(f"--class_checkpoints takes CLASS:DIR pairs, got {pair!r}.")
    parsed[int(label)] = directory
  return parsed


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  try:
    classes = (tuple(int(c) for c in FLAGS.classes) if FLAGS.classes
               else vae_training.TrainConfig.classes)
  except ValueError:
    raise app.UsageError(f"--classes takes class numbers, got {FLAGS.classes}.") from None
  replaced = parse_class_checkpoints(FLAGS.class_checkpoints)
  if not 0 <= FLAGS.measure_train_images <= 60000:
    raise app.UsageError("--measure_train_images must be in [0, 60000], got "
                         f"{FLAGS.measure_train_images}.")
  if ((FLAGS.export or FLAGS.measure_train_images or replaced) and
      len(classes) != vae_training.NUM_CLASSES):
    raise app.UsageError("--export, --measure_train_images and --class_checkpoints use a run "
                         "of all ten classes; a run of --classes joins it by "
                         "--class_checkpoints.")
  config = vae_training.TrainConfig(
      epochs=FLAGS.epochs, batch_size=FLAGS.batch_size, learning_rate=FLAGS.learning_rate,
      kl_anneal_epochs=FLAGS.kl_anneal_epochs,
      learning_rate_drop_epoch=FLAGS.learning_rate_drop_epoch,
      learning_rate_drop_factor=FLAGS.learning_rate_drop_factor, seed=FLAGS.seed,
      max_images_per_class=FLAGS.max_images_per_class, classes=classes,
      kl_weight_start=FLAGS.kl_weight_start, decoder_variance=FLAGS.decoder_variance,
      augment=FLAGS.augment)
  train(config, FLAGS.checkpoint_dir, FLAGS.data_dir, FLAGS.init_from)
  if not (FLAGS.export or FLAGS.measure_train_images):
    return
  vaes, provenance = vae_training.load_vaes(FLAGS.checkpoint_dir, replaced)
  decoders = [v.decoder for v in vaes]
  search = latent_search.LatentSearchConfig(num_samples=FLAGS.num_samples,
                                            num_steps=FLAGS.num_steps)
  model = abs_model.ABS(decoders, abs_model.ABSConfig(search=search))
  if FLAGS.measure_train_images:
    provenance["train_accuracy"] = measure(model, FLAGS.measure_train_images, FLAGS.data_dir)
  if FLAGS.export:
    export(model, provenance, FLAGS.data_dir)


def measure(model, num_images, data_dir=None) -> dict:
  """ABS's accuracy on the last `num_images` training images."""
  train_split = mnist.load("train", data_dir)
  fit = train_split.take(len(train_split.labels) - num_images, num_images)
  start = time.time()
  value = accuracy.clean_accuracy(model, fit.images, fit.labels, batch_size=500)
  logging.info("ABS: accuracy %.4f on the last %d training images (%.0f s).", value,
               num_images, time.time() - start)
  return {"images": f"last {num_images} training images", "abs_accuracy": value}


def export(model, provenance, data_dir=None):
  """Writes ABS and Binary ABS (class scalars fitted on training images)."""
  decoders, search = model.decoders, model.config.search
  saved_model.export(model, FLAGS.abs_export_dir)
  logging.info("Exported ABS to %s.", FLAGS.abs_export_dir)
  fit = mnist.load("train", data_dir).take(0, FLAGS.scale_fit_images)
  start = time.time()
  binary, info = class_scales.fit_binary_abs(decoders, fit.images, fit.labels, search)
  info["seconds"] = time.time() - start
  saved_model.export(binary, FLAGS.binary_abs_export_dir)
  logging.info("Exported Binary ABS to %s: %s", FLAGS.binary_abs_export_dir, info)
  record = {**provenance, "binary_abs_class_scales": info}
  for directory in (FLAGS.abs_export_dir, FLAGS.binary_abs_export_dir):
    path = pathlib.Path(directory).parent / "training.json"
    path.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
  app.run(main)
