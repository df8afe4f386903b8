"""The convolutional network of Madry et al.'s MNIST challenge, trained adversarially.

Architecture (Madry et al., ICLR 2018, MNIST; "same" padding throughout):

  conv 5x5, 32, ReLU -> max-pool 2 -> conv 5x5, 64, ReLU -> max-pool 2
  -> dense 1024, ReLU -> dense 10 (logits)

Input float32 [B, 28, 28, 1] in [0, 1], no normalisation. What makes the model robust is its
training (PGD adversarial training, `abs_tf/training/classifier_training.py`), not its layers.

References:
  Madry, Makelov, Schmidt, Tsipras, Vladu. Towards deep learning models resistant to
  adversarial attacks. ICLR 2018. Schott et al., ICLR 2019, Table 1 ("Madry et al.").
"""

import dataclasses

import keras

from abs_tf.models import classifier


@dataclasses.dataclass(frozen=True)
class MadryConfig:
  """Widths of the Madry et al. network; the defaults are theirs.

  Attributes:
    filters: feature maps of the two convolutions.
    kernel: their square kernel size.
    hidden_units: width of the hidden dense layer.
  """
  filters: tuple = (32, 64)
  kernel: int = 5
  hidden_units: int = 1024

  def __post_init__(self):
    object.__setattr__(self, "filters", tuple(int(f) for f in self.filters))
    if len(self.filters) != 2 or min(self.filters) < 1:
      raise ValueError(f"filters must be two positive ints, got {self.filters!r}.")
    if self.kernel < 1 or self.hidden_units < 1:
      raise ValueError(f"kernel and hidden_units must be >= 1, got {self.kernel}, "
                       f"{self.hidden_units}.")


class Madry(classifier.Classifier):
  """The Madry et al. MNIST network; `net` is a Keras 3 Sequential giving [B, 10] logits."""
  kind = "madry"

  def __init__(self, config: MadryConfig = MadryConfig(), name="madry"):
    super().__init__(name=name)
    self.config = config
    layers = [keras.Input(classifier.IMAGE_SHAPE)]
    for f in config.filters:
      layers += [keras.layers.Conv2D(f, config.kernel, padding="same", activation="relu"),
                 keras.layers.MaxPooling2D(2, padding="same")]
    layers += [keras.layers.Flatten(),
               keras.layers.Dense(config.hidden_units, activation="relu"),
               keras.layers.Dense(classifier.NUM_CLASSES)]
    self.net = keras.Sequential(layers)

  def logits_graph(self, images, training=False):
    return self.net(images, training=training)

  def export_variables(self):
    return [w.value for w in self.net.weights]

  def config_dict(self):
    return dataclasses.asdict(self.config)

  @classmethod
  def from_config(cls, config: dict) -> "Madry":
    return cls(MadryConfig(**config))
