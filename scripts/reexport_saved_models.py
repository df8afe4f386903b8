r"""Re-exports shipped SavedModels with today's serving graph, keeping what they compute.

  python scripts/reexport_saved_models.py                    # every registry model
  python scripts/reexport_saved_models.py --models=abs,cnn

Each model is rebuilt in memory from its SavedModel (`registry.load_model`: its variables and
abs_tf_model.json), exported to a staging directory beside it, and swapped in only if its
model fingerprint (`abs_tf.export.fingerprint`: configuration, variables, assets) is
unchanged; so rows of results/standard stay valid. tests/test_shipped_outputs.py then checks
the new graph's logits against those stored before the re-export. Model cards, metrics and
training records beside the version directory are not touched.
"""

import os
import pathlib
import shutil
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from abs_tf import registry  # pylint: disable=g-import-not-at-top
from abs_tf.export import fingerprint  # pylint: disable=g-import-not-at-top
from abs_tf.export import saved_model  # pylint: disable=g-import-not-at-top

FLAGS = flags.FLAGS
flags.DEFINE_list("models", list(registry.MODELS), "Registry names of the models to re-export.")


def reexport(name: str) -> str:
  """Re-exports `name` in place; returns its (unchanged) model fingerprint.

  Raises:
    RuntimeError: the re-exported model's fingerprint differs (nothing is replaced).
  """
  path = registry.saved_model_path(name)
  before = fingerprint.model_fingerprint(path)
  staging = path.with_name(path.name + ".staging")
  old = path.with_name(path.name + ".old")
  for leftover in (staging, old):
    shutil.rmtree(leftover, ignore_errors=True)
  saved_model.export(registry.load_model(name), staging)
  after = fingerprint.model_fingerprint(staging)
  if after != before:
    shutil.rmtree(staging)
    raise RuntimeError(f"{name}: the re-export's fingerprint {after} differs from the shipped "
                       f"{before}; {path} left as it was.")
  path.rename(old)
  staging.rename(path)
  shutil.rmtree(old)
  return after


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  unknown = sorted(set(FLAGS.models) - set(registry.MODELS))
  if unknown:
    raise app.UsageError(f"Unknown models {unknown}; known: {sorted(registry.MODELS)}.")
  for name in FLAGS.models:
    print(f"{name}: re-exported, fingerprint {reexport(name)}", flush=True)


if __name__ == "__main__":
  app.run(main)
