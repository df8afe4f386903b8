r"""Stores what the shipped SavedModels compute, so that a re-export can be checked against it.

For each model, the logits of its SavedModel's `serving_default` signature
(`abs_tf.load_model(name, source="saved_model")`) on a few MNIST test images spread over the
test set, its model fingerprint (`abs_tf.export.fingerprint.model_fingerprint`) and the hash
of its fingerprint.pb (`serialized_fingerprint`, what result rows carried before Issue 17),
in tests/data/shipped_outputs.json; tests/test_shipped_outputs.py checks the SavedModels
against it.

  python scripts/store_shipped_outputs.py                      # every registry model
  python scripts/store_shipped_outputs.py --models=abs_authors # add or replace one entry

Entries of models not named are kept. An ABS model takes ~25 s and several GB for its first
call: store them one per process.
"""

import json
import os
import pathlib
import sys

from absl import app
from absl import flags
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from abs_tf import registry  # pylint: disable=g-import-not-at-top
from abs_tf.data import mnist  # pylint: disable=g-import-not-at-top
from abs_tf.evaluation import results  # pylint: disable=g-import-not-at-top
from abs_tf.export import fingerprint  # pylint: disable=g-import-not-at-top

OUTPUTS_FILE = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data" / \
    "shipped_outputs.json"
NUM_TEST_IMAGES = 10_000

FLAGS = flags.FLAGS
flags.DEFINE_list("models", list(registry.MODELS), "Registry names of the models to store.")
flags.DEFINE_string("output", str(OUTPUTS_FILE), "The JSON file (updated in place).")
flags.DEFINE_integer("num_images", 8, "Test images of a new file, spread evenly over the "
                     "test set (an existing file keeps its images).")


def model_outputs(name: str, images: np.ndarray) -> dict:
  """The entry of one model: its fingerprints and its SavedModel's logits on `images`."""
  path = registry.saved_model_path(name)
  model = registry.load_model(name, source="saved_model")
  logits = model(images).numpy()
  return {"fingerprint": fingerprint.model_fingerprint(path),
          "serialized_fingerprint": fingerprint.serialized_fingerprint(path),
          "logits": [[float(v) for v in row] for row in logits]}


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  unknown = sorted(set(FLAGS.models) - set(registry.MODELS))
  if unknown:
    raise app.UsageError(f"Unknown models {unknown}; known: {sorted(registry.MODELS)}.")
  path = pathlib.Path(FLAGS.output)
  stored = json.loads(path.read_text()) if path.is_file() else {
      "test_indices": np.linspace(0, NUM_TEST_IMAGES - 1, FLAGS.num_images).round()
                        .astype(int).tolist(),
      "models": {}}
  images = mnist.load("test").images[stored["test_indices"]]
  for name in FLAGS.models:
    stored["models"][name] = model_outputs(name, images)
    print(f"{name}: fingerprint {stored['models'][name]['fingerprint']}", flush=True)
  stored["models"] = dict(sorted(stored["models"].items()))
  path.parent.mkdir(parents=True, exist_ok=True)
  results.write_atomic(path, (json.dumps(stored, indent=1) + "\n").encode())


if __name__ == "__main__":
  app.run(main)
