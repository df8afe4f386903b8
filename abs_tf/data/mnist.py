"""MNIST from the four original IDX files, verified by sha256.

The project ships the files in `data/mnist/` (and installs them under
`<prefix>/share/abs_tf/mnist`), so nothing is downloaded at run time.

References:
  Y. LeCun, C. Cortes, C. J. C. Burges. The MNIST database of handwritten digits.
"""

import dataclasses
import gzip
import hashlib
import os
import pathlib
from typing import Optional, Union

import numpy as np

from abs_tf import resources

# sha256 of the original files (data/mnist/README.md).
SHA256 = {
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049
DATA_DIR_ENV = "ABS_TF_DATA_DIR"


@dataclasses.dataclass(frozen=True)
class Split:
  """One MNIST split.

  Attributes:
    images: float32 [N, 28, 28, 1], values in [0, 1].
    labels: int64 [N], values in 0..9.
  """
  images: np.ndarray
  labels: np.ndarray

  def __len__(self):
    return len(self.labels)

  def take(self, first_index: int, num: int) -> "Split":
    """Returns the samples first_index .. first_index + num - 1."""
    if first_index < 0 or num < 0 or first_index + num > len(self):
      raise ValueError(
          f"Expected 0 <= first_index and first_index + num <= {len(self)}, got "
          f"first_index={first_index}, num={num}.")
    end = first_index + num
    return Split(self.images[first_index:end], self.labels[first_index:end])


def default_data_dirs():
  """Directories searched for the IDX files, in order."""
  return resources.resource_candidates("data/mnist", DATA_DIR_ENV)


def sha256_of(path: pathlib.Path) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def _find_dir(data_dir):
  if data_dir is not None:
    return pathlib.Path(data_dir)
  for candidate in default_data_dirs():
    if all((candidate / name).is_file() for name in SHA256):
      return candidate
  raise FileNotFoundError(
      "Could not find the MNIST files "
      f"{sorted(SHA256)} in any of {[str(d) for d in default_data_dirs()]}; "
      f"pass data_dir or set ${DATA_DIR_ENV}.")


def _read_idx(path: pathlib.Path, magic: int) -> np.ndarray:
  with gzip.open(path, "rb") as f:
    raw = f.read()
  found = int.from_bytes(raw[:4], "big")
  if found != magic:
    raise ValueError(f"{path}: expected IDX magic {magic}, found {found}.")
  ndim = magic & 0xFF
  shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
  data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
  return data.reshape(shape)


def verify(data_dir: Optional[Union[str, os.PathLike]] = None) -> pathlib.Path:
  """Checks that all four files exist with their published sha256.

  Returns:
    The directory that holds them.

  Raises:
    FileNotFoundError: a file is missing.
    ValueError: a file's checksum differs from the original's.
  """
  directory = _find_dir(data_dir)
  for name, expected in SHA256.items():
    path = directory / name
    if not path.is_file():
      raise FileNotFoundError(f"MNIST file {path} is missing.")
    found = sha256_of(path)
    if found != expected:
      raise ValueError(
          f"MNIST file {path} has sha256 {found}, expected {expected}: the file is "
          "corrupt or not the original.")
  return directory


_CACHE = {}


def load(split: str = "test",
         data_dir: Optional[Union[str, os.PathLike]] = None) -> Split:
  """Loads one MNIST split after verifying the files' checksums.

  Args:
    split: "train" (60,000 images) or "test" (10,000 images).
    data_dir: directory with the four `.gz` files; by default the shipped copy.

  Returns:
    A `Split` with images float32 [N, 28, 28, 1] in [0, 1] and labels int64 [N].
  """
  if split not in _FILES:
    raise ValueError(f"Expected split 'train' or 'test', got {split!r}.")
  directory = verify(data_dir)
  key = (str(directory.resolve()), split)
  if key not in _CACHE:
    images_file, labels_file = _FILES[split]
    images = _read_idx(directory / images_file, _IMAGES_MAGIC)
    labels = _read_idx(directory / labels_file, _LABELS_MAGIC)
    if len(images) != len(labels):
      raise ValueError(f"{len(images)} images but {len(labels)} labels in {directory}.")
    images = (images.astype(np.float32) / 255.0)[..., None]
    images.setflags(write=False)
    labels = labels.astype(np.int64)
    labels.setflags(write=False)
    _CACHE[key] = Split(images, labels)
  return _CACHE[key]
