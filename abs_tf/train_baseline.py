r"""Trains (or resumes) a baseline of the zoo and exports it as a SavedModel.

  python -m abs_tf.train_baseline --model=cnn --checkpoint_dir=checkpoints/cnn \
      --export_dir=saved_models/cnn/1
  python -m abs_tf.train_baseline --model=madry --checkpoint_dir=checkpoints/madry \
      --export_dir=saved_models/madry/1
  python -m abs_tf.train_baseline --model=nearest_neighbor \
      --export_dir=saved_models/nearest_neighbor/1      # no training, export only

Models: see abs_tf/training/recipes.py. Rerunning the same command continues from the last
checkpoint; the flags override the recipe's settings.
"""

import dataclasses
import json
import pathlib

from absl import app
from absl import flags
from absl import logging

from abs_tf.data import mnist
from abs_tf.export import saved_model
from abs_tf.training import accuracy
from abs_tf.training import classifier_training as ct
from abs_tf.training import recipes

FLAGS = flags.FLAGS
flags.DEFINE_enum("model", None, sorted(recipes.RECIPES), "The baseline to train.")
flags.DEFINE_string("checkpoint_dir", None, "Checkpoints of the run (default "
                    "checkpoints/<model>).")
flags.DEFINE_string("export_dir", None, "Where to write the SavedModel at the end.")
flags.DEFINE_float("epochs", None, "Epochs of plain training (recipe default).")
flags.DEFINE_integer("batch_size", None, "Images per step (recipe default).")
flags.DEFINE_float("learning_rate", None, "Adam's initial step size (recipe default).")
flags.DEFINE_integer("seed", None, "Seed of the run (recipe default).")
flags.DEFINE_integer("max_train_images", None, "Use only the first N training images.")
flags.DEFINE_integer("checkpoint_every", None, "Also checkpoint every N steps.")
flags.DEFINE_integer("log_every", None, "Log every N steps.")
flags.DEFINE_integer("max_shift", None, "Random translations of up to N pixels.")
flags.DEFINE_multi_string("stage", None, "Adversarial training stages as "
                          "EPOCHS:STEPS:STEP_SIZE, in order (recipe default).")
flags.DEFINE_float("ramp_epochs", None, "Epochs over which eps grows from 0 (adversarial).")
flags.DEFINE_integer("monitor_images", None, "Training images attacked at each epoch end "
                     "(adversarial).")
flags.DEFINE_integer("test_images", 10000, "Test images for the final clean accuracy.")
flags.DEFINE_string("data_dir", None, "MNIST directory; the shipped copy by default.")


def config_from_flags(default: ct.TrainConfig) -> ct.TrainConfig:
  """The recipe's settings with the given flags applied."""
  overrides = {name: getattr(FLAGS, name) for name in (
      "epochs", "batch_size", "learning_rate", "seed", "max_train_images",
      "checkpoint_every", "log_every", "max_shift") if getattr(FLAGS, name) is not None}
  adv = default.adversarial
  if adv is None:
    if FLAGS.stage or FLAGS.ramp_epochs is not None or FLAGS.monitor_images is not None:
      raise app.UsageError("--stage, --ramp_epochs and --monitor_images are for adversarial "
                           f"training; {FLAGS.model} is trained plainly.")
  else:
    if "epochs" in overrides:
      raise app.UsageError("--epochs is for plain training; use --stage for "
                           f"{FLAGS.model}.")
    adv_overrides = {}
    if FLAGS.stage:
      adv_overrides["stages"] = tuple(ct.AttackStage.parse(s) for s in FLAGS.stage)
    if FLAGS.ramp_epochs is not None:
      adv_overrides["ramp_epochs"] = FLAGS.ramp_epochs
    if FLAGS.monitor_images is not None:
      adv_overrides["monitor_images"] = FLAGS.monitor_images
    overrides["adversarial"] = dataclasses.replace(adv, **adv_overrides)
  return dataclasses.replace(default, **overrides)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  recipe = recipes.get_recipe(FLAGS.model)
  if recipe.config is None:
    model = recipe.build()
  else:
    config = config_from_flags(recipe.config)
    checkpoint_dir = FLAGS.checkpoint_dir or f"checkpoints/{FLAGS.model}"
    logging.info("Training %s with %s", FLAGS.model, config)
    trainer = ct.ClassifierTrainer(recipe.build, config, checkpoint_dir)
    train = mnist.load("train", FLAGS.data_dir)
    state = trainer.run(train.images, train.labels)
    logging.info("Trained %s: %d steps in %.0f s of training time.", FLAGS.model,
                 state["step"], state["seconds"])
    model = trainer.model
  test = mnist.load("test", FLAGS.data_dir).take(0, FLAGS.test_images)
  acc = accuracy.clean_accuracy(model.logits_graph, test.images, test.labels)
  logging.info("%s: clean accuracy %.4f on the first %d test images.", FLAGS.model, acc,
               len(test))
  if FLAGS.export_dir:
    path = saved_model.export(model, FLAGS.export_dir)
    logging.info("Exported %s to %s.", FLAGS.model, path)
  if recipe.config is not None:
    summary = {"model": FLAGS.model, "test_accuracy": acc, "test_images": len(test),
               "steps": state["step"], "training_seconds": state["seconds"]}
    out = pathlib.Path(checkpoint_dir) / "summary.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
  flags.mark_flag_as_required("model")
  app.run(main)
