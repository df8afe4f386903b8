r"""Compares this project's attacks with Foolbox 1.3 (ported) and 3.3.4 on the same CNN and images.

First FGSM and FGM against a line-by-line port of Foolbox 1.3's `GradientSignAttack` and
`GradientAttack` (abs_tf/tools/foolbox13_gradient.py), the procedure the paper ran: per sample,
both distances, how many samples agree to the port's grid (ours <= port <= ours + one grid
step: 1/1000 in L-inf, 28/1000 in L2), both medians beside the paper's CNN column, and, when
`--num_images` exceeds `--block_size`, the medians of each block of consecutive test images
(how far a 100-image median moves with the images chosen). `--per_sample` lists every sample.

Then each line runs one of this project's attacks and its Foolbox counterpart under the same
epsilon search (abs_tf/tools/foolbox_reference.py) and prints both medians. The issue's bar:
the L-inf BIM median within 5 % of Foolbox's.

Then the decision-based attacks (abs_tf/tools/foolbox_decision.py), each with the queries
Foolbox spent: Boundary (Foolbox: `--boundary_foolbox_steps` steps) and Pointwise (Foolbox
to convergence). The bar: this project's median no larger than Foolbox's.

Last the query-efficient and minimal-norm attacks beyond the paper (issue 20): HopSkipJump in
L2 and L-inf (Foolbox's `HopSkipJumpAttack` with `--hop_skip_jump_foolbox_steps` iterations
from the same starts; ours with the queries it spent) and FMN in L0, L2 and L-inf, from the
originals and from blended-noise starts (both with `--fmn_steps` steps, one
logits-and-gradient call each, from the same starts). The bar: ours at most 5 % above
Foolbox's median.

  python scripts/compare_foolbox.py --num_images=100 [--model=path/to/saved_model] \
      [--foolbox13_attacks=fgsm,fgm] [--per_sample] [--attacks=] [--decision_attacks=] \
      [--query_attacks=hop_skip_jump_l2,fmn_l2]

By default the model is the authors' CNN (the shipped CNN once `--model=cnn`).

References:
  Schott et al., ICLR 2019, section 4. Rauber et al., Foolbox Native (2020).
"""

import dataclasses
import functools
import pathlib
import sys
import time

from absl import app
from absl import flags
import numpy as np

from abs_tf import registry
from abs_tf.attacks import ATTACKS
from abs_tf.attacks import catalog
from abs_tf.attacks import fmn
from abs_tf.attacks import hop_skip_jump
from abs_tf.data import mnist
from abs_tf.tools import foolbox13_gradient
from abs_tf.tools import foolbox_decision
from abs_tf.tools import foolbox_fmn
from abs_tf.tools import foolbox_reference
from abs_tf.tools import import_reference_cnn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run from anywhere
from scripts import table1_cnn  # pylint: disable=g-import-not-at-top

# Each table is keyed by this project's stable attack names (`abs_tf.attacks.ATTACKS`, which
# builds our side); the paper's medians come from Table 1's transcription (table1_cnn).

# name -> (Foolbox's attack under the same epsilon search, allowed relative difference of
# the medians).
COMPARISONS = {
    "bim_linf": (foolbox_reference.FoolboxLinfBIM, 0.05),
    "fgsm": (foolbox_reference.FoolboxFGSM, 0.05),
}

# name -> (the Foolbox 1.3 port, its grid step in the metric).
FOOLBOX13 = {
    "fgsm": (foolbox13_gradient.Foolbox13FGSM, 1e-3),
    "fgm": (foolbox13_gradient.Foolbox13FGM, 28e-3),
}

# Decision-based comparisons at equal query budgets: name -> function returning a
# foolbox_decision.Comparison.
DECISION_COMPARISONS = {
    "boundary": lambda model, images, labels: foolbox_decision.compare_boundary(
        model, images, labels, foolbox_steps=FLAGS.boundary_foolbox_steps),
    "pointwise": foolbox_decision.compare_pointwise,
}

# The attacks beyond the paper at equal budgets, by family: every registered attack of a
# family (its class, or a composition of it, e.g. FMN from noise) is compared in its own
# metric and from its own start (the catalogue's entry).
QUERY_FAMILIES = {
    hop_skip_jump.HopSkipJump: lambda model, images, labels, entry: (
        foolbox_decision.compare_hop_skip_jump(model, images, labels, entry.metric,
                                               FLAGS.hop_skip_jump_foolbox_steps)),
    fmn.FastMinimumNorm: lambda model, images, labels, entry: foolbox_fmn.compare_fmn(
        model, images, labels, entry.metric, FLAGS.fmn_steps,
        start=entry.defaults()["start"]),
}


def _class_of(factory):
  """The attack class an entry's factory builds (through a `functools.partial`)."""
  return factory.func if isinstance(factory, functools.partial) else factory


# name -> its family's comparison, in Table 1's order.
QUERY_COMPARISONS = {name: compare for name in catalog.table_order(ATTACKS)
                     for family, compare in QUERY_FAMILIES.items()
                     if isinstance(_class_of(ATTACKS[name].factory), type)
                     and issubclass(_class_of(ATTACKS[name].factory), family)}
QUERY_TOLERANCE = 0.05

FLAGS = flags.FLAGS
# The flags naming attacks -> the attacks each may name.
ATTACK_FLAGS = {"foolbox13_attacks": FOOLBOX13, "attacks": COMPARISONS,
                "decision_attacks": DECISION_COMPARISONS, "query_attacks": QUERY_COMPARISONS}


def define_flags():
  """Defines the command line's flags: only when run as a script, so that tests can import
  this module beside other scripts with flags of the same names."""
  table1_cnn.define_authors_cnn_flags()
  flags.DEFINE_bool("per_sample", False, "List both distances of every sample (Foolbox 1.3).")
  flags.DEFINE_integer("block_size", 100, "Images per block for the blocks' medians.")
  for flag, choices in ATTACK_FLAGS.items():
    flags.DEFINE_list(flag, list(choices), f"Among {list(choices)}.")
  flags.DEFINE_integer("boundary_foolbox_steps", 5000, "Foolbox Boundary steps; this project's "
                       "Boundary attack gets the queries they take.")
  flags.DEFINE_integer("hop_skip_jump_foolbox_steps", 10, "Foolbox HopSkipJump iterations; "
                       "this project's gets the queries they take.")
  flags.DEFINE_integer("fmn_steps", 100, "FMN steps, both sides.")
  flags.DEFINE_string("model", None, "Registry name or SavedModel path; default: the authors' "
                      "CNN imported from --weights.")


@dataclasses.dataclass(frozen=True)
class PortComparison:
  """This project's attack and the Foolbox 1.3 port on the same samples.

  Attributes:
    attack: the project's name (`fgsm`, `fgm`).
    ours, port: float64 [N], per-sample distances (inf: failed).
    grid: the port's epsilon step in the metric.
    paper: Table 1's median on the CNN.
  """
  attack: str
  ours: np.ndarray
  port: np.ndarray
  grid: float
  paper: float

  def agreeing(self) -> np.ndarray:
    """bool [N]: ours <= port <= ours + grid (both inf counts as agreeing)."""
    both_inf = np.isinf(self.ours) & np.isinf(self.port)
    with np.errstate(invalid="ignore"):
      close = (self.port >= self.ours - 1e-6) & (self.port <= self.ours + self.grid + 1e-6)
    return both_inf | close

  def block_medians(self, size: int):
    """(ours, port) medians of consecutive blocks of `size` samples, two float lists."""
    starts = range(0, len(self.ours) - size + 1, size)
    return ([float(np.median(self.ours[i:i + size])) for i in starts],
            [float(np.median(self.port[i:i + size])) for i in starts])


def compare_foolbox13(model, images, labels, name, **port_kwargs) -> PortComparison:
  """Runs `name` (default settings) and its Foolbox 1.3 port (`port_kwargs`) on a batch."""
  port_cls, grid = FOOLBOX13[name]
  ours = ATTACKS[name]()(model, images, labels)
  port = port_cls(**port_kwargs)(model, images, labels)
  paper_median, _ = table1_cnn.PAPER_CNN[name]
  return PortComparison(name, ours.distances, port.distances, grid, paper_median)


def print_foolbox13(comparison: PortComparison, block_size: int, per_sample: bool):
  c = comparison
  m_ours, m_port = np.median(c.ours), np.median(c.port)
  finite = np.isfinite(c.ours) & np.isfinite(c.port)
  gap = np.abs(c.port - c.ours)[finite]
  print(f"{c.attack:<6}{len(c.ours):>7}{m_ours:>9.4f}{m_port:>9.4f}{c.paper:>7.2f}"
        f"{m_port / c.paper:>11.3f}{c.agreeing().sum():>7}/{len(c.ours):<5}"
        f"{gap.max() if len(gap) else 0.0:>10.4f}{np.isinf(c.ours).sum():>9}"
        f"{np.isinf(c.port).sum():>9}", flush=True)
  if len(c.ours) > block_size:
    ours_blocks, port_blocks = c.block_medians(block_size)
    print(f"  medians of blocks of {block_size}: ours "
          f"{' '.join(f'{m:.4f}' for m in ours_blocks)}\n{'':>30}port "
          f"{' '.join(f'{m:.4f}' for m in port_blocks)}")
  if per_sample:
    for i, (d_ours, d_port) in enumerate(zip(c.ours, c.port)):
      print(f"  {c.attack} sample {i:>5}: ours {d_ours:.4f} port {d_port:.4f}")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  for flag, choices in ATTACK_FLAGS.items():
    unknown = sorted(set(FLAGS[flag].value) - set(choices))
    if unknown:
      raise app.UsageError(f"--{flag}: unknown {unknown}; expected names among "
                           f"{list(choices)}.")
  split = mnist.load("test").take(0, FLAGS.num_images)
  model = (registry.load_model(FLAGS.model) if FLAGS.model else
           import_reference_cnn.import_reference_cnn(FLAGS.weights))
  print(f"{FLAGS.model or 'authors CNN'}, first {FLAGS.num_images} test images.")
  if FLAGS.foolbox13_attacks:
    print("Foolbox 1.3's procedure (ported) vs this project, per sample; agree: ours <= port <= "
          "ours + the port's grid step.")
    print(f"{'attack':<6}{'images':>7}{'ours':>9}{'port':>9}{'paper':>7}{'port/paper':>11}"
          f"{'agree':>10}{'max gap':>12}{'fails us':>9}{'fails fb':>9}")
    for name in FLAGS.foolbox13_attacks:
      print_foolbox13(compare_foolbox13(model, split.images, split.labels, name),
                      FLAGS.block_size, FLAGS.per_sample)
  print(f"{'attack':<10}{'ours':>9}{'foolbox':>9}{'ratio':>8}  within{'q ours':>9}"
        f"{'q fb':>8}{'s ours':>8}{'s fb':>8}")
  for name in FLAGS.attacks:
    theirs_cls, tolerance = COMPARISONS[name]
    results = []
    for cls in (ATTACKS[name], theirs_cls):
      start = time.perf_counter()
      results.append((cls()(model, split.images, split.labels), time.perf_counter() - start))
    (ours, t_ours), (theirs, t_theirs) = results
    m_ours, m_theirs = np.median(ours.distances), np.median(theirs.distances)
    ratio = m_ours / m_theirs
    print(f"{name:<10}{m_ours:>9.4f}{m_theirs:>9.4f}{ratio:>8.3f}  "
          f"{'yes' if abs(ratio - 1) <= tolerance else 'NO':<6}{ours.queries.mean():>9.1f}"
          f"{theirs.queries.mean():>8.1f}{t_ours:>8.1f}{t_theirs:>8.1f}")
  for name in FLAGS.decision_attacks:
    comparison = DECISION_COMPARISONS[name](model, split.images, split.labels)
    ours, theirs = comparison.ours, comparison.theirs
    m_ours, m_theirs = comparison.medians()
    print(f"{name:<10}{m_ours:>9.4f}{m_theirs:>9.4f}{m_ours / m_theirs:>8.3f}  "
          f"{'yes' if m_ours <= m_theirs else 'NO':<6}{ours.queries.mean():>9.1f}"
          f"{theirs.queries.mean():>8.1f}{ours.seconds:>8.1f}{theirs.seconds:>8.1f}",
          flush=True)
  for name in FLAGS.query_attacks:
    comparison = QUERY_COMPARISONS[name](model, split.images, split.labels, ATTACKS[name])
    ours, theirs = comparison.ours, comparison.theirs
    m_ours, m_theirs = comparison.medians()
    within = m_ours <= (1 + QUERY_TOLERANCE) * m_theirs
    print(f"{name:<10}{m_ours:>9.4f}{m_theirs:>9.4f}{m_ours / m_theirs:>8.3f}  "
          f"{'yes' if within else 'NO':<6}{ours.queries.mean():>9.1f}"
          f"{theirs.queries.mean():>8.1f}{ours.seconds:>8.1f}{theirs.seconds:>8.1f}"
          f"  failed: {np.isinf(ours.distances).sum()} ours, "
          f"{np.isinf(theirs.distances).sum()} Foolbox", flush=True)


if __name__ == "__main__":
  define_flags()
  app.run(main)
