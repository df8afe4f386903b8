"""Copies PyTorch state-dict arrays (as numpy) into Keras 3 layers.

Layouts (third_party/abs_authors/README.md): Conv2d weight (out, in, kh, kw) -> Keras
(kh, kw, in, out); ConvTranspose2d weight (in, out, kh, kw) -> Keras (kh, kw, out, in);
BatchNorm weight, bias, running_mean, running_var -> gamma, beta, moving_mean,
moving_variance.
"""

from typing import Mapping

import keras
import numpy as np


def _check(name, found, expected):
  if tuple(found) != tuple(expected):
    raise ValueError(f"{name}: expected shape {tuple(expected)}, got {tuple(found)}.")


def load_sequential(net: keras.Sequential, weights: Mapping[str, np.ndarray], prefix: str):
  """Assigns `{prefix}conv_{i}` and `{prefix}bn_{j}` arrays to a built Sequential in order.

  Args:
    net: a built Sequential of Conv2D / Conv2DTranspose / BatchNormalization / activations.
    weights: arrays by PyTorch state-dict key.
    prefix: key prefix of this network, e.g. "class_3/Decoder.".

  Raises:
    KeyError: a needed array is missing. ValueError: an array has the wrong shape, or
    arrays under `prefix` were left unused.
  """
  used = set()
  conv_index = bn_index = 0

  def get(key):
    used.add(key)
    return np.asarray(weights[key], np.float32)

  for layer in net.layers:
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
      kernel = get(f"{prefix}conv_{conv_index}.weight").transpose(2, 3, 1, 0)
      bias = get(f"{prefix}conv_{conv_index}.bias")
      conv_index += 1
    elif isinstance(layer, keras.layers.BatchNormalization):
      values = [get(f"{prefix}bn_{bn_index}.{k}")
                for k in ("weight", "bias", "running_mean", "running_var")]
      used.add(f"{prefix}bn_{bn_index}.num_batches_tracked")
      bn_index += 1
      for var, value in zip(layer.weights, values):
        _check(var.path, value.shape, var.shape)
      layer.set_weights(values)
      continue
    else:
      continue
    _check(layer.kernel.path, kernel.shape, layer.kernel.shape)
    layer.set_weights([kernel, bias])
  unused = sorted(k for k in weights if k.startswith(prefix) and k not in used)
  if unused:
    raise ValueError(f"Arrays not used by the network: {unused}")
