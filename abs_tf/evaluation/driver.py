"""One evaluation run: plan, run the missing units, store rows, render the table and figures.

  config = driver.EvaluationConfig(models=("cnn", "abs"), profile="standard",
                                   output_dir="results/standard")
  summary = driver.evaluate(config, executor.ProcessExecutor())

The run is resumable: the rows already in `output_dir/results.jsonl` are skipped, a chunk
cut short by a kill is attacked again whole and only its missing rows are written, and rows
of other budgets are refused (`results.BudgetMismatchError`). Given the command line that
started it, a run writes it to `output_dir/RESUME.md` before its first unit: the command that
continues it. Table, figures and D+ against the paper's Figure 2 (`paper_curves`,
distributions.md) are rendered from all stored rows.

Units run in this process by default (`executor.LocalExecutor`); a long run passes
`executor.ProcessExecutor()`, as the command line does, so that its memory stays bounded.

References:
  Schott et al., ICLR 2019, sections 4-6, Table 1, Figures 2 and 3.
"""

import dataclasses
import json
import os
import pathlib
import shlex
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from absl import logging

from abs_tf.evaluation import executor as executor_lib
from abs_tf.evaluation import figures
from abs_tf.evaluation import models as models_lib
from abs_tf.evaluation import paper_curves
from abs_tf.evaluation import plan
from abs_tf.evaluation import plan_report
from abs_tf.evaluation import profiles
from abs_tf.evaluation import progress as progress_lib
from abs_tf.evaluation import results
from abs_tf.evaluation import runner as runner_lib
from abs_tf.evaluation import sanity
from abs_tf.evaluation import table as table_lib

NUM_TEST_IMAGES = 10_000
DEFAULT_MODELS = plan.default_models()
GRADIENT_CHECK_IMAGES = 4
# D+ against the paper's Figure 2, per model and metric (paper_curves.to_markdown).
DISTRIBUTIONS_FILE = "distributions.md"


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
  """Settings of a run (what `python -m abs_tf.evaluate` parses its flags into).

  Attributes:
    models: registry names or SavedModel paths.
    attacks: attack names, or None for every attack that applies to each model.
    profile: smoke, standard or paper.
    output_dir: where results.jsonl, tables and figures go.
    first_index: first MNIST test image.
    num_samples: number of test images; None for the profile's.
    chunk_size: images per work unit; None for the profile's.
    recheck: finished chunks attacked again at the end to check reproducibility.
    figures: render figure2.png and figure3.png.
    set_aside_stale: stored rows of a (model, attack) that this run plans with another
      budget fingerprint (e.g. after a profile's budget changed) are moved to
      results.stale.jsonl and the pair is attacked again, instead of refusing the run.
  """
  models: Sequence[str] = DEFAULT_MODELS
  attacks: Optional[Sequence[str]] = None
  profile: str = "standard"
  output_dir: str = "results/standard"
  first_index: int = 0
  num_samples: Optional[int] = None
  chunk_size: Optional[int] = None
  recheck: int = 1
  figures: bool = True
  set_aside_stale: bool = False

  def __post_init__(self):
    profiles.get_profile(self.profile)  # raises for unknown profiles
    if not self.models:
      raise ValueError("models must name at least one model.")
    if len(set(self.models)) != len(self.models):
      raise ValueError(f"models must not repeat, got {list(self.models)}.")
    if self.attacks is not None and not self.attacks:
      raise ValueError("attacks must name at least one attack (or be None for all).")
    num = self.samples
    if not 0 <= self.first_index < NUM_TEST_IMAGES:
      raise ValueError(f"first_index must lie in [0, {NUM_TEST_IMAGES}), got "
                       f"{self.first_index}.")
    if num < 1 or self.first_index + num > NUM_TEST_IMAGES:
      raise ValueError(f"num_samples must be >= 1 with first_index + num_samples <= "
                       f"{NUM_TEST_IMAGES}, got first_index={self.first_index}, "
                       f"num_samples={num}.")
    if self.chunk_size is not None and self.chunk_size < 1:
      raise ValueError(f"chunk_size must be >= 1, got {self.chunk_size}.")
    if self.recheck < 0:
      raise ValueError(f"recheck must be >= 0, got {self.recheck}.")
    if not self.output_dir:
      raise ValueError("output_dir must be set.")

  @property
  def samples(self) -> int:
    return (profiles.get_profile(self.profile).num_samples if self.num_samples is None
            else self.num_samples)

  def flags(self) -> List[str]:
    """The flags of `python -m abs_tf.evaluate` that give this configuration, each one
    explicit (a later change of a default does not change what they run)."""
    found = [f"--models={','.join(self.models)}"]
    if self.attacks is not None:
      found.append(f"--attacks={','.join(self.attacks)}")
    found += [f"--profile={self.profile}", f"--output_dir={self.output_dir}",
              f"--first_index={self.first_index}", f"--num_samples={self.samples}"]
    if self.chunk_size is not None:  # None: the profile's, per kind of model
      found.append(f"--chunk_size={self.chunk_size}")
    return found + [f"--recheck={self.recheck}", "--figures" if self.figures else
                    "--nofigures"]


@dataclasses.dataclass(frozen=True)
class Summary:
  """What a run did.

  Attributes:
    units_run: work units run by this call.
    rows_written: rows appended by this call.
    rows_total: rows in results.jsonl.
    seconds: wall time of this call.
    warnings: the sanity warnings.
    table: Table 1 of all stored rows.
    outputs: paths written.
    d_plus: D+ against the paper's Figure 2 per model and metric (`paper_curves.to_json`).
  """
  units_run: int
  rows_written: int
  rows_total: int
  seconds: float
  warnings: List[str]
  table: table_lib.Table
  outputs: Dict[str, str]
  d_plus: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Prepared:
  """A planned run: models, the result store, the units still to run, Figure 3's images."""
  refs: List[models_lib.ModelRef]
  store: results.ResultStore
  units: List[plan.WorkUnit]
  keep: tuple
  planned: Dict[tuple, str]


def prepare(config: EvaluationConfig, runner: runner_lib.UnitRunner,
            model_refs: Sequence[models_lib.ModelRef] = (), dry_run: bool = False) -> Prepared:
  """Describes the models, checks the stored budgets and plans the missing units.

  With `config.set_aside_stale`, the stored rows of other budgets are moved aside first
  (`results.ResultStore.set_aside`); with `dry_run` they stay, and the plan is the one a run
  would make after moving them.
  """
  profile = profiles.get_profile(config.profile)
  given = {ref.name: ref for ref in model_refs}
  refs = [given.get(name) or models_lib.describe(name, runner.cache) for name in config.models]
  selected = plan.select_attacks(refs, config.attacks)
  store = results.ResultStore(config.output_dir)
  descriptions, planned = {}, {}
  for ref in refs:
    for attack in selected[ref.name]:
      fingerprint, entry = plan.budget_entry(ref, attack, profile)
      descriptions[fingerprint] = entry
      planned[(ref.name, attack)] = fingerprint
  stale = store.stale_pairs(planned) if config.set_aside_stale else []
  if stale and not dry_run:
    _set_aside(store, stale, refs)
  store.check_fingerprints({pair: f for pair, f in planned.items() if pair not in stale},
                           descriptions)
  done = {key for key in store.done if key[:2] not in stale}
  num = config.samples
  labels = runner.test.labels[config.first_index:config.first_index + num]
  keep = plan.figure_indices(labels, config.first_index)
  units = plan.make_units(selected, refs, profile, config.first_index, num,
                          config.chunk_size, keep, done)
  return Prepared(refs, store, units, keep, planned)


def _set_aside(store: results.ResultStore, pairs: Sequence[tuple], refs):
  """Moves the rows and adversarials of `pairs` (model, attack) out of the way."""
  moved = store.set_aside(pairs)
  adversarials = results.AdversarialStore(store.dir)
  slugs = {ref.name: ref.slug for ref in refs}
  for model, attack in pairs:
    adversarials.set_aside(slugs[model], attack)
  logging.warning("Moved %d rows of other budgets to %s: %s.", len(moved),
                  store.dir / results.STALE_RESULTS_FILE,
                  ", ".join(f"{model} / {attack}" for model, attack in pairs))


def estimate(config: EvaluationConfig, timing_rows: Sequence,
             runner: Optional[runner_lib.UnitRunner] = None) -> Dict[tuple, float]:
  """Estimated seconds per (model, attack) of the units `config` still has to run.

  Args:
    config: the run to estimate (nothing is run; its output directory is read, or created).
    timing_rows: result rows whose seconds per image are the measurements (e.g. of a short
      run of the same profile); see `progress.Progress.per_image` for the fallbacks.
    runner: supplies the test labels and the model cache.
  """
  run = prepare(config, runner or runner_lib.UnitRunner(), dry_run=True)
  return progress_lib.estimate(run.units, timing_rows)


def evaluate(config: EvaluationConfig,
             executor: Optional[executor_lib.Executor] = None,
             runner: Optional[runner_lib.UnitRunner] = None,
             model_refs: Sequence[models_lib.ModelRef] = (),
             announce: Optional[Callable[[str], None]] = None,
             command: Optional[Sequence[str]] = None) -> Summary:
  """Runs (or resumes) an evaluation and renders its outputs.

  Args:
    config: the run's settings.
    executor: where units run; by default in this process with `runner`.
    runner: runs units in this process (for the default executor, the reproducibility
      recheck and the gradient check); holds the model cache.
    model_refs: descriptions of models to use instead of `models.describe` (e.g. a model
      put into the runner's cache under its name).
    announce: called with the plan's text (`plan_report`) before anything runs; by default
      the plan is logged.
    command: the command line that runs `config` (e.g. `python -m abs_tf.evaluate` with
      `config.flags()`); written to RESUME.md in the output directory once the run is
      planned, before its first unit.

  Raises:
    ValueError: unknown models or attacks, attacks that apply to no model.
    results.BudgetMismatchError: the output directory holds rows of other budgets.
  """
  start = time.perf_counter()
  profile = profiles.get_profile(config.profile)
  runner = runner or runner_lib.UnitRunner()
  executor = executor or executor_lib.LocalExecutor(runner)
  run = prepare(config, runner, model_refs)
  refs, store, units, keep, planned = run.refs, run.store, run.units, run.keep, run.planned
  logging.info("%d work units to run (%d rows stored) in %s.", len(units), len(store.rows),
               store.path)
  _announce_plan(config, run, announce)
  if command is not None:
    write_resume(config.output_dir, command)
  warnings = _gradient_warnings(refs, runner, config.first_index, units)
  runner.cache.release_all()  # e.g. models given by path, loaded to describe them
  adversarials = results.AdversarialStore(config.output_dir)
  progress = progress_lib.Progress(units, list(store.rows.values()))
  written = 0
  for result in executor.run(units):
    for index, image in result.adversarials.items():
      adversarials.save(result.unit.model.slug, result.unit.attack, index, image)
    written += len(store.append(result.rows))
    progress.update(result)

  warnings += _recheck(store, refs, planned, profile, runner, config.recheck)
  rows = list(store.rows.values())
  warnings += sanity.never_succeeding(rows)
  for warning in warnings:
    logging.warning("%s", warning)
  titles = {ref.name: ref.title for ref in refs}
  table = table_lib.build(rows, titles, store.budgets())
  comparisons = paper_curves.compare(rows)
  outputs = _render(config, store, rows, table, titles, refs, keep, runner, adversarials,
                    comparisons)
  summary = Summary(len(units), written, len(rows), time.perf_counter() - start, warnings,
                    table, outputs, paper_curves.to_json(comparisons))
  _write_summary(config, summary)
  return summary


def _announce_plan(config, run, announce):
  """The plan's text (`plan_report`) to `announce`, or to the log."""
  text = plan_report.to_text(plan_report.describe(config, run))
  if announce is None:
    logging.info("%s", text)
  else:
    announce(text)


RESUME_FILE = "RESUME.md"


def write_resume(output_dir: str, command: Sequence[str]) -> pathlib.Path:
  """Writes RESUME.md into `output_dir`: the command that continues the run stored there.

  The command is written as given; where it is run from follows from `output_dir`: a
  relative one is run from the directory that holds it (named relative to RESUME.md, so
  that the file reads the same in every copy of the directory tree), any other after a `cd`
  to this process's working directory.

  Args:
    output_dir: the run's output directory.
    command: its command line, e.g. ["python", "-m", "abs_tf.evaluate", "--models=cnn"].
  """
  if not command:
    raise ValueError("command must be a non-empty command line.")
  line = shlex.join(command)
  out = pathlib.PurePath(output_dir)
  if out.is_absolute() or ".." in out.parts or not out.parts:
    line = f"cd {shlex.quote(os.getcwd())} && {line}"
    where = "Run"
  else:
    up = "/".join([".."] * len(out.parts))
    where = (f"Run, from the directory that holds `{out.as_posix()}` (`{up}` from this "
             "file)")
  text = (
      "# Resume this run\n\n"
      f"`{results.RESULTS_FILE}` here is the state of an evaluation. {where}:\n\n"
      f"    {line}\n\n"
      "It continues the run where it stopped: stored rows are kept, a chunk cut short is "
      "attacked again whole and only its missing rows are written. Once every row is "
      "there, it renders the table and figures again. Every run into this directory writes "
      "this file when it starts.\n")
  path = pathlib.Path(output_dir, RESUME_FILE)
  path.write_text(text)
  return path


def _gradient_warnings(refs, runner, first_index, units) -> List[str]:
  """Warns about models whose gradient attacks would see all-zero input gradients."""
  warnings = []
  for ref in refs:
    if not any(u.model.name == ref.name and plan.differentiates_model(u.attack)
               for u in units):
      continue
    stop = first_index + GRADIENT_CHECK_IMAGES
    fraction = sanity.zero_gradient_fraction(runner.cache.load(ref),
                                             runner.test.images[first_index:stop],
                                             runner.test.labels[first_index:stop])
    runner.cache.release(ref.name)  # this process holds no model while the units run
    if fraction > 0:
      warnings.append(f"{ref.name}: the input gradient is exactly zero on {fraction:.0%} of "
                      f"{GRADIENT_CHECK_IMAGES} test images; its gradient attacks may see "
                      "nothing (gradient masking).")
  return warnings


@dataclasses.dataclass(frozen=True)
class Recheck:
  """A stored chunk attacked again: its stored rows, the new ones and their differences."""
  model: str
  attack: str
  start: int
  stop: int
  stored: Tuple[results.Row, ...]
  rerun: Tuple[results.Row, ...]
  differences: Tuple[str, ...]


def recheck_chunks(store: results.ResultStore, refs: Sequence[models_lib.ModelRef],
                   planned: Dict[tuple, str], profile: profiles.Profile,
                   runner: runner_lib.UnitRunner, chunks) -> List[Recheck]:
  """Attacks stored chunks again with this code and compares the distances.

  Args:
    store: the results.
    refs: the models' descriptions.
    planned: (model, attack) -> budget fingerprint (`Prepared.planned`).
    profile: the profile the rows were computed with.
    runner: runs the units.
    chunks: (model, attack, (start, stop)) of stored chunks.
  """
  by_name = {ref.name: ref for ref in refs}
  found = []
  for model, attack, (start, stop) in chunks:
    description = plan.budget_description(by_name[model], attack, profile)
    unit = plan.WorkUnit(by_name[model], attack, start, stop,
                         json.dumps(description["budget"], sort_keys=True), profile.seed,
                         profile.name, planned[(model, attack)])
    again = runner.run(unit)
    stored = tuple(store.rows[key] for key in ((model, attack, i) for i in range(start, stop))
                   if key in store.rows)
    differences = tuple(sanity.compare_rerun(stored, again.rows))
    logging.info("Recheck of %s / %s images %d-%d: %s", model, attack, start, stop - 1,
                 "reproduced" if not differences else f"{len(differences)} differences")
    found.append(Recheck(model, attack, start, stop, stored, again.rows, differences))
  return found


def _recheck(store, refs, planned, profile, runner, count) -> List[str]:
  """Attacks the `count` cheapest stored chunks again and compares the distances."""
  if not count:
    return []
  chunks = sanity.cheapest_batches(list(store.rows.values()), count, set(planned))
  return [warning for found in recheck_chunks(store, refs, planned, profile, runner, chunks)
          for warning in found.differences]


def _render(config, store, rows, table, titles, refs, keep, runner, adversarials,
            comparisons):
  out = pathlib.Path(config.output_dir)
  outputs = {"results": str(store.path)}
  (out / "table.md").write_text(table_lib.to_markdown(table))
  (out / "table.csv").write_text(table_lib.to_csv(table))
  outputs.update(table_md=str(out / "table.md"), table_csv=str(out / "table.csv"))
  if comparisons:
    (out / DISTRIBUTIONS_FILE).write_text(paper_curves.to_markdown(comparisons, table.titles))
    outputs.update(distributions=str(out / DISTRIBUTIONS_FILE))
  if config.figures and rows:
    figures.figure2(rows, out / "figure2.png", titles)
    slugs = {ref.name: ref.slug for ref in refs}
    figures.figure3(rows, runner.test.images, keep, adversarials, slugs,
                    out / "figure3.png", titles)
    outputs.update(figure2=str(out / "figure2.png"), figure3=str(out / "figure3.png"))
  return outputs


def _write_summary(config, summary: Summary):
  """summary.json beside the results, and the summary in the log.

  summary.json describes what the directory holds, so that a rerun that adds nothing leaves
  it unchanged; what this call did (units run, rows written, wall time) goes to the log.
  """
  out = pathlib.Path(config.output_dir)
  counts: Dict[str, int] = {}
  for model in summary.table.models:
    counts[model] = summary.table.clean[model].count
  text = {"config": dataclasses.asdict(config), "rows_total": summary.rows_total,
          "images_per_model": counts, "warnings": summary.warnings,
          "outputs": summary.outputs, "d_plus": summary.d_plus}
  (out / "summary.json").write_text(json.dumps(text, indent=1, default=list) + "\n")
  logging.info("Done in %s: %d units run, %d rows written, %d rows stored, %d warnings. "
               "Table: %s", progress_lib.format_seconds(summary.seconds), summary.units_run,
               summary.rows_written, summary.rows_total, len(summary.warnings),
               summary.outputs.get("table_md"))
