r"""Measures a zoo model's clean test accuracy and, optionally, its accuracy under PGD.

  python -m abs_tf.measure_accuracy --model=cnn --source=saved_model
  python -m abs_tf.measure_accuracy --model=madry --source=saved_model --pgd_images=1000 \
      --output=saved_models/madry/metrics.json

Clean accuracy on the first --test_images MNIST test images; with --pgd_images > 0 also the
accuracy under L-infinity PGD (default: Madry et al.'s 40 steps of 0.01 at eps 0.3, random
start) on the first --pgd_images test images. Results are logged and, with --output,
written as JSON.
"""

import dataclasses
import datetime
import json
import pathlib
import time

from absl import app
from absl import flags
from absl import logging

from abs_tf import registry
from abs_tf.data import mnist
from abs_tf.training import accuracy
from abs_tf.training import adversarial

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "A registry name or a SavedModel directory.")
flags.DEFINE_enum("source", "saved_model", ["memory", "saved_model"], "How to load it.")
flags.DEFINE_integer("test_images", 10000, "First N test images for clean accuracy.")
flags.DEFINE_integer("pgd_images", 0, "First N test images attacked with PGD (0: none).")
flags.DEFINE_float("epsilon", 0.3, "L-infinity radius of PGD.")
flags.DEFINE_integer("pgd_steps", 40, "PGD steps.")
flags.DEFINE_float("pgd_step_size", 0.01, "PGD step size.")
flags.DEFINE_integer("seed", 0, "Seed of PGD's random start.")
flags.DEFINE_string("output", None, "Write the results as JSON here.")
flags.DEFINE_string("data_dir", None, "MNIST directory; the shipped copy by default.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  model = registry.load_model(FLAGS.model, FLAGS.source)
  test = mnist.load("test", FLAGS.data_dir)
  start = time.time()
  clean = test.take(0, FLAGS.test_images)
  result = {"model": FLAGS.model, "source": FLAGS.source,
            "date": datetime.date.today().isoformat(),
            "clean_accuracy": accuracy.clean_accuracy(model.logits_graph, clean.images,
                                                      clean.labels),
            "clean_images": len(clean)}
  logging.info("%s: clean accuracy %.4f on the first %d test images (%.0f s).", FLAGS.model,
               result["clean_accuracy"], len(clean), time.time() - start)
  if FLAGS.pgd_images > 0:
    attack = adversarial.PGDConfig(epsilon=FLAGS.epsilon, steps=FLAGS.pgd_steps,
                                   step_size=FLAGS.pgd_step_size, random_start=True)
    attacked = test.take(0, FLAGS.pgd_images)
    start = time.time()
    robust = adversarial.evaluate_pgd(model.logits_graph, attacked.images, attacked.labels,
                                      attack, seed=FLAGS.seed)
    result["pgd"] = dataclasses.asdict(robust)
    logging.info("%s: accuracy %.4f under PGD %s on the first %d test images (clean %.4f; "
                 "%.0f s).", FLAGS.model, robust.robust_accuracy, attack, robust.num_images,
                 robust.clean_accuracy, time.time() - start)
  if FLAGS.output:
    pathlib.Path(FLAGS.output).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
  flags.mark_flag_as_required("model")
  app.run(main)
