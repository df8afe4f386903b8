"""The nearest neighbour baseline: a class scores minus its closest training image's distance.

  logit_c(x) = -min_{i : y_i = c} ||x - t_i||_2

over the MNIST training images t_i (pixels in [0, 1], flattened to 784). The squared
distances of a batch come from one matrix product,

  ||x - t||^2 = ||x||^2 - 2 x.t + ||t||^2,

clamped at 1e-12 before the square root (float32 rounding can make it slightly negative, and
the floor keeps the gradient finite where x equals a training image). The logits are
differentiable almost everywhere: the gradient of logit_c is (t* - x) / ||x - t*|| for the
class's nearest image t*, which is what gradient-based attacks use.

The training images are not stored as a variable: the original IDX `.gz` files are the
model's assets (in a SavedModel they are copied byte for byte to `assets/`), decoded in the
graph on the first call and cached (`cache.ComputedOnce`, never saved).

References:
  Schott et al., ICLR 2019, section 5 and Table 1 ("Nearest Neighbor").
"""

import dataclasses
from typing import Optional

import tensorflow as tf

from abs_tf.data import mnist
from abs_tf.models import cache
from abs_tf.models import classifier

NUM_TRAIN_IMAGES = 60_000
_IMAGES_FILE, _LABELS_FILE = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
# IDX headers: magic number and one 32-bit big-endian size per dimension.
_IMAGES_MAGIC, _IMAGES_HEADER = 2051, 16
_LABELS_MAGIC, _LABELS_HEADER = 2049, 8
# Float32 rounding floor of the squared distances.
_MIN_SQUARED_DISTANCE = 1e-12


@dataclasses.dataclass(frozen=True)
class NearestNeighborConfig:
  """Settings of the nearest neighbour classifier.

  Attributes:
    max_train_images: use only the first N training images (None: all 60,000).
  """
  max_train_images: Optional[int] = None

  def __post_init__(self):
    if self.max_train_images is not None and self.max_train_images < 1:
      raise ValueError(f"max_train_images must be >= 1 or None, got "
                       f"{self.max_train_images!r}.")


def decode_idx(path, magic: int, header_bytes: int):
  """Decodes a gzipped IDX file in the graph.

  Args:
    path: string scalar tensor, the `.gz` file.
    magic: the expected IDX magic number (2051 images, 2049 labels).
    header_bytes: length of the header to skip.

  Returns:
    uint8 [num_bytes - header_bytes], the payload; the first dimension's size is checked
    against the header.
  """
  raw = tf.io.decode_compressed(tf.io.read_file(path), compression_type="GZIP")
  header = tf.io.decode_raw(tf.strings.substr(raw, 0, header_bytes), tf.int32,
                            little_endian=False)
  payload = tf.io.decode_raw(
      tf.strings.substr(raw, header_bytes, tf.strings.length(raw) - header_bytes), tf.uint8)
  item_size = tf.reduce_prod(header[2:]) if header_bytes > 8 else tf.constant(1)
  checks = [
      tf.debugging.assert_equal(header[0], magic,
                                message=f"{path}: not an IDX file with magic {magic}"),
      tf.debugging.assert_equal(tf.size(payload), header[1] * item_size,
                                message="IDX payload size does not match its header"),
  ]
  with tf.control_dependencies(checks):
    return tf.identity(payload)


class NearestNeighbor(classifier.Classifier):
  """Nearest neighbour classifier over the MNIST training set (L2 distance)."""
  kind = "nearest_neighbor"

  def __init__(self, images_path: str, labels_path: str,
               config: NearestNeighborConfig = NearestNeighborConfig(),
               name="nearest_neighbor"):
    """Args:
      images_path, labels_path: the original `train-images-idx3-ubyte.gz` and
        `train-labels-idx1-ubyte.gz`.
      config: the classifier's settings.
    """
    super().__init__(name=name)
    self.config = config
    self.images_asset = tf.saved_model.Asset(str(images_path))
    self.labels_asset = tf.saved_model.Asset(str(labels_path))
    num = config.max_train_images or NUM_TRAIN_IMAGES
    # Rows: the image's 784 pixels, its squared norm, its label.
    self._rows = cache.ComputedOnce(min(num, NUM_TRAIN_IMAGES), classifier.NUM_PIXELS + 2,
                                    name="training_set")

  @classmethod
  def from_training_set(cls, config: NearestNeighborConfig = NearestNeighborConfig(),
                        data_dir=None) -> "NearestNeighbor":
    """Over the shipped (sha256-verified) MNIST training files."""
    directory = mnist.verify(data_dir)
    return cls(directory / _IMAGES_FILE, directory / _LABELS_FILE, config)

  @classmethod
  def from_config(cls, config: dict) -> "NearestNeighbor":
    return cls.from_training_set(NearestNeighborConfig(**config))

  def reset_cache(self):
    self._rows.reset()

  def _decode(self):
    images = tf.reshape(decode_idx(self.images_asset.asset_path, _IMAGES_MAGIC,
                                   _IMAGES_HEADER), [-1, classifier.NUM_PIXELS])
    labels = decode_idx(self.labels_asset.asset_path, _LABELS_MAGIC, _LABELS_HEADER)
    if self.config.max_train_images is not None:
      images = images[:self.config.max_train_images]
      labels = labels[:self.config.max_train_images]
    return tf.cast(images, tf.float32) / 255.0, tf.cast(labels, tf.int32)

  def training_set(self):
    """The cached training set, decoded on first use.

    Returns:
      images float32 [N, 784] in [0, 1], their squared norms float32 [N], labels int32 [N].
    """
    def decode_rows():
      images, labels = self._decode()
      return tf.concat([images, tf.reduce_sum(tf.square(images), axis=1, keepdims=True),
                        tf.cast(labels, tf.float32)[:, None]], axis=1)

    rows = self._rows.get(decode_rows)
    return (rows[:, :classifier.NUM_PIXELS], rows[:, classifier.NUM_PIXELS],
            tf.cast(rows[:, classifier.NUM_PIXELS + 1], tf.int32))

  @tf.function(reduce_retracing=True)
  def logits_graph(self, images):
    """Args: images float32 [B, 28, 28, 1] in [0, 1]. Returns: float32 [B, 10], minus the
    L2 distance to each class's nearest training image."""
    train, train_sq, labels = self.training_set()
    x = tf.reshape(images, [-1, classifier.NUM_PIXELS])
    sq = (tf.reduce_sum(tf.square(x), axis=1, keepdims=True)
          - 2.0 * tf.matmul(x, train, transpose_b=True) + train_sq[None, :])
    distances = tf.sqrt(tf.maximum(sq, _MIN_SQUARED_DISTANCE))           # [B, N]
    nearest = tf.math.unsorted_segment_min(tf.transpose(distances), labels,
                                           classifier.NUM_CLASSES)       # [10, B]
    return -tf.transpose(nearest)

  def export_variables(self):
    return []

  def config_dict(self):
    return dataclasses.asdict(self.config)

  def prepare_export(self):
    self.reset_cache()
