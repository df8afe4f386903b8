"""Foolbox 3's Fast Minimum-Norm attacks behind this project's attack interface.

`FoolboxFMN` runs `foolbox.attacks.L0FMNAttack`, `L2FMNAttack` or `LInfFMNAttack` (Foolbox
3.3.4, a test dependency) on a `foolbox.TensorFlowModel` of the model's `logits_graph` (the
same autodiff gradient as this project's `fmn_*`), as a `MinimizationAttack`, so the same
base verifies the adversarials and measures the distances. Foolbox makes one
logits-and-gradient call per step, counted as one query per sample, as `fmn_*` counts them.
`compare_fmn` runs both with the same steps and step sizes, and from the same starts: the
originals, or this project's blended-noise starts (`starts.blended_noise`, as `fmn_*_noise`
draws them) given to Foolbox as `starting_points`. From such a start Foolbox's L2 FMN stays
far out (its L2 projection never projects, see abs_tf/attacks/fmn.py): on the authors' CNN,
first 10 test images, 100 steps, median 4.77 against ours 1.12; L-inf 0.0778 and 0.0778,
L0 20.5 and 20.

Used by tests/test_fmn.py and scripts/compare_foolbox.py; not by the library.

References:
  Rauber, Zimmermann, Bethge & Brendel, Foolbox Native, JOSS 5(53) 2607 (2020).
  Pintor, Roli, Brendel & Biggio, NeurIPS 2021 (FMN).
"""

import time
from typing import Optional

import numpy as np
import tensorflow as tf

from abs_tf.attacks import base
from abs_tf.attacks import fmn
from abs_tf.attacks import starts

from abs_tf.tools import foolbox_decision

ATTACKS = {base.L0: fmn.FMNL0, base.L2: fmn.FMNL2, base.LINF: fmn.FMNLinf}
_FOOLBOX = {base.L0: "L0FMNAttack", base.L2: "L2FMNAttack", base.LINF: "LInfFMNAttack"}


class FoolboxFMN(base.MinimizationAttack):
  """Foolbox 3's FMN in `metric`, `steps` steps from the original (no start attack).

  Args:
    metric: L0, L2 or LINF.
    steps: Foolbox's `steps`.
    max_stepsize: Foolbox's `max_stepsize` (its default 1.0 when None).
    starting_points: float32 [N, 28, 28, 1] adversarials of the N images attacked, Foolbox's
      `starting_points`; None: from the originals.
    seed: unused (deterministic).
  """
  name = "foolbox_fmn"

  def __init__(self, *, metric: str, steps: int = 100, max_stepsize: Optional[float] = None,
               starting_points: Optional[np.ndarray] = None, seed: int = 0):
    super().__init__(seed=seed)
    if metric not in _FOOLBOX:
      raise ValueError(f"metric must be one of {sorted(_FOOLBOX)}, got {metric!r}.")
    self.metric = metric
    self.steps = int(steps)
    self.max_stepsize = 1.0 if max_stepsize is None else float(max_stepsize)
    self.starting_points = starting_points

  def run(self, model, images, labels, rng):
    import eagerpy as ep  # test dependencies, needed only here
    import foolbox
    del rng
    kwargs = {}
    if self.starting_points is not None:
      if self.starting_points.shape != images.shape:
        raise ValueError(f"starting_points must be of the attacked images' shape "
                         f"{images.shape}, got {self.starting_points.shape}.")
      # As eagerpy tensors: Foolbox's check of the starts fails on raw TensorFlow ones.
      kwargs = dict(starting_points=ep.astensor(tf.constant(self.starting_points)))
    fmodel = foolbox.TensorFlowModel(model.model.logits_graph, bounds=(0, 1))
    attack = getattr(foolbox.attacks, _FOOLBOX[self.metric])(
        steps=self.steps, max_stepsize=self.max_stepsize)
    start = time.perf_counter()
    adversarials = attack.run(fmodel, ep.astensor(tf.constant(images)),
                              foolbox.criteria.Misclassification(
                                  tf.constant(np.asarray(labels, np.int64))), **kwargs)
    model.add_queries(self.steps, np.arange(len(images)), time.perf_counter() - start)
    return np.asarray(adversarials.raw, np.float32)


def compare_fmn(model, images, labels, metric: str, steps: int,
                max_stepsize: Optional[float] = None,
                start: str = fmn.ORIGINAL) -> foolbox_decision.Comparison:
  """Foolbox's and this project's FMN in `metric` with the same steps, first step size
  (each side's default when None) and start (`fmn.STARTS`; images the model classifies
  correctly, so that both attack all of them from the same starts)."""
  starting_points = None
  if start == fmn.BLENDED_NOISE:
    # The attack's draws: its generator (seed 0) is first used by the start.
    starting_points, found = starts.blended_noise(
        base.CountingModel(model, len(images)), images, np.asarray(labels),
        np.random.default_rng(0))
    if not found.all():
      raise ValueError(f"No blended-noise start for images {np.flatnonzero(~found)}.")
  theirs = FoolboxFMN(metric=metric, steps=steps, max_stepsize=max_stepsize,
                      starting_points=starting_points)(model, images, labels)
  ours = ATTACKS[metric](steps=steps, max_stepsize=max_stepsize, start=start)(
      model, images, labels)
  return foolbox_decision.Comparison(ours.attack, ours, theirs)
