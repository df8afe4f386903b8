"""How each baseline of the zoo is built and trained, as data.

A `Recipe` names the model builder and its default training settings; the nearest neighbour
classifier has no training (config None) and is only exported. `train_baseline` reads these
and lets flags override the settings.

References:
  Schott et al., ICLR 2019, section 5 and Table 1. Madry et al., ICLR 2018.
  Wong, Rice, Kolter, Fast is better than free, ICLR 2020 (the one-step first stage).
"""

import dataclasses
from typing import Callable, Dict, Optional

from abs_tf.models import classifier
from abs_tf.models import cnn
from abs_tf.models import madry
from abs_tf.models import nearest_neighbor
from abs_tf.training import classifier_training as ct

# The substitute CNN of the transfer attacks: its own widths and its own seed.
SUBSTITUTE_CNN_CONFIG = cnn.CNNConfig(filters=(32, 32, 64, 10))

# Madry et al. trained 100,000 steps of batch 50 with 40-step PGD (5M attacked images, 205M
# forward-backward passes); on 2 shared CPU cores (about 25 such images per second at best)
# that is out of reach. This budget (about 2 hours, 1.7M passes) trains 4 epochs with
# one-step FGSM with random start (step 1.25 eps, eps ramped up over 2 epochs; Wong et al.
# 2020), then 3.5 epochs with 5-step PGD of step 0.1 (random start), which closes the gap
# between one-step and multi-step robustness that the one-step stage leaves.
MADRY_ADVERSARIAL = ct.AdversarialConfig(
    epsilon=0.3, ramp_epochs=2.0,
    stages=(ct.AttackStage(4, 1, 0.375), ct.AttackStage(3.5, 5, 0.1)))


@dataclasses.dataclass(frozen=True)
class Recipe:
  """A baseline: how to build it and, if it is trained, how.

  Attributes:
    build: returns the untrained model.
    config: default training settings; None for a model without training.
  """
  build: Callable[[], classifier.Classifier]
  config: Optional[ct.TrainConfig]


RECIPES: Dict[str, Recipe] = {
    "cnn": Recipe(lambda: cnn.CNN(cnn.CNNConfig(), name="cnn"),
                  ct.TrainConfig(epochs=10, max_shift=2, seed=0)),
    "binary_cnn": Recipe(lambda: cnn.CNN(cnn.CNNConfig(binarize=True), name="binary_cnn"),
                         ct.TrainConfig(epochs=6, seed=0)),
    "substitute_cnn": Recipe(lambda: cnn.CNN(SUBSTITUTE_CNN_CONFIG, name="substitute_cnn"),
                             ct.TrainConfig(epochs=4, seed=1)),
    "madry": Recipe(madry.Madry, ct.TrainConfig(
        epochs=None, batch_size=100, learning_rate=1e-3, final_learning_rate_fraction=0.1,
        checkpoint_every=100,
        adversarial=MADRY_ADVERSARIAL)),
    "nearest_neighbor": Recipe(nearest_neighbor.NearestNeighbor.from_training_set, None),
}


def get_recipe(name: str) -> Recipe:
  if name not in RECIPES:
    raise ValueError(f"No recipe for {name!r}; known: {sorted(RECIPES)}.")
  return RECIPES[name]
