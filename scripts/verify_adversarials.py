r"""Checks a table row's adversarials outside the code that found them.

Runs the work units of (model, attack) exactly as `python -m abs_tf.evaluate` plans them (the
profile's budget and seed, the same chunks), keeps every adversarial, and checks each one by
paths that share no code with the attack or the model class it attacked:

- the class: the model's SavedModel, loaded with plain `tf.saved_model.load`, through its
  `serving_default` signature (the graph TF Serving runs), must not predict the label;
- the distance: recounted with numpy from the MNIST test image (L0: pixels that differ,
  L2: Euclidean norm, L-inf: largest absolute change), must equal the row's;
- the row: where `--results_dir` holds a row of the same fingerprint and batch, its distance
  must be the one found again (the run is deterministic under its seed; give the whole
  chunks, e.g. 50 images on an ABS model, to compare every row).

It prints one line per test image and exits with status 1 on any disagreement. The check
matters most where a row changes a conclusion, e.g. FMN's L0 medians on the ABS models:

  python scripts/verify_adversarials.py --model=binary_abs --attack=fmn_l0 --num_images=50 \
      --results_dir=results/standard

References:
  Schott et al., ICLR 2019, section 5 (distances). Pintor et al., NeurIPS 2021 (FMN).
"""

import dataclasses
import math
import sys

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from abs_tf import registry
from abs_tf.data import mnist
from abs_tf.evaluation import models as models_lib
from abs_tf.evaluation import plan
from abs_tf.evaluation import profiles
from abs_tf.evaluation import results
from abs_tf.evaluation import runner as runner_lib

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "binary_abs", "A registry model name.")
flags.DEFINE_string("attack", "fmn_l0", "A registered attack name.")
flags.DEFINE_string("profile", "standard", "The evaluation profile whose budget is checked.")
flags.DEFINE_integer("first_index", 0, "First MNIST test index.")
flags.DEFINE_integer("num_images", 10, "How many test images.")
flags.DEFINE_string("results_dir", None,
                    "An evaluation directory whose rows of the same fingerprint are compared.")


def recount(original: np.ndarray, adversarial: np.ndarray, metric: str) -> float:
  """The distance in `metric`, float64, counted again without `abs_tf.attacks.base`."""
  diff = adversarial.astype(np.float64).ravel() - original.astype(np.float64).ravel()
  if metric == "l0":
    return float(np.sum(diff != 0))
  if metric == "l2":
    return float(np.linalg.norm(diff))
  return float(np.abs(diff).max())


def serving_classes(name: str, images: np.ndarray) -> np.ndarray:
  """Predicted classes, int [B], of the SavedModel's serving signature for float32 images
  [B, 28, 28, 1] (its single input and `logits` output, as TF Serving would run it)."""
  serving = tf.saved_model.load(str(registry.saved_model_dir(name))).signatures[
      "serving_default"]
  (input_name,) = serving.structured_input_signature[1]
  outputs = serving(**{input_name: tf.constant(images, tf.float32)})
  return np.argmax(outputs["logits"].numpy(), axis=1)


def stored_rows(results_dir, fingerprint: str) -> dict:
  """(test index, batch) -> distance of the rows with `fingerprint` in `results_dir` (or {});
  a row compares only with one found in the same batch (the attacks' random generator is
  shared by the batch)."""
  if not results_dir:
    return {}
  rows = results.ResultStore(results_dir).rows.values()
  return {(row.test_index, tuple(row.batch)): row.distance for row in rows
          if row.fingerprint == fingerprint}


def main(argv):
  del argv
  if FLAGS.model not in registry.MODELS:
    raise app.UsageError(f"--model must be one of {sorted(registry.MODELS)}, "
                         f"got {FLAGS.model!r}.")
  if FLAGS.num_images < 1 or FLAGS.first_index < 0:
    raise app.UsageError("--num_images must be >= 1 and --first_index >= 0, got "
                         f"{FLAGS.num_images} and {FLAGS.first_index}.")
  runner = runner_lib.UnitRunner()
  ref = models_lib.describe(FLAGS.model, runner.cache)
  try:  # an unknown attack, or one that does not apply to the model, as the evaluation says
    selected = plan.select_attacks([ref], [FLAGS.attack])
  except ValueError as error:
    raise app.UsageError(str(error)) from error
  units = plan.make_units(selected, [ref], profiles.get_profile(FLAGS.profile),
                          FLAGS.first_index, FLAGS.num_images, chunk_size=None)
  if not units:
    raise app.UsageError(f"{FLAGS.attack} runs on {FLAGS.model} on 0 images under the "
                         f"{FLAGS.profile} profile (its cap).")
  test = mnist.load("test")
  metric = plan.metric_of(FLAGS.attack)
  stored = stored_rows(FLAGS.results_dir, units[0].fingerprint)
  found = []  # (row, its adversarial or None), in test index order
  for unit in units:
    result = runner.run(dataclasses.replace(unit, keep_adversarials=tuple(unit.indices.tolist())))
    found += [(row, result.adversarials.get(row.test_index)) for row in result.rows]
  runner.cache.release_all()

  checked = [(row, adversarial) for row, adversarial in found if adversarial is not None]
  classes = dict(zip((row.test_index for row, _ in checked), serving_classes(
      FLAGS.model, np.stack([adversarial for _, adversarial in checked])) if checked else []))
  problems = 0
  print(f"{FLAGS.model} / {FLAGS.attack} ({metric}), profile {FLAGS.profile}, "
        f"fingerprint {units[0].fingerprint}")
  print("index label distance recounted serving_class stored_row verdict")
  for row, adversarial in found:
    index, distance = row.test_index, row.distance
    stored_distance = stored.get((index, tuple(row.batch)))
    if adversarial is None:  # no adversarial: a failure (inf) or a misclassified image (0)
      ok = math.isinf(distance) or distance == 0
      recounted, predicted = "-", "-"
    else:
      recounted = recount(test.images[index], adversarial, metric)
      predicted = int(classes[index])
      ok = predicted != row.label and math.isclose(recounted, distance, rel_tol=1e-6)
    ok = ok and (stored_distance is None
                 or math.isclose(stored_distance, distance, rel_tol=1e-6))  # inf == inf too
    problems += not ok
    print(f"{index} {row.label} {distance:g} {recounted} {predicted} "
          f"{'-' if stored_distance is None else f'{stored_distance:g}'} "
          f"{'ok' if ok else 'DISAGREES'}", flush=True)
  print(f"median {np.median([row.distance for row, _ in found]):g} over {len(found)} images; "
        f"{len(checked)} adversarials checked by the serving signature; "
        f"{problems} disagreements")
  sys.exit(1 if problems else 0)


if __name__ == "__main__":
  app.run(main)
