"""The evaluation's state: results.jsonl (append-only rows) and the stored adversarials.

`results.jsonl` holds one JSON object per line and per (model, attack, test_index): a `Row`.
It is the only state of a run. Rows are appended one work unit at a time, flushed and
fsynced, so a killed run loses at most the unit it was running; a last line cut short by
the kill is dropped (and cut from the file) when the store is opened again. Rows of one
(model, attack) must share one budget fingerprint: `check_fingerprints` refuses to add rows
of another budget, so results of different budgets never mix in one table. After a change of
budget, `set_aside` moves a (model, attack)'s rows of the old budget to results.stale.jsonl
(and its adversarials to adversarials.stale/), so that it is attacked again; nothing a run
computed is deleted.

`budgets.json` beside it maps each fingerprint to what it stands for (the model's fingerprint,
attack, budget, seed; a transfer attack's substitute and its fingerprint), for readers.
Adversarials kept for Figure 3 are .npy files under
`adversarials/<model>/<attack>/<test_index>.npy`, each written whole (temporary file, rename).

References:
  Croce & Hein, ICML 2020 (AutoAttack: evaluation state saved and resumed).
"""

import dataclasses
import json
import math
import os
import pathlib
import shutil
from typing import Dict, Iterable, List, Mapping, Optional, Set

from absl import logging
import numpy as np

RESULTS_FILE = "results.jsonl"
BUDGETS_FILE = "budgets.json"
ADVERSARIALS_DIR = "adversarials"
STALE_RESULTS_FILE = "results.stale.jsonl"
STALE_ADVERSARIALS_DIR = "adversarials.stale"


class BudgetMismatchError(ValueError):
  """Rows of another budget (or other weights) are already stored for a (model, attack)."""


@dataclasses.dataclass(frozen=True)
class Row:
  """The result of one attack on one test image.

  Attributes:
    model: registry name or SavedModel path.
    attack: attack name.
    metric: l0, l2 or linf.
    test_index: index in the MNIST test set.
    label: its true label.
    distance: minimal adversarial distance found; 0 if the clean image is misclassified,
      inf if the attack failed.
    queries: model queries spent on this image.
    seconds: wall time of the work unit divided by its number of images.
    profile: the profile's name.
    fingerprint: the budget fingerprint (see budgets.json).
    batch: [start, stop), the test indices attacked together (results depend on the batch
      through the attacks' shared random generator).
  """
  model: str
  attack: str
  metric: str
  test_index: int
  label: int
  distance: float
  queries: int
  seconds: float
  profile: str
  fingerprint: str
  batch: tuple

  @property
  def key(self):
    return (self.model, self.attack, self.test_index)

  @property
  def outcome(self) -> tuple:
    """What the same unit run again must reproduce: (distance, queries, label, fingerprint,
    batch), the row without its timing."""
    return (self.distance, self.queries, self.label, self.fingerprint, self.batch)

  def to_json(self) -> str:
    values = dataclasses.asdict(self)
    values["distance"] = "inf" if math.isinf(self.distance) else self.distance
    values["batch"] = list(self.batch)
    return json.dumps(values)

  @classmethod
  def from_json(cls, line: str) -> "Row":
    values = json.loads(line)
    values["distance"] = float(values["distance"])
    values["batch"] = tuple(values["batch"])
    return cls(**values)


class ResultStore:
  """results.jsonl and budgets.json in one output directory."""

  def __init__(self, output_dir):
    self.dir = pathlib.Path(output_dir)
    self.path = self.dir / RESULTS_FILE
    self.budgets_path = self.dir / BUDGETS_FILE
    self.dir.mkdir(parents=True, exist_ok=True)
    self.rows: Dict[tuple, Row] = {}
    self._load()

  def _load(self):
    if not self.path.exists():
      return
    data = self.path.read_bytes()
    lines = data.split(b"\n")
    complete, tail = lines[:-1], lines[-1]  # tail is b"" when the file ends with "\n"
    if tail:
      logging.warning("%s: dropping an incomplete last line (%d bytes), left by a killed "
                      "run; its unit runs again.", self.path, len(tail))
      with open(self.path, "r+b") as f:
        f.truncate(len(data) - len(tail))
        f.flush()
        os.fsync(f.fileno())
    for number, line in enumerate(complete, 1):
      if not line.strip():
        continue
      try:
        row = Row.from_json(line.decode())
      except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"{self.path}:{number} is not a result row ({error}); the file "
                         "is damaged beyond a cut-off last line.") from error
      if row.key in self.rows:
        logging.warning("%s:%d repeats %s; keeping the first.", self.path, number, row.key)
        continue
      self.rows[row.key] = row

  @property
  def done(self) -> Set[tuple]:
    return set(self.rows)

  def fingerprints(self) -> Dict[tuple, Set[str]]:
    """(model, attack) -> the budget fingerprints of its stored rows."""
    found: Dict[tuple, Set[str]] = {}
    for row in self.rows.values():
      found.setdefault((row.model, row.attack), set()).add(row.fingerprint)
    return found

  def stale_pairs(self, planned: Mapping[tuple, str]) -> List[tuple]:
    """The (model, attack) pairs of `planned` (pair -> this run's fingerprint) whose stored
    rows carry another fingerprint, sorted."""
    return sorted(pair for pair, fingerprints in self.fingerprints().items()
                  if pair in planned and fingerprints != {planned[pair]})

  def check_fingerprints(self, planned: Mapping[tuple, str], descriptions: Mapping[str, dict]):
    """Refuses a run whose budgets differ from those of the stored rows.

    Args:
      planned: (model, attack) -> the fingerprint this run would write.
      descriptions: fingerprint -> what it stands for (written to budgets.json).

    Raises:
      BudgetMismatchError: listing every (model, attack) whose stored rows have another
        fingerprint, with both descriptions.
    """
    stored, found = self.budgets(), self.fingerprints()
    conflicts = []
    for pair in self.stale_pairs(planned):
      old = sorted(found[pair] - {planned[pair]})
      conflicts.append(f"  {pair[0]} / {pair[1]}: stored {old} "
                       f"({[stored.get(f, '?') for f in old]}), this run "
                       f"{planned[pair]} ({descriptions.get(planned[pair])})")
    if conflicts:
      raise BudgetMismatchError(
          f"{self.path} holds results of other budgets (or other model weights) than this "
          "run's, and results of different budgets must not mix:\n" + "\n".join(conflicts)
          + "\nRerun with the profile and settings of the stored rows, write to another "
          f"--output_dir, or pass --set_aside_stale to move these rows to {STALE_RESULTS_FILE} "
          "and attack them again.")
    self.add_budgets(descriptions)

  def set_aside(self, pairs: Iterable[tuple]) -> List[Row]:
    """Moves every stored row of the (model, attack) `pairs` to results.stale.jsonl.

    The rows are appended there (and fsynced) before results.jsonl is rewritten without them
    (atomically), so an interruption loses none: at worst a row is in both files, and a
    second call moves it again.

    Returns:
      The rows moved.
    """
    pairs = set(pairs)
    moved = [row for row in self.rows.values() if (row.model, row.attack) in pairs]
    if not moved:
      return []
    with open(self.dir / STALE_RESULTS_FILE, "a", encoding="utf-8") as f:
      f.write("".join(row.to_json() + "\n" for row in moved))
      f.flush()
      os.fsync(f.fileno())
    for row in moved:
      del self.rows[row.key]
    write_atomic(self.path, "".join(row.to_json() + "\n" for row in self.rows.values())
                 .encode())
    return moved

  def add_budgets(self, descriptions: Mapping[str, dict]):
    """Adds fingerprint -> description entries to budgets.json (written only if new)."""
    stored = self.budgets()
    merged = {**stored, **descriptions}
    if merged != stored:
      self.write_budgets(merged)

  def write_budgets(self, descriptions: Mapping[str, dict]):
    """Replaces budgets.json by `descriptions` (fingerprint -> description), atomically."""
    write_atomic(self.budgets_path, json.dumps(descriptions, indent=1, sort_keys=True).encode())

  def budgets(self) -> Dict[str, dict]:
    if not self.budgets_path.exists():
      return {}
    return json.loads(self.budgets_path.read_text())

  def append(self, rows: Iterable[Row]) -> List[Row]:
    """Appends the rows not stored yet, then flushes and fsyncs; returns those written."""
    new = [row for row in rows if row.key not in self.rows]
    if not new:
      return []
    with open(self.path, "a", encoding="utf-8") as f:
      f.write("".join(row.to_json() + "\n" for row in new))
      f.flush()
      os.fsync(f.fileno())
    for row in new:
      self.rows[row.key] = row
    return new


def outcomes(output_dir) -> Dict[tuple, tuple]:
  """`Row.outcome` of every stored row of `output_dir`, by `Row.key` (e.g. to compare two
  runs)."""
  return {row.key: row.outcome for row in ResultStore(output_dir).rows.values()}


def merge(source_dir, target: ResultStore) -> List[Row]:
  """Adds another output directory's rows, budgets and adversarials to `target`.

  For runs split across machines or processes (e.g. by --models or --first_index) into
  separate directories. Rows already in `target` are kept; a (model, attack) whose rows carry
  another budget fingerprint in the two directories is refused, as in `check_fingerprints`.

  Args:
    source_dir: an output directory holding results.jsonl.
    target: the store to merge into.

  Returns:
    The rows added to `target`.

  Raises:
    ValueError: `source_dir` holds no results.jsonl.
    BudgetMismatchError: the directories hold rows of other budgets for a (model, attack).
  """
  source_dir = pathlib.Path(source_dir)
  if not (source_dir / RESULTS_FILE).is_file():
    raise ValueError(f"Expected an evaluation output directory with {RESULTS_FILE} to merge "
                     f"from, got {source_dir}.")
  source = ResultStore(source_dir)
  here = target.fingerprints()
  conflicts = [f"  {model} / {attack}: {sorted(here[(model, attack)])} in {target.dir}, "
               f"{sorted(fingerprints)} in {source_dir}"
               for (model, attack), fingerprints in sorted(source.fingerprints().items())
               if (model, attack) in here and here[(model, attack)] != fingerprints]
  if conflicts:
    raise BudgetMismatchError("Results of different budgets must not mix; not merging:\n"
                              + "\n".join(conflicts))
  target.add_budgets(source.budgets())
  added = target.append(source.rows.values())
  theirs, ours = AdversarialStore(source_dir), AdversarialStore(target.dir)
  for key in theirs.keys():
    if ours.load(*key) is None:
      ours.save(*key, theirs.load(*key))
  return added


class AdversarialStore:
  """Adversarials kept for Figure 3: adversarials/<model>/<attack>/<test_index>.npy."""

  def __init__(self, output_dir):
    self.dir = pathlib.Path(output_dir) / ADVERSARIALS_DIR

  def path(self, model_slug: str, attack: str, test_index: int) -> pathlib.Path:
    return self.dir / model_slug / attack / f"{test_index}.npy"

  def save(self, model_slug: str, attack: str, test_index: int, image: np.ndarray):
    """Writes one adversarial, float32 [28, 28, 1], whole or not at all."""
    path = self.path(model_slug, attack, test_index)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, np.asarray(image, np.float32))
    os.replace(tmp, path)

  def load(self, model_slug: str, attack: str, test_index: int) -> Optional[np.ndarray]:
    path = self.path(model_slug, attack, test_index)
    return np.load(path) if path.exists() else None

  def set_aside(self, model_slug: str, attack: str):
    """Moves the adversarials of (model, attack) to adversarials.stale/<model>/<attack>/,
    replacing what an earlier call moved there (see `ResultStore.set_aside`)."""
    source = self.dir / model_slug / attack
    if not source.is_dir():
      return
    target = self.dir.parent / STALE_ADVERSARIALS_DIR / model_slug / attack
    if target.exists():
      shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)

  def keys(self) -> List[tuple]:
    """(model_slug, attack, test_index) of every stored adversarial (not the temporaries)."""
    found = []
    for path in sorted(self.dir.glob("*/*/*.npy")):
      if path.stem.isdigit():
        found.append((path.parent.parent.name, path.parent.name, int(path.stem)))
    return found


def write_atomic(path: pathlib.Path, data: bytes):
  """Replaces `path` by `data` whole or not at all (temporary file, fsync, rename)."""
  tmp = path.with_name(path.name + ".tmp")
  with open(tmp, "wb") as f:
    f.write(data)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)
