"""Foolbox 3's Boundary, Pointwise and HopSkipJump attacks behind this project's interface.

`FoolboxBoundary`, `FoolboxPointwise` and `FoolboxHopSkipJump` run
`foolbox.attacks.BoundaryAttack`, `PointwiseAttack` and `HopSkipJumpAttack` (Foolbox 3.3.4, a
test dependency) as `MinimizationAttack`s, so the same
base verifies their adversarials, measures their distances and counts their queries: every
row Foolbox asks the model about is one query of its sample (Foolbox asks about all samples
in every call). The model is wrapped as a `foolbox.models.NumPyModel`: on a `TensorFlowModel`
the Pointwise attack fails ("'list' object has no attribute 'dtype'", in eagerpy's TensorFlow
`index_update`), and the Boundary attack feeds float64.

`compare_boundary`, `compare_pointwise` and `compare_hop_skip_jump` run both sides on the same images with the same
query budget: Foolbox's first, then this project's with what Foolbox spent.

Used by tests/test_compare_foolbox_decision.py and scripts/compare_foolbox.py
(`--decision_attacks`).

References:
  Rauber, Zimmermann, Bethge & Brendel, Foolbox Native, JOSS 5(53) 2607 (2020).
  Brendel, Rauber & Bethge, ICLR 2018 (Boundary). Schott et al., ICLR 2019 (Pointwise).
  Chen, Jordan & Wainwright, IEEE S&P 2020 (HopSkipJump).
"""

import dataclasses

import numpy as np

from abs_tf.attacks import base
from abs_tf.attacks import boundary
from abs_tf.attacks import hop_skip_jump
from abs_tf.attacks import pointwise


class _FoolboxAttack(base.MinimizationAttack):
  """Runs `foolbox_attack(foolbox)` on a NumPyModel of the counting model."""

  def foolbox_attack(self, foolbox):
    raise NotImplementedError

  def starting_points(self, foolbox, fmodel, model, images, labels):
    """Starting points for Foolbox's attack, or None for its own default."""
    return None

  def run(self, model, images, labels, rng):
    import foolbox  # a test dependency, needed only here
    del rng
    n = len(images)

    def forward(batch):
      rows = np.arange(n) if len(batch) == n else None
      if rows is None:
        raise ValueError(f"Foolbox asked about {len(batch)} images of a batch of {n}.")
      return model.logits(np.asarray(batch, np.float32), rows)

    fmodel = foolbox.models.NumPyModel(forward, bounds=(0, 1), data_format="channels_last")
    criterion = foolbox.criteria.Misclassification(labels)
    # Foolbox 3 draws from numpy's global generator: seed it for reproducible runs.
    np.random.seed(self.seed)
    x = images.astype(np.float64)
    starts = self.starting_points(foolbox, fmodel, model, x, labels)
    kwargs = {} if starts is None else dict(starting_points=starts)
    adversarials = self.foolbox_attack(foolbox).run(fmodel, x, criterion, **kwargs)
    return np.asarray(adversarials, np.float32)


class FoolboxBoundary(_FoolboxAttack):
  """Foolbox 3's Boundary attack: `steps` steps of one candidate (and, every 10th, its
  spherical point), started by its blended-noise line search."""
  name = "foolbox_boundary"
  metric = base.L2

  def __init__(self, *, steps: int = 5000, seed: int = 0):
    super().__init__(seed=seed)
    self.steps = int(steps)

  def foolbox_attack(self, foolbox):
    return foolbox.attacks.BoundaryAttack(steps=self.steps)

  def starting_points(self, foolbox, fmodel, model, images, labels):
    """Foolbox's default start (blended uniform noise, 50-step line search); where no noise
    is adversarial (the authors' CNN calls all of it 8), the batch's closest image of
    another label, as this project's attack does. Foolbox would raise there."""
    criterion = foolbox.criteria.Misclassification(labels)
    starts = np.asarray(foolbox.attacks.LinearSearchBlendedUniformNoiseAttack(steps=50).run(
        fmodel, images, criterion), np.float64)
    flat = images.reshape(len(images), -1)
    for i in np.flatnonzero(~model.is_adversarial(starts.astype(np.float32), labels)):
      others = np.flatnonzero(labels != labels[i])
      if len(others):
        starts[i] = images[others[np.argmin(np.linalg.norm(flat[others] - flat[i], axis=1))]]
    return starts


class FoolboxPointwise(_FoolboxAttack):
  """Foolbox 3's Pointwise attack from its salt-and-pepper start (`init_steps` steps, its
  default 1000); with `l2_binary_search` False it stops after the resets (L0 is final)."""
  name = "foolbox_pointwise"
  metric = base.L0

  def __init__(self, *, init_steps: int = 1000, l2_binary_search: bool = True,
               seed: int = 0):
    super().__init__(seed=seed)
    self.init_steps = int(init_steps)
    self.l2_binary_search = bool(l2_binary_search)

  def foolbox_attack(self, foolbox):
    return foolbox.attacks.PointwiseAttack(
        init_attack=foolbox.attacks.SaltAndPepperNoiseAttack(steps=self.init_steps),
        l2_binary_search=self.l2_binary_search)


class FoolboxHopSkipJump(_FoolboxAttack):
  """Foolbox 3's HopSkipJumpAttack, `steps` iterations in `metric` (L2 or L-inf), from the
  start this project's `hop_skip_jump` finds (before its binary search, which Foolbox runs
  itself): the batch's closest image of another label, else uniform noise. Foolbox's own
  start (blended uniform noise) raises where no noise is adversarial (the authors' CNN calls
  all of it 8)."""
  name = "foolbox_hop_skip_jump"

  def __init__(self, *, metric: str = base.L2, steps: int = 64, seed: int = 0):
    super().__init__(seed=seed)
    if metric not in (base.L2, base.LINF):
      raise ValueError(f"metric must be {base.L2!r} or {base.LINF!r}, got {metric!r}.")
    self.metric = metric
    self.steps = int(steps)

  def foolbox_attack(self, foolbox):
    return foolbox.attacks.HopSkipJumpAttack(steps=self.steps, constraint=self.metric)

  def starting_points(self, foolbox, fmodel, model, images, labels):
    ours = _HOP_SKIP_JUMP[self.metric](max_queries=None, iterations=1, seed=self.seed)
    oracle = hop_skip_jump.Oracle(model, labels, None)
    flat = images.reshape(len(images), -1)
    starts, found = ours.starting_points(oracle, flat, labels,
                                         np.random.default_rng(self.seed).spawn(len(flat)))
    if not found.all():
      raise ValueError(f"No start for samples {np.flatnonzero(~found)}.")
    return starts.reshape(images.shape).astype(np.float64)


_HOP_SKIP_JUMP = {base.L2: hop_skip_jump.HopSkipJumpL2, base.LINF: hop_skip_jump.HopSkipJumpLinf}


# The Boundary attack for budgets of ~10^3 queries rather than Foolbox 1.3's 5000 iterations
# of up to 25 directions: directions one per call (no query after a step's first success),
# spherical checks on every iteration and short success windows, so that the step sizes adapt
# within tens of queries, and a smaller first source step (the default 0.01 mostly fails
# from a start on the boundary until it has been halved a few times). On the authors' CNN
# and the first 20 test images with 380 queries: median L2 3.87 with these, 4.96 with only
# the first two, Foolbox 3 4.87.
LOW_BUDGET_BOUNDARY = dict(directions_per_call=1, stats_every=1, spherical_window=20,
                           step_window=10, source_step=2e-3)


# The Pointwise attack for budgets of ~2,000 queries: as many repetitions as fit, no L2
# bisections, and a salt-and-pepper start of 50 repetitions over 20 probabilities from half
# the last success (~600 instead of ~750 queries, and sparser starts). On the authors' CNN
# and the first 20 test images, seeds 0, 1, 2: median L0 9, 9, 9 against Foolbox 3's 10, 11,
# 12.5 with its queries.
LOW_BUDGET_POINTWISE = dict(repetitions=100, bisection_steps=0, init_epsilons=20,
                            init_repetitions=50, init_lower_fraction=0.5)


@dataclasses.dataclass(frozen=True)
class Comparison:
  """Both sides of one comparison.

  Attributes:
    attack: this project's attack name.
    ours, theirs: the `AttackResult`s of this project's attack and of Foolbox's.
  """
  attack: str
  ours: base.AttackResult
  theirs: base.AttackResult

  def medians(self):
    return float(np.median(self.ours.distances)), float(np.median(self.theirs.distances))


def compare_boundary(model, images, labels, foolbox_steps: int, seed: int = 0,
                     **boundary_kwargs) -> Comparison:
  """Foolbox's Boundary attack with `foolbox_steps` steps, then ours with its queries.

  This project's attack gets, per sample, the queries Foolbox spent (the base's two checks
  aside) and settings for such small budgets (`LOW_BUDGET_BOUNDARY`). `boundary_kwargs`
  override them.
  """
  theirs = FoolboxBoundary(steps=foolbox_steps, seed=seed)(model, images, labels)
  # Foolbox asks about every sample in every call: the attacked ones spent the most.
  budget = int(theirs.queries.max()) - 2
  settings = dict(LOW_BUDGET_BOUNDARY, steps=10 * foolbox_steps, max_queries=budget,
                  seed=seed)
  settings.update(boundary_kwargs)
  ours = boundary.BoundaryAttack(**settings)(model, images, labels)
  return Comparison(ours.attack, ours, theirs)


def compare_pointwise(model, images, labels, seed: int = 0, foolbox_init_steps: int = 1000,
                      **pointwise_kwargs) -> Comparison:
  """Both Pointwise attacks in L0 with the same query budget.

  Foolbox's runs as it comes (its salt-and-pepper start of `foolbox_init_steps` steps,
  resets, then its L2 bisections); this project's
  then gets the queries Foolbox spent as its budget per sample (`max_queries`, the base's
  two checks aside) for as many repetitions as fit, skips the bisections, which do not
  change L0, and starts from a cheaper salt-and-pepper search (`LOW_BUDGET_POINTWISE`).
  `pointwise_kwargs` override these settings.
  """
  theirs = FoolboxPointwise(init_steps=foolbox_init_steps, seed=seed)(model, images, labels)
  settings = dict(LOW_BUDGET_POINTWISE, max_queries=int(theirs.queries.max()) - 2,
                  seed=seed)
  settings.update(pointwise_kwargs)
  ours = pointwise.PointwiseAttack(**settings)(model, images, labels)
  return Comparison(ours.attack, ours, theirs)


def compare_hop_skip_jump(model, images, labels, metric: str, foolbox_steps: int,
                          seed: int = 0, **hop_skip_jump_kwargs) -> Comparison:
  """Foolbox's HopSkipJumpAttack with `foolbox_steps` iterations, then ours with its queries.

  Both start from the same points (`FoolboxHopSkipJump`); this project's attack gets, per
  sample, the most queries Foolbox spent on a sample (the base's two checks aside; Foolbox
  asks about every sample in every call). `hop_skip_jump_kwargs` set its other settings.
  """
  theirs = FoolboxHopSkipJump(metric=metric, steps=foolbox_steps, seed=seed)(
      model, images, labels)
  settings = dict(max_queries=int(theirs.queries.max()) - 2, seed=seed)
  settings.update(hop_skip_jump_kwargs)
  ours = _HOP_SKIP_JUMP[metric](**settings)(model, images, labels)
  return Comparison(ours.attack, ours, theirs)
