"""Fingerprints of exported models: what a SavedModel computes, not how its graph is written.

Every evaluation result is bound to the model that produced it by a fingerprint (part of the
row's budget fingerprint), so that results of other weights never mix with old ones. The
evaluation runs the Python model that `saved_model.load_in_memory` rebuilds from a SavedModel
exported by this project, and that model is determined by:

- `assets/abs_tf_model.json`: its kind and configuration (latent-search settings, class
  scales, binarisation, layer sizes, ...), the two fields `load_in_memory` reads;
- the exported variables (`ServingModule.model_variables`, in export order): weights,
  batch-norm statistics, ABS's prototype latents;
- the other files under `assets/` (the nearest neighbour's training files).

`model_fingerprint` hashes exactly these: the first 12 hex digits of the SHA-256 of the
canonical JSON (sorted keys, no spaces) of

    {"model": {"kind": ..., "config": ...},                      # abs_tf_model.json, parsed
     "variables": [[dtype, shape, sha256 of the little-endian bytes], ...],   # in order
     "assets": {path under assets/: sha256 of the file's bytes}}  # all but abs_tf_model.json

The variables are read from the checkpoint (`variables/variables`) without building a graph.
Not hashed: the serving graph (saved_model.pb, fingerprint.pb: signatures, input checks,
batch buckets), saved caches (`model_resources`, empty when exported), `assets.extra/` (TF
Serving's warmup requests). So a re-export of the same model with another serving graph keeps
its fingerprint, and a changed weight, latent, configuration value or training file changes
it. What is not data (this project's code) is not covered.

A SavedModel not exported by this project (no abs_tf_model.json) is run through its serving
signature, i.e. its graph: its fingerprint is `serialized_fingerprint`, a hash of its
fingerprint.pb (TensorFlow's checksums of the graph and the checkpoint).
"""

import hashlib
import json
import pathlib
import re
from typing import List

import numpy as np
import tensorflow as tf

from abs_tf.export import saved_model

DIGITS = 12
# Checkpoint keys of `saved_model.ServingModule.model_variables`, by position.
_VARIABLE_KEY = re.compile(r"^model_variables/(\d+)/\.ATTRIBUTES/VARIABLE_VALUE$")


def digest(value) -> str:
  """12 hex digits of the SHA-256 of a JSON-able value's canonical JSON (sorted keys)."""
  text = json.dumps(value, sort_keys=True, separators=(",", ":"))
  return hashlib.sha256(text.encode()).hexdigest()[:DIGITS]


def model_fingerprint(export_dir) -> str:
  """The fingerprint of a SavedModel: `exported_fingerprint` for one exported by this
  project (with assets/abs_tf_model.json), `serialized_fingerprint` for any other."""
  if (pathlib.Path(export_dir) / "assets" / saved_model.MODEL_JSON).is_file():
    return exported_fingerprint(export_dir)
  return serialized_fingerprint(export_dir)


def exported_fingerprint(export_dir) -> str:
  """12 hex digits of what determines an exported model's outputs (see the module docstring).

  Raises:
    FileNotFoundError: no assets/abs_tf_model.json.
    ValueError: abs_tf_model.json without kind or config, or gaps in the variables' keys.
  """
  return digest(manifest(export_dir))


def manifest(export_dir) -> dict:
  """What `exported_fingerprint` hashes: the model's kind and configuration, each exported
  variable's dtype, shape and SHA-256, each asset's SHA-256 (JSON-able)."""
  path = pathlib.Path(export_dir)
  meta = saved_model.read_model_json(path)
  if not {"kind", "config"} <= set(meta):
    raise ValueError(f"{path}/assets/{saved_model.MODEL_JSON} must hold 'kind' and 'config', "
                     f"got {sorted(meta)}.")
  variables = [[value.dtype.name, list(value.shape), _sha256(_little_endian_bytes(value))]
               for value in exported_variables(path)]
  assets = {file.relative_to(path / "assets").as_posix(): _sha256(file.read_bytes())
            for file in sorted((path / "assets").rglob("*"))
            if file.is_file() and file.name != saved_model.MODEL_JSON}
  return {"model": {"kind": meta["kind"], "config": meta["config"]}, "variables": variables,
          "assets": assets}


def exported_variables(export_dir) -> List[np.ndarray]:
  """The values of `model_variables` in the SavedModel's checkpoint, in export order.

  Raises:
    ValueError: the positions found are not 0, 1, ..., n - 1.
  """
  prefix = pathlib.Path(export_dir) / "variables" / "variables"
  if not prefix.with_suffix(".index").is_file():
    return []
  reader = tf.train.load_checkpoint(str(prefix))
  keys = {int(match.group(1)): key for key in reader.get_variable_to_shape_map()
          if (match := _VARIABLE_KEY.match(key))}
  if sorted(keys) != list(range(len(keys))):
    raise ValueError(f"{prefix}: model_variables positions {sorted(keys)} are not "
                     f"0..{len(keys) - 1}.")
  return [np.asarray(reader.get_tensor(keys[i])) for i in range(len(keys))]


def serialized_fingerprint(export_dir) -> str:
  """12 hex digits of the SavedModel's fingerprint.pb (TensorFlow's checksums of its graph
  and checkpoint), or of saved_model.pb where there is no fingerprint.pb.

  Changes with any re-export, even of the same model: the fingerprint of SavedModels this
  project did not export, which run through their graph.

  Raises:
    FileNotFoundError: not a SavedModel directory.
  """
  path = pathlib.Path(export_dir)
  for name in ("fingerprint.pb", "saved_model.pb"):
    if (path / name).is_file():
      return _sha256((path / name).read_bytes())[:DIGITS]
  raise FileNotFoundError(f"{path} is not a SavedModel directory (no saved_model.pb).")


def _little_endian_bytes(value: np.ndarray) -> bytes:
  return np.ascontiguousarray(value, value.dtype.newbyteorder("<")).tobytes()


def _sha256(data: bytes) -> str:
  return hashlib.sha256(data).hexdigest()
