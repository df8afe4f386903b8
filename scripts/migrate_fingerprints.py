r"""Issue 17, once: moves stored results to the budget fingerprints the planner now computes.

Before Issue 17 a row's budget fingerprint named its model by a hash of the SavedModel's
fingerprint.pb (`fingerprint.serialized_fingerprint`), which any re-export changes, and a
transfer row did not name its substitute model. The planner now uses the fingerprint of what
determines the model's outputs (`fingerprint.model_fingerprint`) and adds the substitute's
(`plan.budget_description`). For each description of budgets.json this script builds the one
the planner now builds (`plan.budget_entry`, the planner's own code) and rewrites only the
fingerprints: the `fingerprint` field of each results.jsonl row, the keys and descriptions of
budgets.json. Adversarials are stored by model and attack (`results.AdversarialStore`), not by
fingerprint: the script checks that none is named by one, and leaves them.

  python scripts/migrate_fingerprints.py --check   # verify and print the changes, write nothing
  python scripts/migrate_fingerprints.py --results_dir=results/standard

Refuses, writing nothing, when a description's model fingerprint is not the fingerprint.pb
hash of today's SavedModel of that model (the rows were made with another export: run them
again), when its budget or seed is not what its profile now gives, or when a row's
fingerprint is not in budgets.json. Before writing it checks that the rows are the same rows
with only their fingerprint changed: same number, the same (model, attack, test_index,
distance, queries) in the same order, every new fingerprint in the new budgets.json; after
writing, that the files read back to them. Rows and descriptions already migrated are kept,
so a second run changes nothing.

The substitute's fingerprint cannot be checked against the transfer rows (they never recorded
it): the rows are attributed to today's shipped substitute.
"""

import collections
import dataclasses
import os
import pathlib
import sys
from typing import List, Mapping, Tuple

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from abs_tf.evaluation import models as models_lib  # pylint: disable=g-import-not-at-top
from abs_tf.evaluation import plan  # pylint: disable=g-import-not-at-top
from abs_tf.evaluation import profiles  # pylint: disable=g-import-not-at-top
from abs_tf.evaluation import results  # pylint: disable=g-import-not-at-top
from abs_tf.export import fingerprint  # pylint: disable=g-import-not-at-top

FLAGS = flags.FLAGS
flags.DEFINE_string("results_dir", "results/standard",
                    "An evaluation output directory (results.jsonl, budgets.json).")
flags.DEFINE_bool("check", False, "Verify and print the migration; write nothing.")


class MigrationError(ValueError):
  """The stored results cannot be migrated as they are."""


@dataclasses.dataclass(frozen=True)
class Migration:
  """The new fingerprints of one output directory.

  Attributes:
    renamed: old budget fingerprint -> new one (new ones map to themselves).
    budgets: the new budgets.json, fingerprint -> description.
    lines: the new results.jsonl lines, without their line ends.
    models: model name -> (old model fingerprint, new model fingerprint).
  """
  renamed: Mapping[str, str]
  budgets: Mapping[str, dict]
  lines: List[str]
  models: Mapping[str, Tuple[str, str]]


def migrate_budgets(budgets: Mapping[str, dict], cache: models_lib.ModelCache):
  """(renamed, new budgets, model fingerprints) for the descriptions of budgets.json."""
  renamed, migrated, models = {}, {}, {}
  for old, description in sorted(budgets.items()):
    name, attack = description["model"], description["attack"]
    if profiles.fingerprint({k: v for k, v in description.items() if k != "profile"}) != old:
      raise MigrationError(f"budgets.json: {old} is not the fingerprint of its description "
                           f"{description}.")
    new, entry = plan.budget_entry(models_lib.describe(name, cache), attack,
                                   profiles.get_profile(description["profile"]))
    if new != old:  # not migrated yet: the old fingerprint must be of today's SavedModel
      shipped = fingerprint.serialized_fingerprint(models_lib.saved_model_dir(name))
      if description["model_fingerprint"] != shipped:
        raise MigrationError(
            f"{name}: the rows of {attack} were made with the SavedModel whose fingerprint.pb "
            f"hashes to {description['model_fingerprint']}, today's hashes to {shipped}; "
            "they cannot be attributed to today's model: run them again.")
      changed = sorted(k for k in description if k != "model_fingerprint"
                       and description[k] != entry.get(k))
      if changed:
        raise MigrationError(f"{name} / {attack}: {changed} of {old} ({description}) differ "
                             f"from what the planner now gives ({entry}).")
    models[name] = (description["model_fingerprint"], entry["model_fingerprint"])
    renamed[old] = new
    migrated[new] = entry
  if len(migrated) != len(budgets):
    raise MigrationError("Two descriptions of budgets.json map to one new fingerprint.")
  return {**{new: new for new in migrated}, **renamed}, migrated, models


def migrate_lines(lines: List[str], renamed: Mapping[str, str]) -> List[str]:
  """The rows of results.jsonl with their fingerprint field renamed, byte for byte else."""
  migrated = []
  for number, line in enumerate(lines, 1):
    row = results.Row.from_json(line)
    if row.fingerprint not in renamed:
      raise MigrationError(f"results.jsonl:{number}: fingerprint {row.fingerprint} is not in "
                           "budgets.json.")
    field = f'"fingerprint": "{row.fingerprint}"'
    if line.count(field) != 1:
      raise MigrationError(f"results.jsonl:{number}: expected one {field}, got {line}.")
    migrated.append(line.replace(field, f'"fingerprint": "{renamed[row.fingerprint]}"'))
  return migrated


def verify(old_lines: List[str], migration: Migration):
  """Checks that only the fingerprints changed and every new one is in the new budgets."""
  old = [results.Row.from_json(line) for line in old_lines]
  new = [results.Row.from_json(line) for line in migration.lines]
  if len(old) != len(new):
    raise MigrationError(f"{len(old)} rows became {len(new)}.")
  for number, (before, after) in enumerate(zip(old, new), 1):
    key = (before.model, before.attack, before.test_index, before.distance, before.queries)
    if (key != (after.model, after.attack, after.test_index, after.distance, after.queries)
        or dataclasses.replace(before, fingerprint=after.fingerprint) != after
        or migration.renamed[before.fingerprint] != after.fingerprint):
      raise MigrationError(f"results.jsonl:{number}: {before} became {after}.")
  unknown = sorted({row.fingerprint for row in new} - set(migration.budgets))
  if unknown:
    raise MigrationError(f"Rows of fingerprints {unknown} are not in the new budgets.json.")


def check_adversarials(results_dir: pathlib.Path, fingerprints):
  """Refuses adversarials whose path names a budget fingerprint (the store names them by
  model and attack; one named otherwise would need renaming too)."""
  store = results.AdversarialStore(results_dir)
  named = [path for path in store.dir.rglob("*")
           if any(f in part for part in path.relative_to(store.dir).parts for f in fingerprints)]
  if named:
    raise MigrationError(f"Adversarials named by a fingerprint: {named[:5]}.")


def read_lines(results_dir: pathlib.Path) -> List[str]:
  """The rows of results.jsonl as they are stored, without line ends."""
  path = results_dir / results.RESULTS_FILE
  text = path.read_text()
  if text and not text.endswith("\n"):
    raise MigrationError(f"{path} ends with a cut-off line; open it with results.ResultStore "
                         "(which drops it) first.")
  return [line for line in text.split("\n") if line.strip()]


def prepare(results_dir: pathlib.Path) -> Tuple[List[str], Migration]:
  """(the current results.jsonl lines, their migration), verified; nothing is written."""
  old_lines = read_lines(results_dir)
  budgets = results.ResultStore(results_dir).budgets()  # read_lines refused a cut-off line
  renamed, migrated, models = migrate_budgets(budgets, models_lib.ModelCache())
  migration = Migration(renamed, migrated, migrate_lines(old_lines, renamed), models)
  verify(old_lines, migration)
  check_adversarials(results_dir, set(renamed))
  return old_lines, migration


def write(results_dir: pathlib.Path, old_lines: List[str], migration: Migration):
  """Writes the migrated files (each atomically: rows first, then budgets), and verifies
  them as read back."""
  store = results.ResultStore(results_dir)
  results.write_atomic(store.path, "".join(line + "\n" for line in migration.lines).encode())
  store.write_budgets(migration.budgets)
  verify(old_lines, dataclasses.replace(migration, lines=read_lines(results_dir),
                                        budgets=store.budgets()))
  if len(results.ResultStore(results_dir).rows) != len(old_lines):
    raise MigrationError(f"{store.path} does not read back to {len(old_lines)} rows.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  results_dir = pathlib.Path(FLAGS.results_dir)
  if not (results_dir / results.RESULTS_FILE).is_file():
    raise app.UsageError(f"{results_dir} holds no {results.RESULTS_FILE}.")
  old_lines, migration = prepare(results_dir)
  moved = collections.Counter(results.Row.from_json(new).model
                              for old, new in zip(old_lines, migration.lines) if old != new)
  changed = sum(moved.values())
  for name, (old, new) in sorted(migration.models.items()):
    print(f"{name}: model fingerprint {old} -> {new}, {moved[name]} rows")
  renamed = {old: new for old, new in migration.renamed.items() if old != new}
  print(f"{len(renamed)} of {len(migration.budgets)} budget fingerprints renamed; {changed} of "
        f"{len(old_lines)} rows rewritten; adversarials are not named by fingerprint.")
  if FLAGS.check:
    print("--check: nothing written.")
    return
  if changed or renamed:
    write(results_dir, old_lines, migration)
    print(f"Wrote {results_dir / results.RESULTS_FILE} and {results_dir / results.BUDGETS_FILE}.")


if __name__ == "__main__":
  app.run(main)
