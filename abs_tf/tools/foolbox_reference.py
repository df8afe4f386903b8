"""Foolbox 3's L-inf BIM behind this project's attack interface, as an independent reference.

`FoolboxLinfBIM` runs `foolbox.attacks.LinfBasicIterativeAttack` (Foolbox 3.3.4, a test
dependency) inside the same per-sample epsilon search (`epsilon_search.search`) and the same
verifying base as `bim_linf`, so a comparison of the two isolates the inner BIM: CleverHans'
PGD (this project) against Foolbox's. Foolbox takes a tensor of per-sample epsilons
[B, 1, 1, 1] in `run` (its projection and step size broadcast).

Used by tests/test_gradient_attacks.py and scripts/compare_foolbox.py; not by the library.

References:
  Rauber, Zimmermann, Bethge & Brendel, Foolbox Native, JOSS 5(53) 2607 (2020).
  Kurakin et al., arXiv:1607.02533 (BIM).
"""

import time

import numpy as np
import tensorflow as tf

from abs_tf.attacks import base
from abs_tf.attacks import epsilon_search


class FoolboxLinfBIM(base.MinimizationAttack):
  """Minimal L-inf adversarials by Foolbox 3's BIM under this project's epsilon search.

  Hyperparameters and defaults are those of `gradient_attacks.BIMLinf`.
  """
  name, metric = "foolbox_bim_linf", base.LINF

  def __init__(self, *, iterations: int = 10, relative_step: float = 1.0 / 6.0,
               initial_epsilon: float = 0.3, growth: float = 1.5, max_epsilon: float = 1.0,
               bisection_steps: int = 20, seed: int = 0):
    super().__init__(seed=seed)
    self.iterations = int(iterations)
    self.relative_step = float(relative_step)
    self.schedule = epsilon_search.geometric_schedule(initial_epsilon, growth, max_epsilon)
    self.bisection_steps = int(bisection_steps)

  def run(self, model, images, labels, rng):
    import foolbox  # a test dependency, needed only here
    del rng
    fmodel = foolbox.TensorFlowModel(model.model.logits_graph, bounds=(0, 1))
    attack = foolbox.attacks.LinfBasicIterativeAttack(
        rel_stepsize=self.relative_step, steps=self.iterations, random_start=False)

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
