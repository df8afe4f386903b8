"""Convolutional baselines: the paper's CNN, Binary CNN and the substitute CNN.

The paper's CNN (section 5): four convolutions with 20, 70, 256 and 10 feature maps, kernels
5, 4, 3, 5, strides 1, 2, 2, 1, "valid" padding, ELU, batch norm after the first three; the
last convolution's 1x1x10 output are the logits. Binary CNN binarises its input at 0.5 (in
training and at test time) with a straight-through gradient.

References:
  Schott et al., ICLR 2019, section 5 and Table 1.
"""

import dataclasses
from typing import Sequence

import keras
import tensorflow as tf

from abs_tf.models import binarization
from abs_tf.models import classifier


@dataclasses.dataclass(frozen=True)
class CNNConfig:
  """Architecture of a CNN baseline; the defaults are the paper's CNN.

  Attributes:
    filters, kernels, strides: one entry per convolution; the last has 10 filters and
      reduces the map to 1x1.
    binarize: binarise inputs at 0.5 (Binary CNN).
  """
  filters: Sequence[int] = (20, 70, 256, 10)
  kernels: Sequence[int] = (5, 4, 3, 5)
  strides: Sequence[int] = (1, 2, 2, 1)
  binarize: bool = False

  def __post_init__(self):
    for name in ("filters", "kernels", "strides"):
      object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
    if not len(self.filters) == len(self.kernels) == len(self.strides) >= 1:
      raise ValueError("filters, kernels and strides must have the same length >= 1.")
    if self.filters[-1] != classifier.NUM_CLASSES:
      raise ValueError(f"The last convolution must have {classifier.NUM_CLASSES} filters.")
    size = 28
    for k, s in zip(self.kernels, self.strides):
      size = (size - k) // s + 1
    if size != 1:
      raise ValueError(f"The convolutions must reduce 28x28 to 1x1, they give {size}x{size}.")


class CNN(classifier.Classifier):
  """A CNN baseline; `net` is a Keras 3 Sequential producing [B, 1, 1, 10] logits."""
  kind = "cnn"

  def __init__(self, config: CNNConfig = CNNConfig(), name="cnn"):
    super().__init__(name=name)
    self.config = config
    layers = [keras.Input(classifier.IMAGE_SHAPE)]
    last = len(config.filters) - 1
    for i, (f, k, s) in enumerate(zip(config.filters, config.kernels, config.strides)):
      layers.append(keras.layers.Conv2D(f, k, strides=s, padding="valid"))
      if i < last:
        layers += [keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9),
                   keras.layers.Activation("elu")]
    layers.append(keras.layers.Flatten())
    self.net = keras.Sequential(layers)

  def preprocess(self, images):
    return binarization.binarize(images) if self.config.binarize else images

  def logits_graph(self, images, training=False):
    return self.net(self.preprocess(images), training=training)

  def export_variables(self):
    return [w.value for w in self.net.weights]

  def config_dict(self):
    return dataclasses.asdict(self.config)

  @classmethod
  def from_config(cls, config: dict) -> "CNN":
    return cls(CNNConfig(**config))
