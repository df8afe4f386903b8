r"""Re-attacks the cheapest stored chunk of every (model, attack) of a results directory.

  python scripts/recheck_shipped_chunks.py --output_dir=results/standard --estimate
  python scripts/recheck_shipped_chunks.py --output_dir=results/standard \
      --models=cnn,binary_cnn,nearest_neighbor,madry

Fingerprints cover the models and the budgets, not the code: after a refactoring, this
checks that the code still computes the stored results. For each (model, attack) it plans
with the current code (whose budget fingerprints must be the stored ones), attacks the
stored chunk that took the least time again and prints one of: "reproduced" (every
distance bit for bit), "within tolerance" (not bit for bit, but within the evaluation's
recheck tolerance, `sanity.compare_rerun`), "DIFFERS" (beyond it, or a row's outcome
changed), with the largest relative difference of a distance. --estimate prints the stored
seconds of those chunks instead. Nothing is written to the results directory. The exit
status is 1 if a chunk DIFFERS.
"""

import math
import sys

from absl import app
from absl import flags

from abs_tf.evaluation import driver
from abs_tf.evaluation import profiles
from abs_tf.evaluation import progress
from abs_tf.evaluation import runner as runner_lib
from abs_tf.evaluation import sanity

FLAGS = flags.FLAGS
flags.DEFINE_string("output_dir", "results/standard", "The results directory to recheck.")
flags.DEFINE_enum("profile", "standard", sorted(profiles.PROFILES), "Its profile.")
flags.DEFINE_list("models", None, "Models to recheck (default: all of the directory's).")
flags.DEFINE_list("attacks", None, "Attacks to recheck (default: all).")
flags.DEFINE_bool("estimate", False, "Print the chunks' stored seconds; attack nothing.")


def main(argv):
  del argv
  store_rows = driver.results.ResultStore(FLAGS.output_dir).rows.values()
  models = FLAGS.models or list(dict.fromkeys(row.model for row in store_rows))
  config = driver.EvaluationConfig(models=tuple(models), attacks=FLAGS.attacks,
                                   profile=FLAGS.profile, output_dir=FLAGS.output_dir)
  runner = runner_lib.UnitRunner()
  run = driver.prepare(config, runner)  # raises if a budget fingerprint changed
  rows = list(run.store.rows.values())
  chunks = [chunk for pair in sorted(run.planned)
            for chunk in sanity.cheapest_batches(rows, 1, {pair})]
  if FLAGS.estimate:
    total = 0.0
    for model, attack, batch in chunks:
      seconds = sum(run.store.rows[(model, attack, i)].seconds for i in range(*batch)
                    if (model, attack, i) in run.store.rows)
      total += seconds
      print(f"{model:>18s} {attack:>18s} {batch[0]:>3d}-{batch[1] - 1:<3d} "
            f"{progress.format_seconds(seconds):>8s}")
    print(f"{'total':>41s} {progress.format_seconds(total):>8s}")
    return 0
  failed = reproduced = 0
  profile = profiles.get_profile(FLAGS.profile)
  for chunk in chunks:  # one at a time, so that each line is printed as it is known
    [found] = driver.recheck_chunks(run.store, run.refs, run.planned, profile, runner,
                                    [chunk])
    again = {row.key: row.distance for row in found.rerun}
    equal = all(again.get(row.key) == row.distance for row in found.stored)
    status = ("DIFFERS" if found.differences
              else "reproduced" if equal else "within tolerance")
    failed += status == "DIFFERS"
    reproduced += status == "reproduced"
    print(f"{found.model:>18s} {found.attack:>18s} {found.start:>3d}-{found.stop - 1:<3d} "
          f"{status} ({len(found.stored)} rows, largest relative difference "
          f"{_largest_relative_difference(found.stored, again):.2g})", flush=True)
    for difference in found.differences:
      print("   ", difference)
  print(f"{reproduced} of {len(chunks)} chunks reproduced, "
        f"{len(chunks) - reproduced - failed} within tolerance, {failed} differ.")
  return 1 if failed else 0


def _largest_relative_difference(stored, again) -> float:
  """max `sanity.relative_difference` over the rows whose distances are both finite (0 if
  none)."""
  differences = (sanity.relative_difference(row.distance, again[row.key])
                 for row in stored if row.key in again)
  return max((d for d in differences if math.isfinite(d)), default=0.0)


if __name__ == "__main__":
  app.run(lambda argv: sys.exit(main(argv)))
