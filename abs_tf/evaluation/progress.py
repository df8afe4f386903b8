"""Progress of a run: units done, and the remaining time estimated from measured seconds.

The estimate of a unit is its images times the seconds per image of its (model, attack)
measured so far (stored rows of earlier runs included); before any, of its attack on the
other models; before that, the mean over all measured images.
"""

import time
from typing import Dict, Sequence, Tuple

from absl import logging


def format_seconds(seconds: float) -> str:
  if seconds != seconds:  # nan
    return "?"
  seconds = int(round(seconds))
  hours, rest = divmod(seconds, 3600)
  return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def estimate(units: Sequence, timing_rows: Sequence) -> Dict[Tuple[str, str], float]:
  """Estimated seconds per (model, attack) of `units` (`plan.WorkUnit`s): their images times
  the seconds per image of `timing_rows` (result rows; `Progress.per_image`)."""
  tracker = Progress([], timing_rows)
  found: Dict[Tuple[str, str], float] = {}
  for unit in units:
    key = (unit.model.name, unit.attack)
    found[key] = found.get(key, 0.0) + tracker.per_image(*key) * (unit.stop - unit.start)
  return found


class Progress:
  """Logs one line per finished unit with the estimated time left."""

  def __init__(self, units: Sequence, stored_rows: Sequence = ()):
    self.remaining = {_key(u): u for u in units}
    self.total = len(units)
    self.done = 0
    self.start = time.perf_counter()
    self._seconds: Dict[Tuple[str, str], list] = {}
    for row in stored_rows:
      self._add(row.model, row.attack, row.seconds, 1)

  def _add(self, model, attack, seconds, images):
    entry = self._seconds.setdefault((model, attack), [0.0, 0])
    entry[0] += seconds
    entry[1] += images

  def per_image(self, model: str, attack: str) -> float:
    for matches in (lambda key: key == (model, attack), lambda key: key[1] == attack,
                    lambda key: True):
      measured = [value for key, value in self._seconds.items() if matches(key)]
      images = sum(n for _, n in measured)
      if images:
        return sum(s for s, _ in measured) / images
    return float("nan")

  def eta(self) -> float:
    return sum(self.per_image(u.model.name, u.attack) * (u.stop - u.start)
               for u in self.remaining.values())

  def update(self, result):
    """Records a finished unit (`runner.UnitResult`) and logs the line."""
    unit = result.unit
    self.remaining.pop(_key(unit), None)
    self.done += 1
    self._add(unit.model.name, unit.attack, result.seconds, unit.stop - unit.start)
    logging.info("[%d/%d] %s / %s images %d-%d: %.1f s; elapsed %s, left ~%s",
                 self.done, self.total, unit.model.name, unit.attack, unit.start,
                 unit.stop - 1, result.seconds,
                 format_seconds(time.perf_counter() - self.start), format_seconds(self.eta()))


def _key(unit):
  """Identifies a unit across processes (results may come back as copies)."""
  return (unit.model.name, unit.attack, unit.start)
