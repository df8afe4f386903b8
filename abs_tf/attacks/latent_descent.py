"""The Latent Descent attack on ABS and Binary ABS (L2).

Designed in the paper for ABS's structure (section 4, eq. 9). Per step, ABS infers the
image x_t: for every class y its optimal latent and the reconstruction x~_y at it. The attack
takes the most likely wrong class y~ (highest logit other than the label) and moves towards
that class's reconstruction of the current image,

  x_{t+1} = (1 - epsilon) x_t + epsilon x~_{y~}(x_t),        epsilon = 0.01,   (eq. 9)

until ABS's decision changes (at most `max_steps` steps). A binary search between the
original and that adversarial then brings it as close to the original as possible.

Each step costs one inference per sample, counted as one query; the decision at x_t comes
from the same inference. Only models with a latent inference (`infer_graph`, i.e. ABS and
Binary ABS) can be attacked; others are refused.

References:
  Schott et al., ICLR 2019, section 4 ("Latent Descent attack"), eq. 9.
"""

import numpy as np

from abs_tf.attacks import base
from abs_tf.attacks import bisection
from abs_tf.attacks import catalog
from abs_tf.models import classifier


@catalog.register
class LatentDescentAttack(base.MinimizationAttack):
  """Latent Descent.

  Args:
    epsilon: step towards the reconstruction, in (0, 1]; the paper: 0.01.
    max_steps: steps before giving up on a sample.
    search_steps: halvings of the final binary search towards the original.
    seed: unused (the attack is deterministic), kept for the common interface.
  """
  name = "latent_descent"
  metric = base.L2
  kind, title, place = catalog.MODEL_SPECIFIC, "Latent Descent", 70
  requires = catalog.LATENT_INFERENCE

  def __init__(self, *, epsilon: float = 0.01, max_steps: int = 500, search_steps: int = 12,
               seed: int = 0):
    super().__init__(seed=seed)
    if not 0 < epsilon <= 1:
      raise ValueError(f"epsilon must lie in (0, 1], got {epsilon!r}.")
    if not (isinstance(max_steps, (int, np.integer)) and max_steps >= 1):
      raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}.")
    if not (isinstance(search_steps, (int, np.integer)) and search_steps >= 0):
      raise ValueError(f"search_steps must be an integer >= 0, got {search_steps!r}.")
    self.epsilon = float(epsilon)
    self.max_steps = int(max_steps)
    self.search_steps = int(search_steps)

  def __call__(self, model, images, labels, binarized: bool = False) -> base.AttackResult:
    """As `MinimizationAttack.__call__`; `model` must be ABS or Binary ABS.

    Raises:
      TypeError: the model has no latent inference (`infer_graph`).
    """
    if not classifier.has_latent_inference(model):
      raise TypeError(
          f"latent_descent attacks ABS models only (it needs their latent inference, "
          f"`infer_graph`); got {type(model).__name__}. Load ABS or Binary ABS in memory "
          "(registry.load_model(name, source='memory')).")
    return super().__call__(model, images, labels, binarized)

  def run(self, model, images, labels, rng):
    del rng  # deterministic
    n = len(images)
    current = images.astype(np.float64)
    adversarials = images.copy()
    found = np.zeros(n, bool)
    rows = np.arange(n)
    inference = model.infer(images, rows)
    for step in range(self.max_steps + 1):
      flipped = inference["logits"].argmax(axis=1) != labels[rows]
      adversarials[rows[flipped]] = current[rows[flipped]].astype(np.float32)
      found[rows[flipped]] = True
      keep = ~flipped
      rows = rows[keep]
      if not len(rows) or step == self.max_steps:
        break
      logits = inference["logits"][keep]
      logits[np.arange(len(rows)), labels[rows]] = -np.inf
      target = logits.argmax(axis=1)
      reconstruction = inference["reconstructions"][keep][np.arange(len(rows)), target]
      current[rows] = (1.0 - self.epsilon) * current[rows] + self.epsilon * reconstruction
      inference = model.infer(current[rows].astype(np.float32), rows)
    done = np.flatnonzero(found)
    if self.search_steps and len(done):
      adversarials[done] = bisection.blend_search(
          model, images[done], adversarials[done], labels[done], self.search_steps, done)
    return adversarials
