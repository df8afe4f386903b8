"""scripts/migrate_fingerprints.py on a small output directory in the pre-Issue-17 form: only
the fingerprints change, to the planner's; rows of another export are refused; a second run
changes nothing."""

import json

import pytest

from abs_tf import registry
from abs_tf.evaluation import models as models_lib
from abs_tf.evaluation import plan
from abs_tf.evaluation import profiles
from abs_tf.evaluation import results
from abs_tf.export import fingerprint
from scripts import migrate_fingerprints

ATTACKS = ("boundary", "transfer_l2")


def _old_state(directory, model_fingerprint):
  """Two rows of each of ATTACKS on the CNN, written as before Issue 17; their lines."""
  budgets, lines = {}, []
  for attack in ATTACKS:
    description = {"model": "cnn", "model_fingerprint": model_fingerprint, "attack": attack,
                   "budget": profiles.SMOKE.budget(attack), "seed": profiles.SMOKE.seed}
    old = profiles.fingerprint(description)
    budgets[old] = dict(description, profile="smoke")
    lines += [results.Row("cnn", attack, "l2", i, 7, 1.5 + i, 10, 0.25, "smoke", old,
                          (0, 2)).to_json() for i in range(2)]
  (directory / results.RESULTS_FILE).write_text("".join(line + "\n" for line in lines))
  (directory / results.BUDGETS_FILE).write_text(json.dumps(budgets, indent=1, sort_keys=True))
  return lines


def test_only_the_fingerprints_change_to_the_planners(tmp_path):
  shipped = fingerprint.serialized_fingerprint(registry.saved_model_path("cnn"))
  old_lines = _old_state(tmp_path, shipped)
  before, migration = migrate_fingerprints.prepare(tmp_path)
  assert before == old_lines
  migrate_fingerprints.write(tmp_path, old_lines, migration)

  ref = models_lib.describe("cnn", models_lib.ModelCache())
  expected = {attack: plan.budget_entry(ref, attack, profiles.SMOKE) for attack in ATTACKS}
  store = results.ResultStore(tmp_path)
  assert store.budgets() == dict(expected.values())
  assert "substitute_fingerprint" in expected["transfer_l2"][1]
  lines = (tmp_path / results.RESULTS_FILE).read_text().splitlines()
  for old, new in zip(old_lines, lines, strict=True):
    row = results.Row.from_json(old)
    assert new == old.replace(row.fingerprint, expected[row.attack][0])

  again = migrate_fingerprints.prepare(tmp_path)[1]
  assert again.lines == lines and again.budgets == store.budgets()
  assert all(old == new for old, new in again.renamed.items())


def test_rows_of_another_export_are_refused(tmp_path):
  _old_state(tmp_path, "000000000000")
  with pytest.raises(migrate_fingerprints.MigrationError, match="cnn: .* run them again"):
    migrate_fingerprints.prepare(tmp_path)
