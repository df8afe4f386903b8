r"""Robustness evaluation: the paper's Table 1 and Figures 2 and 3, resumable.

  python -m abs_tf.evaluate --models=cnn,abs --profile=standard --output_dir=results/standard
  python -m abs_tf.evaluate --models=cnn,abs --profile=paper --executor=ray \
      --ray_address=head-node:6379 --output_dir=results/paper
  python -m abs_tf.evaluate --models=/path/to/my/saved_model --attacks=boundary,pointwise \
      --profile=smoke --num_samples=3 --output_dir=/tmp/mine

A model given by path (this project's signature, a Keras 3 `model.export()` directory, or any
SavedModel with one float input and one [B, 10] output; see `--input_key`, `--output_key`)
is loaded and probed on two test images first: one that does not fit exits with status 2
and one line saying what was expected and found, before anything is written.

Then it prints the plan (`abs_tf.evaluation.plan_report`): per model, the attacks that run
(test images, rows stored already, work units left) and those that do not, with the reason;
with --estimate_from it prints the plan with estimated times and runs nothing.

Without --output_dir it writes to results/<profile>; where that does not exist in the current
directory but the package ships it (results/standard, installed under
<prefix>/share/abs_tf), the shipped directory is copied to ./abs_tf_results/<profile> first,
so that `python -m abs_tf.evaluate` of an installed package re-renders the shipped results
there (and resumes them) instead of starting a 10-hour run.

Writes to --output_dir: results.jsonl (one row per model, attack and test image; the state:
rerun the same command to resume), RESUME.md (that command, every flag explicit, written
before the first unit), budgets.json, table.md, table.csv, figure2.png, figure3.png,
distributions.md (D+ against the paper's Figure 2), adversarials/ (for Figure 3) and
summary.json. See abs_tf/evaluation/.

Each model's units run in a worker process of their own (--executor=processes, the default),
so that a run of many hours does not grow in memory: see abs_tf/evaluation/executor.py.

References:
  Schott et al., ICLR 2019, sections 4-6.
"""

import os
import pathlib
import shutil
import sys

from absl import app
from absl import flags
from absl import logging

from abs_tf import registry
from abs_tf import resources
from abs_tf.evaluation import driver
from abs_tf.evaluation import executor as executor_lib
from abs_tf.evaluation import models as models_lib
from abs_tf.evaluation import plan_report
from abs_tf.evaluation import profiles
from abs_tf.evaluation import progress
from abs_tf.evaluation import ray_executor
from abs_tf.evaluation import results
from abs_tf.evaluation import runner as runner_lib

# ray_executor imports Ray only when it runs; it is named here rather than in executor.py's
# table because it builds on executor.py (Bazel allows no dependency cycle).
EXECUTORS = dict(executor_lib.EXECUTORS, ray=ray_executor.RayExecutor)

FLAGS = flags.FLAGS
# Where the shipped results are copied when ./results/<profile> does not exist.
SHIPPED_COPY = "abs_tf_results"
flags.DEFINE_list("models", list(driver.DEFAULT_MODELS),
                  "Registry names or SavedModel directories (this project's signature, a "
                  "Keras 3 model.export(), or one float input and one [B, 10] output).")
flags.DEFINE_string("input_key", None, "For the models given by path: the name of the "
                    "serving signature's one input, checked (default: any name).")
flags.DEFINE_string("output_key", None, "For the models given by path: the serving "
                    "signature's output read as logits (default: 'logits', else its only "
                    "[B, 10] output).")
flags.DEFINE_list("attacks", None, "Attack names (default: every attack that applies).")
flags.DEFINE_enum("profile", "standard", sorted(profiles.PROFILES), "Budgets and defaults.")
flags.DEFINE_integer("first_index", 0, "First MNIST test image.")
flags.DEFINE_integer("num_samples", None, "Test images (default: the profile's).")
flags.DEFINE_integer("chunk_size", None, "Images per work unit (default: the profile's).")
flags.DEFINE_string("output_dir", None, "Output directory (resumes what it holds); default "
                    "results/<profile>, or a copy of the package's shipped one in "
                    f"{SHIPPED_COPY}/<profile> where ./results/<profile> does not exist.")
flags.DEFINE_integer("recheck", 1, "Finished chunks attacked again to check that results "
                     "reproduce.")
flags.DEFINE_bool("figures", True, "Render figure2.png and figure3.png.")
flags.DEFINE_bool("set_aside_stale", False, "Move the stored rows of a (model, attack) that "
                  "this run plans with another budget (e.g. after a profile changed) to "
                  "results.stale.jsonl and attack it again, instead of refusing the run.")
flags.DEFINE_enum("executor", "processes", sorted(EXECUTORS), "Where units run: a worker "
                  "process per model (processes), this process (local), or a Ray cluster "
                  "(ray; pip install 'abs-tf[ray]').")
flags.DEFINE_integer("worker_memory_mb", executor_lib.DEFAULT_WORKER_MEMORY_MB,
                     "With --executor=processes: a worker process whose resident memory "
                     "passed this (MiB) after a unit is replaced by a fresh one.")
flags.DEFINE_string("ray_address", None, "With --executor=ray: HOST:PORT of a running Ray "
                    "cluster's head (or auto); default: start a local cluster.")
flags.DEFINE_integer("ray_workers", None, "With --executor=ray: worker processes (actors) "
                     "to start; default one per --ray_cpus_per_worker CPUs of the cluster.")
flags.DEFINE_float("ray_cpus_per_worker", 1.0, "With --executor=ray: CPUs Ray reserves for "
                   "each worker (e.g. 2-4 for ABS, whose latent search uses several cores).")
flags.DEFINE_list("merge_from", [], "Output directories of runs split across machines or "
                  "processes (e.g. by --models): their rows are added to --output_dir first.")
flags.DEFINE_string("estimate_from", None, "Run nothing: print the plan with the estimated "
                    "wall time of the units still to run, from the seconds per image of the "
                    "rows in this directory's results.jsonl (e.g. a short run with "
                    "--num_samples=2).")


def print_estimate(config, timings_dir, runner, model_refs=()):
  """Prints the plan of `config` with the estimated time of each attack's units left, from
  the seconds per image of the rows in `timings_dir`; runs nothing."""
  timing_rows = list(results.ResultStore(timings_dir).rows.values())
  if not timing_rows:
    raise ValueError(f"No result rows in {timings_dir} to estimate from.")
  run = driver.prepare(config, runner, model_refs, dry_run=True)
  estimates = progress.estimate(run.units, timing_rows)
  print(plan_report.to_text(plan_report.describe(config, run, estimates)))


def default_output_dir(profile: str) -> str:
  """results/<profile> if it exists here or nothing is shipped for `profile`; else
  SHIPPED_COPY/<profile>, copied from the shipped results the first time."""
  default = pathlib.Path("results", profile)
  try:
    shipped = resources.resource_dir(f"results/{profile}")
  except FileNotFoundError:
    return str(default)
  if default.is_dir() or shipped.resolve() == default.resolve():
    return str(default)
  copy = pathlib.Path(SHIPPED_COPY, profile)
  if not copy.is_dir():
    shutil.copytree(shipped, copy)
    logging.info("No %s here: copied the shipped results from %s to %s.", default, shipped,
                 copy)
  logging.info("Writing to %s (--output_dir to choose).", copy.resolve())
  return str(copy)


def check_path_models(runner) -> list:
  """The `ModelRef`s of the models given by path, each loaded and probed; exits with status
  2 and one line on stderr at the first that does not fit (nothing is written then)."""
  paths = [name for name in FLAGS.models if name not in registry.MODELS]
  if (FLAGS.input_key or FLAGS.output_key) and not paths:
    raise app.UsageError("--input_key and --output_key apply to models given by path; "
                         f"got only registry names {FLAGS.models}.")
  refs = []
  for path in paths:
    if not os.path.isdir(path):
      continue  # the driver's error lists the registry names
    try:
      refs.append(models_lib.check_path_model(path, runner.cache, runner.test.images[:2],
                                              FLAGS.input_key, FLAGS.output_key))
    except models_lib.ModelCheckError as error:
      print(f"abs_tf.evaluate: {error}", file=sys.stderr)
      sys.exit(2)
  return refs


# Flags besides the configuration's (driver.EvaluationConfig.flags) that a resumed run must
# repeat: where units run and how the models given by path are called.
RUN_FLAGS = ("executor", "worker_memory_mb", "ray_address", "ray_workers",
             "ray_cpus_per_worker", "input_key", "output_key")


def resume_command(config) -> list:
  """The command line that continues `config`'s run: every flag explicit."""
  run_flags = [FLAGS[name].serialize() for name in RUN_FLAGS
               if FLAGS[name].present or name == "executor"]
  return ["python", "-m", "abs_tf.evaluate"] + config.flags() + run_flags


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  runner = runner_lib.UnitRunner()
  model_refs = check_path_models(runner)
  try:
    config = driver.EvaluationConfig(
        models=tuple(FLAGS.models), attacks=None if FLAGS.attacks is None
        else tuple(FLAGS.attacks), profile=FLAGS.profile,
        output_dir=FLAGS.output_dir or default_output_dir(FLAGS.profile),
        first_index=FLAGS.first_index, num_samples=FLAGS.num_samples,
        chunk_size=FLAGS.chunk_size, recheck=FLAGS.recheck, figures=FLAGS.figures,
        set_aside_stale=FLAGS.set_aside_stale)
    if FLAGS.estimate_from:
      print_estimate(config, FLAGS.estimate_from, runner, model_refs)
      return
    used = [f"--{name}" for name in ("ray_address", "ray_workers", "ray_cpus_per_worker")
            if FLAGS[name].present]
    if used and FLAGS.executor != "ray":
      raise ValueError(f"{', '.join(used)} need --executor=ray.")
    if FLAGS["worker_memory_mb"].present and FLAGS.executor != "processes":
      raise ValueError("--worker_memory_mb needs --executor=processes.")
    options = {"local": {"runner": runner},
               "processes": {"worker_memory_mb": FLAGS.worker_memory_mb},
               "ray": {"address": FLAGS.ray_address, "num_workers": FLAGS.ray_workers,
                       "cpus_per_worker": FLAGS.ray_cpus_per_worker}}[FLAGS.executor]
    for source in FLAGS.merge_from:
      added = results.merge(source, results.ResultStore(config.output_dir))
      print(f"Merged {len(added)} rows from {source} into {config.output_dir}.")
    summary = driver.evaluate(config, EXECUTORS[FLAGS.executor](**options), runner,
                              model_refs, announce=lambda plan: print(plan, flush=True),
                              command=resume_command(config))
  except ValueError as error:  # bad flags, unknown names, budget mismatch: say what
    raise app.UsageError(str(error)) from error
  print(open(summary.outputs["table_md"]).read())
  for warning in summary.warnings:
    print("WARNING:", warning)


if __name__ == "__main__":
  app.run(main)
