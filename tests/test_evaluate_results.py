"""results.jsonl: append-only, fsynced, tolerant of a last line cut by a kill, never
duplicating rows, and refusing rows of another budget."""

import json
import math

import pytest

from abs_tf.evaluation import results


def _row(index, attack="boundary", distance=1.0, fingerprint="aaa"):
  return results.Row("cnn", attack, "l2", index, 7, distance, 10, 0.5, "smoke", fingerprint,
                     (0, 3))


def test_rows_round_trip_with_infinity(tmp_path):
  store = results.ResultStore(tmp_path)
  written = store.append([_row(0), _row(1, distance=math.inf), _row(2, distance=0.0)])
  assert len(written) == 3
  again = results.ResultStore(tmp_path)
  assert again.rows == store.rows
  assert again.rows[("cnn", "boundary", 1)].distance == math.inf
  line = (tmp_path / results.RESULTS_FILE).read_text().splitlines()[1]
  assert json.loads(line)["distance"] == "inf"  # JSON has no infinity


def test_append_never_duplicates(tmp_path):
  store = results.ResultStore(tmp_path)
  store.append([_row(0), _row(1)])
  assert [r.test_index for r in store.append([_row(1), _row(2)])] == [2]
  assert len((tmp_path / results.RESULTS_FILE).read_text().splitlines()) == 3


def test_truncated_last_line_is_dropped_and_cut(tmp_path):
  store = results.ResultStore(tmp_path)
  store.append([_row(0), _row(1)])
  path = tmp_path / results.RESULTS_FILE
  text = path.read_text()
  path.write_text(text + _row(2).to_json()[:25])  # a kill in the middle of a write
  reopened = results.ResultStore(tmp_path)
  assert sorted(reopened.done) == [("cnn", "boundary", 0), ("cnn", "boundary", 1)]
  assert path.read_text() == text  # the partial line is gone, so appends stay valid
  reopened.append([_row(2)])
  assert len(results.ResultStore(tmp_path).rows) == 3


def test_damage_before_the_last_line_is_an_error(tmp_path):
  path = tmp_path / results.RESULTS_FILE
  path.write_text(_row(0).to_json() + "\n{not json\n" + _row(1).to_json() + "\n")
  with pytest.raises(ValueError, match=":2 is not a result row"):
    results.ResultStore(tmp_path)


def test_other_budgets_are_refused(tmp_path):
  store = results.ResultStore(tmp_path)
  store.check_fingerprints({("cnn", "boundary"): "aaa"}, {"aaa": {"budget": {"steps": 20}}})
  store.append([_row(0)])
  store.check_fingerprints({("cnn", "boundary"): "aaa", ("cnn", "fgm"): "ccc"},
                           {"aaa": {"budget": {"steps": 20}}, "ccc": {"budget": {}}})
  with pytest.raises(results.BudgetMismatchError,
                     match=r"cnn / boundary: stored \['aaa'\].*steps.*20.*this run bbb") as error:
    store.check_fingerprints({("cnn", "boundary"): "bbb"},
                             {"bbb": {"budget": {"steps": 1000}}})
  assert "--set_aside_stale" in str(error.value)
  assert set(store.budgets()) == {"aaa", "ccc"}


def test_rows_of_a_pair_are_set_aside_not_deleted(tmp_path):
  store = results.ResultStore(tmp_path)
  store.append([_row(0), _row(1), _row(0, "fgm")])
  assert store.stale_pairs({("cnn", "boundary"): "bbb", ("cnn", "fgm"): "aaa",
                            ("cnn", "pointwise"): "ccc"}) == [("cnn", "boundary")]
  assert store.set_aside([("cnn", "boundary")]) == [_row(0), _row(1)]
  assert set(results.ResultStore(tmp_path).rows) == {("cnn", "fgm", 0)}
  store.append([_row(0)])
  store.set_aside([("cnn", "boundary")])  # a second time: appended to the stale rows
  stale = (tmp_path / results.STALE_RESULTS_FILE).read_text().splitlines()
  assert [results.Row.from_json(line) for line in stale] == [_row(0), _row(1), _row(0)]
  assert store.set_aside([("cnn", "pointwise")]) == []


def test_adversarials_are_stored_whole(tmp_path):
  import numpy as np
  adversarials = results.AdversarialStore(tmp_path)
  image = np.full((28, 28, 1), 0.25, np.float32)
  adversarials.save("cnn", "boundary", 7, image)
  np.testing.assert_array_equal(adversarials.load("cnn", "boundary", 7), image)
  assert adversarials.load("cnn", "boundary", 8) is None
  assert not list(tmp_path.rglob("*.tmp*"))


def test_merge_adds_rows_budgets_and_adversarials(tmp_path):
  import numpy as np
  shard = results.ResultStore(tmp_path / "shard")
  shard.check_fingerprints({("cnn", "boundary"): "aaa"}, {"aaa": {"budget": {"steps": 20}}})
  shard.append([_row(0), _row(1, distance=2.0)])
  results.AdversarialStore(shard.dir).save("cnn", "boundary", 1, np.zeros((28, 28, 1)))
  target = results.ResultStore(tmp_path / "main")
  target.append([_row(1, distance=5.0)])  # stored first: kept
  added = results.merge(shard.dir, target)
  assert [r.test_index for r in added] == [0]
  reopened = results.ResultStore(target.dir)
  assert reopened.rows[("cnn", "boundary", 1)].distance == 5.0
  assert set(reopened.rows) == {("cnn", "boundary", 0), ("cnn", "boundary", 1)}
  assert reopened.budgets() == {"aaa": {"budget": {"steps": 20}}}
  assert results.AdversarialStore(target.dir).load("cnn", "boundary", 1) is not None
  assert results.merge(shard.dir, target) == []  # idempotent


def test_merge_refuses_other_budgets_and_missing_directories(tmp_path):
  shard = results.ResultStore(tmp_path / "shard")
  shard.append([_row(0, fingerprint="bbb")])
  target = results.ResultStore(tmp_path / "main")
  target.append([_row(1)])
  with pytest.raises(results.BudgetMismatchError, match=r"cnn / boundary: \['aaa'\]"):
    results.merge(shard.dir, target)
  assert set(results.ResultStore(target.dir).rows) == {("cnn", "boundary", 1)}
  with pytest.raises(ValueError, match="results.jsonl to merge from"):
    results.merge(tmp_path / "nowhere", target)


def test_progress_estimates_from_the_closest_measurement():
  from abs_tf.evaluation import progress
  stored = [_row(0, "boundary"), _row(1, "boundary"), _row(0, "fgm")]  # 0.5 s per image
  stored[2] = results.Row("cnn", "fgm", "l2", 0, 7, 1.0, 10, 2.0, "smoke", "f", (0, 1))
  tracker = progress.Progress([], stored)
  assert tracker.per_image("cnn", "boundary") == 0.5
  assert tracker.per_image("madry", "fgm") == 2.0  # same attack, another model
  assert tracker.per_image("madry", "mim") == 1.0  # everything: 3 s over 3 images
  assert progress.format_seconds(3725) == "1h02m" and progress.format_seconds(75) == "1m15s"
