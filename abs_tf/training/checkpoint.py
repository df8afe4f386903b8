"""Atomic, resumable checkpoints of a training run as numpy archives.

A checkpoint is one `.npz` with every variable's value (model weights and optimiser slots,
in a fixed order) and a JSON state (epoch, step, history). It is written to a temporary file
and renamed, so an interrupted write never corrupts the last good checkpoint.
"""

import json
import os
import pathlib
from typing import Optional, Sequence

import numpy as np

_LATEST = "checkpoint.npz"


def save(directory, variables: Sequence, state: dict):
  """Writes the values of `variables` and `state` (JSON-serialisable) to `directory`."""
  directory = pathlib.Path(directory)
  directory.mkdir(parents=True, exist_ok=True)
  arrays = {f"v{i:05d}": np.asarray(v.numpy()) for i, v in enumerate(variables)}
  arrays["state"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
  tmp = directory / (_LATEST + ".tmp.npz")
  np.savez(tmp, **arrays)
  os.replace(tmp, directory / _LATEST)


def read_state(directory) -> Optional[dict]:
  """The JSON state of the checkpoint in `directory` (None without one), no variables."""
  path = pathlib.Path(directory) / _LATEST
  if not path.is_file():
    return None
  with np.load(path) as data:
    return json.loads(bytes(data["state"]).decode())


def restore(directory, variables: Sequence) -> Optional[dict]:
  """Restores `variables` from the checkpoint in `directory`.

  Returns:
    The saved state, or None when there is no checkpoint.

  Raises:
    ValueError: the checkpoint holds a different number or shape of variables.
  """
  path = pathlib.Path(directory) / _LATEST
  if not path.is_file():
    return None
  with np.load(path) as data:
    keys = sorted(k for k in data.files if k.startswith("v"))
    if len(keys) != len(variables):
      raise ValueError(f"{path} holds {len(keys)} variables, the run has {len(variables)}: "
                       "was it written by another configuration?")
    for key, var in zip(keys, variables):
      value = data[key]
      if tuple(value.shape) != tuple(var.shape):
        raise ValueError(f"{path}: {key} has shape {value.shape}, expected {var.shape}.")
      var.assign(value)
    return json.loads(bytes(data["state"]).decode())
