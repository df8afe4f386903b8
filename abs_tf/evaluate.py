r"""Robustness evaluation: the paper's Table 1 and Figures 2 and 3, resumable.

  python -m abs_tf.evaluate --models=cnn,abs --profile=standard --output_dir=results/standard
  python -m abs_tf.evaluate --models=/path/to/my/saved_model --attacks=boundary,pointwise \
      --profile=smoke --num_samples=3 --output_dir=/tmp/mine

Writes to --output_dir: results.jsonl (one row per model, attack and test image; the state:
rerun the same command to resume), budgets.json, table.md, table.csv, figure2.png,
figure3.png, adversarials/ (for Figure 3) and summary.json. See abs_tf/evaluation/.

References:
  Schott et al., ICLR 2019, sections 4-6.
"""

from absl import app
from absl import flags

from abs_tf.evaluation import driver
from abs_tf.evaluation import executor as executor_lib
from abs_tf.evaluation import profiles

FLAGS = flags.FLAGS
flags.DEFINE_list("models", list(driver.PAPER_MODELS),
                  "Registry names or paths of SavedModels with this project's signature.")
flags.DEFINE_list("attacks", None, "Attack names (default: every attack that applies).")
flags.DEFINE_enum("profile", "standard", sorted(profiles.PROFILES), "Budgets and defaults.")
flags.DEFINE_integer("first_index", 0, "First MNIST test image.")
flags.DEFINE_integer("num_samples", None, "Test images (default: the profile's).")
flags.DEFINE_integer("chunk_size", None, "Images per work unit (default: the profile's).")
flags.DEFINE_string("output_dir", None, "Output directory (resumes what it holds).")
flags.DEFINE_integer("recheck", 1, "Finished chunks attacked again to check that results "
                     "reproduce.")
flags.DEFINE_bool("figures", True, "Render figure2.png and figure3.png.")
flags.DEFINE_enum("executor", "local", sorted(executor_lib.EXECUTORS), "Where units run.")
flags.mark_flag_as_required("output_dir")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  try:
    config = driver.EvaluationConfig(
        models=tuple(FLAGS.models), attacks=None if FLAGS.attacks is None
        else tuple(FLAGS.attacks), profile=FLAGS.profile, output_dir=FLAGS.output_dir,
        first_index=FLAGS.first_index, num_samples=FLAGS.num_samples,
        chunk_size=FLAGS.chunk_size, recheck=FLAGS.recheck, figures=FLAGS.figures)
    summary = driver.evaluate(config, executor_lib.EXECUTORS[FLAGS.executor]())
  except ValueError as error:  # bad flags, unknown names, budget mismatch: say what
    raise app.UsageError(str(error)) from error
  print(open(summary.outputs["table_md"]).read())
  for warning in summary.warnings:
    print("WARNING:", warning)


if __name__ == "__main__":
  app.run(main)
