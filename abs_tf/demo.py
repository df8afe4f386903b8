r"""The main job on the shipped models: classify the MNIST test set through a SavedModel.

  python -m abs_tf.demo [--models=abs,binary_abs] [--num_images=10000] [--batch_size=500]

Prints, per model, the clean accuracy and the throughput of its SavedModel's
serving_default signature (the path TF Serving takes).
"""

import json
import time

import numpy as np
import tensorflow as tf
from absl import app
from absl import flags
from absl import logging

from abs_tf import registry
from abs_tf.data import mnist

FLAGS = flags.FLAGS
flags.DEFINE_list("models", ["abs", "binary_abs"], "Registry names or SavedModel paths.")
flags.DEFINE_integer("num_images", 10_000, "First test images to classify.")
flags.DEFINE_integer("batch_size", 500, "Images per call.")


def classify(path, images, batch_size):
  """Logits [N, 10] of images through the SavedModel at `path`, and the seconds taken."""
  serve = tf.saved_model.load(str(path)).signatures["serving_default"]
  serve(images=tf.constant(images[:1]))  # warm-up: builds the prototype cache
  start = time.perf_counter()
  logits = [serve(images=tf.constant(images[i:i + batch_size]))["logits"].numpy()
            for i in range(0, len(images), batch_size)]
  return np.concatenate(logits), time.perf_counter() - start


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if not 1 <= FLAGS.num_images <= 10_000 or FLAGS.batch_size < 1:
    raise app.UsageError("Expected 1 <= --num_images <= 10000 and --batch_size >= 1.")
  test = mnist.load("test").take(0, FLAGS.num_images)
  for name in FLAGS.models:
    path = registry.saved_model_path(name) if name in registry.MODELS else name
    logging.info("Classifying %d test images with %s ...", len(test), path)
    logits, seconds = classify(path, test.images, FLAGS.batch_size)
    accuracy = float(np.mean(logits.argmax(axis=1) == test.labels))
    print(json.dumps({"model": name, "images": len(test), "accuracy": accuracy,
                      "images_per_second": round(len(test) / seconds, 2),
                      "batch_size": FLAGS.batch_size}))


if __name__ == "__main__":
  app.run(main)
