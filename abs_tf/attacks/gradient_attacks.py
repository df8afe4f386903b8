"""Gradient-based minimal-perturbation attacks: FGSM, FGM, BIM (L-inf and L2) and MIM.

Thin adapters over CleverHans 4 (`cleverhans.tf2.attacks`): each CleverHans attack finds an
adversarial within a given epsilon; `epsilon_search.search` turns it into a search for the
smallest epsilon per sample. The gradient comes from a `gradients.GradientSource`, so "BIM w/
GE" is this BIM with finite-difference gradients, not a copy of it.

Registered names: `fgsm`, `fgm`, `bim_linf`, `bim_l2`, `mim` (autodiff: exact gradients, the
straight-through estimate for binarised models); the same with `_ge` (finite differences,
repeated with each step size of `fd_steps`, the closest adversarial per sample kept); and with
`_envelope` (autodiff through ABS's latent optimum, the envelope-theorem gradient; the same
computation as autodiff, named apart so the evaluation reports it in rows of its own). Each
variant is its family's class composed with a gradient source (`with_gradient`), not a
subclass.

Default budgets are Foolbox 1.3's, which the paper used, converted to this project's units
(Foolbox 1.3 measures L2 epsilons as RMS values, i.e. L2 / sqrt(784) = L2 / 28):
  FGSM, FGM: 1000 epsilons up to 1 (FGSM, L-inf) or 28 (FGM, L2), then 10 bisection steps.
    Foolbox 1.3 stops at the first adversarial epsilon of that grid (refined 20-fold only
    when it is among the first 20), so the bisection here ends up to one grid step (0.001,
    or 0.028 in L2) closer. Its procedure, ported (abs_tf/tools/foolbox13_gradient.py), gives
    the same adversarials to that step: medians 0.0880 vs 0.0878 (FGSM) and 1.275 vs 1.264
    (FGM) on the authors' CNN and the first 1000 test images (scripts/compare_foolbox.py),
    both below the paper's 0.10 and 1.4, as is every block of 100 of those images.
  BIM, MIM: start at 0.3 (L-inf) or 8.4 (L2), grow by 1.5 until success, then 20 bisection
  steps; 10 iterations of step 1/6 of epsilon (BIM) or 1/5 (MIM, momentum decay 1).

Per-sample epsilons: CleverHans takes one epsilon per call (its PGD asserts `eps_iter <= eps`
in Python, which fails for a tensor of epsilons). Every sample is attacked at its own epsilon
e_b in one call by working in rescaled inputs v = x / e_b, with the model v -> f(e_b v), radius
1 and clip range [0, 1 / e_b]. Norms are homogeneous, so a perturbation of size r in v is one
of size e_b r in x (L2 and L-inf alike); the gradient in v is e_b times the one in x, which
CleverHans normalises away (sign, unit L2 norm, MIM's mean absolute value).

Gradient gain: CleverHans floors the squared L2 norm of a gradient at 1e-12 (`optimize_linear`)
and MIM's mean absolute gradient at 1e-12. A confidently classified sample's cross-entropy
gradient is far smaller: on the authors' CNN, 11 of the first 100 test images have gradient
norms of 1e-10 to 2e-7 (float32 cross-entropy 0.0), so FGM's "unit" step shrank to 1e-4 or
less and the scan failed (distance inf). The attacks see the gradient multiplied by
`GRADIENT_GAIN` (a power of two, exact), which every CleverHans attack normalises away: FGM
then fails on 23 of the first 1000 test images (no adversarial along the gradient up to L2
28), Foolbox 1.3's FGM, whose floor is an RMS of 1e-8, on 101; the medians do not change.

References:
  Goodfellow et al., arXiv:1412.6572 (FGSM). Kurakin et al., arXiv:1607.02533 (BIM).
  Dong et al., arXiv:1710.06081 (MIM). Schott et al., ICLR 2019, section 4.
"""

import functools
import time
from typing import Optional, Sequence

from cleverhans.tf2.attacks.fast_gradient_method import fast_gradient_method
from cleverhans.tf2.attacks.momentum_iterative_method import momentum_iterative_method
from cleverhans.tf2.attacks.projected_gradient_descent import projected_gradient_descent
import numpy as np
import tensorflow as tf

from abs_tf.attacks import base
from abs_tf.attacks import catalog
from abs_tf.attacks import epsilon_search
from abs_tf.attacks import gradients

SQRT_PIXELS = 28.0  # Foolbox 1.3's L2 epsilon of 1 (RMS) is an L2 norm of sqrt(784).
_IMAGES = tf.TensorSpec([None, 28, 28, 1], tf.float32)
_LABELS = tf.TensorSpec([None], tf.int64)
_EPSILONS = tf.TensorSpec([None], tf.float32)
GRADIENT_GAIN = 2.0**30  # gradients of norm >= 1e-15 clear CleverHans' floors (module doc)


@tf.custom_gradient
def _amplify_gradient(images):
  """Identity whose gradient is multiplied by GRADIENT_GAIN (see the module docstring)."""
  return tf.identity(images), lambda upstream: upstream * GRADIENT_GAIN


class GradientAttack(base.MinimizationAttack):
  """Base of the gradient attacks: gradient sources, graph building, query counting.

  Subclasses set `name`, `metric`, `norm` (np.inf or 2, CleverHans' convention), `title`
  and `place` (their Table 1 row, see `catalog`) and implement
  `search(source, model, images, labels)`.
  """
  norm: float = np.inf
  kind = catalog.GRADIENT
  requires = catalog.GRADIENTS
  gradient_source = catalog.AUTODIFF

  def __init__(self, *, gradient: Optional[str] = None,
               fd_steps: Sequence[float] = gradients.DEFAULT_FD_STEPS,
               fd_max_images: int = 1000, seed: int = 0):
    """Args:
      gradient: gradients.AUTODIFF (default) or gradients.FINITE_DIFFERENCES.
      fd_steps: finite-difference step sizes; the attack runs once with each.
      fd_max_images: images per model call while estimating a gradient.
      seed: unused by these deterministic attacks; kept for the common interface.
    """
    super().__init__(seed=seed)
    self.gradient = gradient or gradients.AUTODIFF
    self.sources = gradients.gradient_sources(self.gradient, tuple(fd_steps), fd_max_images)
    self._graphs = {}

  def run(self, model, images, labels, rng):
    del rng  # deterministic
    labels = np.asarray(labels, np.int64)  # the graphs' signature
    results = [self.search(source, model, images, labels) for source in self.sources]
    return epsilon_search.closest(results).adversarials

  def search(self, source: gradients.GradientSource, model: base.CountingModel,
             images: np.ndarray, labels: np.ndarray) -> epsilon_search.SearchResult:
    raise NotImplementedError

  def build(self, logits) -> tf.types.experimental.GenericFunction:
    """The attack's tf.function over differentiable `logits`; subclasses implement it."""
    raise NotImplementedError

  def call_graph(self, source, model: base.CountingModel, indices: np.ndarray, *args):
    """Runs the attack's graph for `model` and `source` on samples `indices`, counting queries.

    Args:
      source: the gradient source.
      model: the counting model.
      indices: int [N], the attacked samples the arguments belong to.
      *args: numpy arguments of the graph (images first).

    Returns:
      The graph's output as float32 numpy.
    """
    classifier = model.model
    key = (id(classifier), id(source))
    if key not in self._graphs:
      counter = gradients.QueryCounter()
      source_logits = source.differentiable_logits(classifier.logits_graph, counter)
      logits = lambda images, f=source_logits: f(_amplify_gradient(images))
      # The classifier is kept referenced so that its id is not reused by another.
      self._graphs[key] = (classifier, counter, self.build(logits))
    _, counter, graph = self._graphs[key]
    counter.per_sample.assign(0)
    start = time.perf_counter()
    out = graph(*[tf.constant(a) for a in args]).numpy()
    model.add_queries(int(counter.per_sample.numpy()), indices, time.perf_counter() - start)
    return out


class SingleStepAttack(GradientAttack):
  """FGSM / FGM: one gradient, then the smallest step along it (Foolbox 1.3's scan)."""

  def __init__(self, *, num_epsilons: int = 1000, max_epsilon: Optional[float] = None,
               bisection_steps: int = 10, **kwargs):
    """Args:
      num_epsilons: epsilons scanned, evenly spaced in (0, max_epsilon].
      max_epsilon: the scan's end, in the attack's metric; default 1 (L-inf) or 28 (L2).
      bisection_steps: halvings after the first successful epsilon.
      **kwargs: see `GradientAttack`.
    """
    super().__init__(**kwargs)
    if max_epsilon is None:
      max_epsilon = 1.0 if self.norm == np.inf else SQRT_PIXELS
    self.schedule = epsilon_search.linear_schedule(max_epsilon, num_epsilons)
    self.bisection_steps = _non_negative("bisection_steps", bisection_steps)

  def build(self, logits):
    norm = self.norm

    @tf.function(input_signature=[_IMAGES, _LABELS])
    def direction(images, labels):
      """Unit step of FGM (sign of the gradient, or its L2 direction), float32 [B, 28, 28, 1]."""
      return fast_gradient_method(logits, images, 1.0, norm, y=labels) - images

    return direction

  def search(self, source, model, images, labels):
    directions = self.call_graph(source, model, np.arange(len(images)), images, labels)
    return epsilon_search.line_search(model, images, labels, directions, self.schedule,
                                      self.bisection_steps, self.metric)


class IterativeAttack(GradientAttack):
  """BIM / MIM: a CleverHans iterative attack per epsilon, growing, then bisection."""

  def __init__(self, *, iterations: int = 10, relative_step: float = 1.0 / 6.0,
               initial_epsilon: Optional[float] = None, growth: float = 1.5,
               max_epsilon: Optional[float] = None, bisection_steps: int = 20, **kwargs):
    """Args:
      iterations: gradient steps per epsilon.
      relative_step: step size as a fraction of epsilon, in (0, 1].
      initial_epsilon: first epsilon tried; default 0.3 (L-inf) or 8.4 (L2).
      growth: factor between the epsilons tried until the first success, > 1.
      max_epsilon: the last epsilon tried; default 1 (L-inf) or 28 (L2).
      bisection_steps: halvings after the first successful epsilon.
      **kwargs: see `GradientAttack`.
    """
    super().__init__(**kwargs)
    unit = 1.0 if self.norm == np.inf else SQRT_PIXELS
    self.iterations = int(iterations)
    if self.iterations < 1:
      raise ValueError(f"iterations must be >= 1, got {iterations!r}.")
    if not 0 < relative_step <= 1:
      raise ValueError(f"relative_step must lie in (0, 1], got {relative_step!r}.")
    self.relative_step = float(relative_step)
    self.schedule = epsilon_search.geometric_schedule(
        0.3 * unit if initial_epsilon is None else initial_epsilon, growth,
        unit if max_epsilon is None else max_epsilon)
    self.bisection_steps = _non_negative("bisection_steps", bisection_steps)

  def cleverhans_attack(self, model_fn, images, clip_max, labels):
    """The CleverHans call at radius 1 (in rescaled inputs); subclasses implement it."""
    raise NotImplementedError

  def build(self, logits):
    @tf.function(input_signature=[_IMAGES, _LABELS, _EPSILONS])
    def attack(images, labels, epsilons):
      """Adversarials within epsilons [B] of images [B, 28, 28, 1] (see module docstring)."""
      scale = epsilons[:, None, None, None]
      rescaled = self.cleverhans_attack(lambda v: logits(v * scale), images / scale,
                                        1.0 / scale, labels)
      return rescaled * scale

    return attack

  def search(self, source, model, images, labels):
    def candidates_at(indices, epsilons):
      return self.call_graph(source, model, indices, images[indices], labels[indices],
                             epsilons.astype(np.float32))

    return epsilon_search.search(model, images, labels, candidates_at, self.schedule,
                                 self.bisection_steps, self.metric)


class BasicIterativeMethod(IterativeAttack):
  """BIM: CleverHans PGD without random start."""

  def cleverhans_attack(self, model_fn, images, clip_max, labels):
    return projected_gradient_descent(
        model_fn, images, 1.0, self.relative_step, self.iterations, self.norm, clip_min=0.0,
        clip_max=clip_max, y=labels, rand_init=False, sanity_checks=False)


class FGSM(SingleStepAttack):
  """Fast Gradient Sign Method (L-inf), Goodfellow et al. (2014)."""
  name, metric, norm = "fgsm", base.LINF, np.inf
  title, place = "FGSM", 40


class FGM(SingleStepAttack):
  """Fast Gradient Method (L2): the step along the L2-normalised gradient."""
  name, metric, norm = "fgm", base.L2, 2
  title, place = "FGM", 40


class BIMLinf(BasicIterativeMethod):
  """L-inf Basic Iterative Method, Kurakin et al. (2016)."""
  name, metric, norm = "bim_linf", base.LINF, np.inf
  title, place = "BIM", 50


class BIML2(BasicIterativeMethod):
  """L2 Basic Iterative Method."""
  name, metric, norm = "bim_l2", base.L2, 2
  title, place = "L2 BIM", 50


class MIM(IterativeAttack):
  """Momentum Iterative Method (L-inf), Dong et al. (2017)."""
  name, metric, norm = "mim", base.LINF, np.inf
  title, place = "MIM", 60

  def __init__(self, *, relative_step: float = 0.2, decay_factor: float = 1.0, **kwargs):
    """Args: relative_step: Foolbox 1.3's 0.06 / 0.3. decay_factor: momentum decay.
    **kwargs: see `IterativeAttack`."""
    super().__init__(relative_step=relative_step, **kwargs)
    self.decay_factor = float(decay_factor)

  def cleverhans_attack(self, model_fn, images, clip_max, labels):
    return momentum_iterative_method(
        model_fn, images, 1.0, self.relative_step, self.iterations, np.inf, clip_min=0.0,
        clip_max=clip_max, y=labels, decay_factor=self.decay_factor, sanity_checks=False)


def _non_negative(name, value):
  if int(value) != value or value < 0:
    raise ValueError(f"{name} must be an integer >= 0, got {value!r}.")
  return int(value)


def with_gradient(family, source: str) -> catalog.AttackEntry:
  """The catalogue entry of gradient attack class `family` run with another gradient source.

  Args:
    family: a `GradientAttack` subclass (its entry is that of the real gradients).
    source: catalog.FINITE_DIFFERENCES (`<name>_ge`, the paper's "w/ GE": estimated from the
      outputs, so it applies to any model) or catalog.ENVELOPE (`<name>_envelope`: autodiff
      through ABS's latent optimum, rows beyond the paper's).

  The variant shares its family's budget (the `_ge` ones extended by the profile's
  `ge_settings`) and follows it in Table 1.
  """
  if source == catalog.FINITE_DIFFERENCES:
    return catalog.entry_of(
        family, name=family.name + "_ge", title=family.title + " w/ GE",
        factory=functools.partial(family, gradient=gradients.FINITE_DIFFERENCES),
        requires=catalog.OUTPUTS, gradient=source, place=family.place + 0.1,
        budget_of=family.name)
  if source == catalog.ENVELOPE:
    return catalog.entry_of(
        family, name=family.name + "_envelope", title=family.title + " w/ envelope",
        factory=functools.partial(family, gradient=gradients.AUTODIFF),
        requires=catalog.LATENT_INFERENCE, gradient=source, place=family.place + 0.2,
        budget_of=family.name, paper_row=False)
  raise ValueError(f"source must be {catalog.FINITE_DIFFERENCES!r} or {catalog.ENVELOPE!r}, "
                   f"got {source!r}.")


FAMILIES = (FGSM, FGM, BIMLinf, BIML2, MIM)
for _family in FAMILIES:
  catalog.register(_family)
  catalog.register_entry(with_gradient(_family, catalog.FINITE_DIFFERENCES))
  catalog.register_entry(with_gradient(_family, catalog.ENVELOPE))
