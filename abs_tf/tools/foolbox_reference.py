"""Foolbox 3's FGSM and L-inf BIM behind this project's attack interface, as references.

`FoolboxLinfBIM` and `FoolboxFGSM` run `foolbox.attacks.LinfBasicIterativeAttack` and
`LinfFastGradientAttack` (Foolbox 3.3.4, a test dependency) inside the same per-sample epsilon
search (`epsilon_search.search`) and the same verifying base as `bim_linf` and `fgsm`, so a
comparison isolates the inner attack: CleverHans (this project) against Foolbox. Foolbox's
`run` takes a tensor of per-sample epsilons [B, 1, 1, 1] (its projection and step size
broadcast). Foolbox recomputes FGSM's gradient at every epsilon, this project once per sample;
the adversarials are the same.

Used by tests/test_gradient_attacks.py and scripts/compare_foolbox.py; not by the library.

References:
  Rauber, Zimmermann, Bethge & Brendel, Foolbox Native, JOSS 5(53) 2607 (2020).
  Goodfellow et al., arXiv:1412.6572 (FGSM). Kurakin et al., arXiv:1607.02533 (BIM).
"""

import time

import numpy as np
import tensorflow as tf

from abs_tf.attacks import base
from abs_tf.attacks import epsilon_search


class FoolboxAttack(base.MinimizationAttack):
  """A Foolbox 3 fixed-epsilon L-inf attack made minimal by `epsilon_search.search`.

  Subclasses set `name`, `schedule`, `bisection_steps`, `iterations` and implement
  `foolbox_attack(foolbox)`.
  """
  metric = base.LINF
  iterations: int = 1

  def foolbox_attack(self, foolbox):
    raise NotImplementedError

  def run(self, model, images, labels, rng):
    import foolbox  # a test dependency, needed only here
    del rng
    fmodel = foolbox.TensorFlowModel(model.model.logits_graph, bounds=(0, 1))
    attack = self.foolbox_attack(foolbox)

    def candidates_at(indices, epsilons):
      criterion = foolbox.criteria.Misclassification(tf.constant(labels[indices]))
      start = time.perf_counter()
      adversarials = attack.run(
          fmodel, tf.constant(images[indices]), criterion,
          epsilon=tf.constant(epsilons.reshape(-1, 1, 1, 1), tf.float32))
      # One gradient evaluation per step, as this project counts them.
      model.add_queries(self.iterations, indices, time.perf_counter() - start)
      return np.asarray(adversarials)

    return epsilon_search.search(model, images, labels, candidates_at, self.schedule,
                                 self.bisection_steps, self.metric).adversarials


class FoolboxLinfBIM(FoolboxAttack):
  """Foolbox 3's L-inf BIM; settings and defaults as `gradient_attacks.BIMLinf`."""
  name = "foolbox_bim_linf"

  def __init__(self, *, iterations: int = 10, relative_step: float = 1.0 / 6.0,
               initial_epsilon: float = 0.3, growth: float = 1.5, max_epsilon: float = 1.0,
               bisection_steps: int = 20, seed: int = 0):
    super().__init__(seed=seed)
    self.iterations = int(iterations)
    self.relative_step = float(relative_step)
    self.schedule = epsilon_search.geometric_schedule(initial_epsilon, growth, max_epsilon)
    self.bisection_steps = int(bisection_steps)

  def foolbox_attack(self, foolbox):
    return foolbox.attacks.LinfBasicIterativeAttack(
        rel_stepsize=self.relative_step, steps=self.iterations, random_start=False)


class FoolboxFGSM(FoolboxAttack):
  """Foolbox 3's FGSM; settings and defaults as `gradient_attacks.FGSM`."""
  name = "foolbox_fgsm"

  def __init__(self, *, num_epsilons: int = 1000, max_epsilon: float = 1.0,
               bisection_steps: int = 10, seed: int = 0):
    super().__init__(seed=seed)
    self.schedule = epsilon_search.linear_schedule(max_epsilon, num_epsilons)
    self.bisection_steps = int(bisection_steps)

  def foolbox_attack(self, foolbox):
    return foolbox.attacks.LinfFastGradientAttack(random_start=False)
