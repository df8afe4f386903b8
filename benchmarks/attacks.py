r"""Throughput of the attacks: model queries per second and the attacks' own overhead.

For each registered attack (`abs_tf.attacks.ATTACKS`) and each model, runs the attack once on
a few MNIST test images and prints one JSON line:

  attack, model, images, queries (model forward passes, summed over the images),
  seconds (wall time of the attack), model_seconds (of that, inside model calls),
  queries_per_second (queries / seconds: what the attack achieves),
  model_queries_per_second (queries / model_seconds: what the model alone allows),
  overhead_seconds (seconds - model_seconds: the attack's own work) and its fraction.

SMALL SETTINGS, so that the benchmark finishes in minutes on 2 cores; the figures are rates,
which depend little on budgets once calls are batched:
- models: the authors' CNN, and ABS on the authors' decoders with a small latent search
  (`--abs_samples`=1000 prototypes, `--abs_steps`=5 Adam steps; the paper: 10^4 and 20);
- attacks: reduced budgets (`SMALL` below), e.g. 100 Boundary iterations
  instead of 5000, 2 BIM iterations and 2 bisection steps, one finite-difference step size
  instead of three;
- each model gets the attacks that apply to it, as in the evaluation
  (`abs_tf.evaluation.plan.applicable_attacks`): the real-gradient ones on the CNN,
  `latent_descent` and the `_envelope` ones on ABS.
Each (attack, model) is run once on 1 image first, so that graph tracing is not timed. On
ABS the finite-difference attacks (`_ge`, 1 + 2 * 784 queries per gradient) attack
`--abs_ge_images` (1) image: at the ~20-40 ABS queries per second seen here with other jobs
running, each iterative one still takes about 10 minutes, all five `_ge` about 40.

  python benchmarks/attacks.py [--attacks=boundary,pointwise] [--models=cnn,abs] \
      [--cnn_images=20] [--abs_images=4] [--output=runs/benchmark_attacks.jsonl]

At the end a table sums it up per attack and model: queries per second achieved, what the
model alone allows, and the overhead's share of the wall time.

A benchmark, not a test: nothing is asserted.
"""

import json
import pathlib
import time

from absl import app
from absl import flags
import numpy as np

from abs_tf import registry
from abs_tf import resources
from abs_tf.attacks import ATTACKS
from abs_tf.attacks import base
from abs_tf.attacks import catalog
from abs_tf.data import mnist
from abs_tf.evaluation import models as models_lib
from abs_tf.evaluation import plan
from abs_tf.models import latent_search
from abs_tf.tools import import_reference_cnn
from abs_tf.tools import import_reference_weights

# Reduced budgets by the attacks' stable names; a gradient family's (`budget_name`) covers its
# variants, and the finite-difference ones also get one step size instead of three (a BIM
# w/ GE at full budget costs ~10^5 queries per sample: hours on ABS).
_SINGLE_STEP = dict(num_epsilons=100, bisection_steps=2)
_ITERATIVE = dict(iterations=2, bisection_steps=2)
SMALL = {
    "boundary": dict(steps=100, directions_per_call=5),
    "pointwise": dict(repetitions=1, init_repetitions=2, pixels_per_call=4),
    "gaussian_noise": dict(epsilons=100),
    "salt_and_pepper": dict(epsilons=20, repetitions=2),
    "latent_descent": dict(max_steps=200),
    "fgsm": _SINGLE_STEP, "fgm": _SINGLE_STEP,
    "bim_linf": _ITERATIVE, "bim_l2": _ITERATIVE, "mim": _ITERATIVE,
}
FD_SMALL = dict(fd_steps=(0.1,))
# The benchmarked models, described as the evaluation's plan sees them (which attacks apply).
MODELS = {"cnn": models_lib.ModelRef("cnn", "CNN (authors' weights)", registry.AUTODIFF),
          "abs": models_lib.ModelRef("abs", "ABS (authors' weights)", registry.ENVELOPE,
                                     is_abs=True)}

FLAGS = flags.FLAGS
flags.DEFINE_list("attacks", None, "Attack names (default: all registered).")
flags.DEFINE_list("models", list(MODELS), f"Among {list(MODELS)}.")
flags.DEFINE_integer("cnn_images", 20, "Test images attacked on the CNN.")
flags.DEFINE_integer("abs_images", 4, "Test images attacked on ABS.")
flags.DEFINE_integer("abs_ge_images", 1, "Test images the `_ge` attacks attack on ABS.")
flags.DEFINE_integer("abs_samples", 1000, "ABS latent prototypes (the paper: 10000).")
flags.DEFINE_integer("abs_steps", 5, "ABS Adam steps (the paper: 20).")
flags.DEFINE_string("output", None, "Optional JSON-lines file the rows are appended to.")
flags.DEFINE_string("reference_dir", None, "Folder of the authors' weights (default: "
                    "third_party/abs_authors).")


def is_finite_difference(name: str) -> bool:
  return ATTACKS[name].gradient == catalog.FINITE_DIFFERENCES


def small_settings(name: str) -> dict:
  settings = dict(SMALL.get(name, SMALL.get(ATTACKS[name].budget_name, {})))
  if is_finite_difference(name):
    settings.update(FD_SMALL)
  return settings


def load_models(names, reference_dir):
  folder = pathlib.Path(reference_dir or resources.resource_dir(resources.AUTHORS_DIR))
  cnn_weights = str(folder / import_reference_cnn.WEIGHTS)
  abs_weights = str(folder / import_reference_weights.WEIGHTS)
  models = {}
  if "cnn" in names:
    models["cnn"] = import_reference_cnn.import_reference_cnn(cnn_weights)
  if "abs" in names:
    search = latent_search.LatentSearchConfig(num_samples=FLAGS.abs_samples,
                                              num_steps=FLAGS.abs_steps)
    models["abs"] = import_reference_weights.reference_abs(abs_weights, search)
  return models


def benchmark(name, model_name, model, images, labels):
  """Runs attack `name` once (after a 2-image warm-up) and returns the JSON row."""
  settings = small_settings(name)
  attack = ATTACKS[name](**settings)
  attack(model, images[:1], labels[:1])  # traces graphs; not timed
  result = attack(model, images, labels)
  queries = int(result.queries.sum())
  return dict(
      attack=name, model=model_name, images=len(labels), queries=queries,
      seconds=result.seconds, model_seconds=result.model_seconds,
      queries_per_second=queries / result.seconds,
      model_queries_per_second=queries / max(result.model_seconds, 1e-9),
      overhead_seconds=result.seconds - result.model_seconds,
      overhead_fraction=1.0 - result.model_seconds / result.seconds,
      median_distance=float(np.median(result.distances)), metric=result.metric,
      settings={k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()})


def model_settings(model_name: str) -> dict:
  """How the benchmarked model was configured (ABS: its latent search)."""
  if model_name == "abs":
    return dict(abs_samples=FLAGS.abs_samples, abs_steps=FLAGS.abs_steps)
  return {}


def summary(rows) -> str:
  """A text table of the rows: rates and overhead per attack and model."""
  lines = [f"{'attack':<22}{'model':<6}{'images':>7}{'queries':>10}{'seconds':>9}"
           f"{'queries/s':>11}{'model q/s':>11}{'overhead s':>12}{'overhead':>10}"]
  for r in rows:
    if "error" in r:
      lines.append(f"{r['attack']:<22}{r['model']:<6}  error: {r['error']}")
      continue
    lines.append(f"{r['attack']:<22}{r['model']:<6}{r['images']:>7}{r['queries']:>10}"
                 f"{r['seconds']:>9.1f}{r['queries_per_second']:>11.0f}"
                 f"{r['model_queries_per_second']:>11.0f}{r['overhead_seconds']:>12.2f}"
                 f"{r['overhead_fraction']:>10.0%}")
  return "\n".join(lines)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  names = FLAGS.attacks or list(ATTACKS)
  unknown = sorted(set(names) - set(ATTACKS)) + sorted(set(FLAGS.models) - set(MODELS))
  if unknown:
    raise app.UsageError(f"Unknown attacks or models: {unknown}.")
  test = mnist.load("test")
  counts = {"cnn": FLAGS.cnn_images, "abs": FLAGS.abs_images}
  rows = []
  for model_name, model in load_models(FLAGS.models, FLAGS.reference_dir).items():
    images, labels = test.images[:counts[model_name]], test.labels[:counts[model_name]]
    base.compiled(model)(images[:2])  # trace the shared forward pass once
    applicable = plan.applicable_attacks(MODELS[model_name])
    for name in (n for n in names if n in applicable):
      num = (FLAGS.abs_ge_images if model_name == "abs" and is_finite_difference(name)
             else len(images))
      start = time.perf_counter()
      try:
        row = benchmark(name, model_name, model, images[:num], labels[:num])
      except Exception as error:  # pylint: disable=broad-except  (report and go on)
        row = dict(attack=name, model=model_name, error=f"{type(error).__name__}: {error}")
      row["total_seconds_with_warmup"] = time.perf_counter() - start
      row["model_settings"] = model_settings(model_name)
      rows.append(row)
      print(json.dumps(row), flush=True)
      if FLAGS.output:
        with open(FLAGS.output, "a") as f:
          f.write(json.dumps(row) + "\n")
  print(summary(rows), flush=True)


if __name__ == "__main__":
  app.run(main)
