"""The Analysis by Synthesis (ABS) classifier and its binary variant.

ABS scores an image under each class's generative model and picks the class that explains
it best (Bayes' rule with a uniform prior, eq. 1 of the paper):

  logit_c(x) = -gamma_c * min_z L_c(x', z),   p(c | x) = softmax(s * logits)_c

with L_c the bound of eq. 8 (`latent_search.py`), x' = x for ABS and x' = binarise(x) for
Binary ABS, gamma_c the class scalars (all 1 for ABS) and s a documented temperature
(`probability_scale`, 440 as in the authors' code).

The logits are differentiable in x by the envelope theorem: at the optimum z* the derivative
of min_z L_c(x, z) is the partial derivative in x with z held at z*, which is what autodiff
through `__call__` gives (the search itself runs under stop_gradient); for Binary ABS the
binarisation passes gradients straight through (Bengio et al., 2013).

References:
  Schott et al., ICLR 2019, section 3.
"""

import dataclasses
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from abs_tf.models import binarization
from abs_tf.models import cache
from abs_tf.models import class_decoders
from abs_tf.models import classifier
from abs_tf.models import latent_search
from abs_tf.models import vae as vae_lib

NUM_CLASSES = classifier.NUM_CLASSES
# Temperature of the authors' probabilities, softmax(-440 * ELBO).
PROBABILITY_SCALE = 440.0
# Prototype latents decoded at once on the first call: the decoders' activations for
# 10 x 500 images take ~0.5 GB; the first call's memory grows with this, its time hardly.
DECODE_CHUNK = 500
# The latent search runs on batches padded to one of these sizes (beyond the last, to a
# multiple of it): XLA compiles the decoders once per batch size (3-4 s each here), and
# attacks shrink their batches as samples succeed. At most 1.5x the work of the batch.
BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512,
                 768, 1024)
# A padded batch of more images is searched in pieces of at most this many, one after the
# other: the search's memory grows with its batch and its speed hardly does beyond this
# (abs_authors' logits of 1,024 images, in one process, in pieces of 256, then of 512, then at
# once: peaks of 1,815, 2,007, 2,512 MiB; of 2,048 at once in a fresh process 3,855 MiB), and
# an image's result does not depend on the rest of its batch (the same logits bit for bit).
SEARCH_PIECE = 512


@dataclasses.dataclass(frozen=True)
class ABSConfig:
  """Settings of an ABS classifier.

  Attributes:
    search: the latent search's settings.
    binarize: binarise inputs at 0.5 before inference (Binary ABS).
    class_scales: gamma_c, 10 positive floats multiplying the bounds (Binary ABS).
    probability_scale: temperature s of the softmax over the logits.
  """
  search: latent_search.LatentSearchConfig = latent_search.LatentSearchConfig()
  binarize: bool = False
  class_scales: Sequence[float] = (1.0,) * NUM_CLASSES
  probability_scale: float = PROBABILITY_SCALE

  def __post_init__(self):
    scales = tuple(float(s) for s in self.class_scales)
    if len(scales) != NUM_CLASSES or not all(s > 0 for s in scales):
      raise ValueError(f"class_scales must be {NUM_CLASSES} positive floats, got "
                       f"{self.class_scales!r}.")
    object.__setattr__(self, "class_scales", scales)
    if not self.probability_scale > 0:
      raise ValueError(f"probability_scale must be > 0, got {self.probability_scale!r}.")


@dataclasses.dataclass(frozen=True)
class Inference:
  """What ABS inferred for a batch of B images.

  Attributes:
    losses: float32 [B, 10], min_z L_c(x', z) per class (before the class scales).
    latents: float32 [B, 10, 8], the best z per class.
    reconstructions: float32 [B, 10, 28, 28, 1], decoder means at those z.
    logits: float32 [B, 10], -gamma_c * losses.
  """
  losses: tf.Tensor
  latents: tf.Tensor
  reconstructions: tf.Tensor
  logits: tf.Tensor


class ABS(classifier.Classifier):
  """ABS (or Binary ABS) built on ten class-conditional decoders.

  The decodings of the prototype latents are computed on the first call and cached
  (`cache.ComputedOnce`, about 31 MB per 1,000 samples, never saved); `reset_cache()` drops
  them, e.g. after the decoders' weights change.
  """
  kind = "abs"

  def __init__(self, decoders: Sequence[vae_lib.Decoder], config: ABSConfig = ABSConfig(),
               latents: Optional[np.ndarray] = None, name="abs"):
    """Args:
      decoders: one decoder per class, in class order.
      config: the classifier's settings.
      latents: float32 [num_samples, 8] prototype latents; by default drawn with
        `latent_search.draw_latents(config.search.num_samples, seed=config.search.seed)`.
    """
    super().__init__(name=name)
    if len(decoders) != NUM_CLASSES:
      raise ValueError(f"Expected {NUM_CLASSES} decoders, got {len(decoders)}.")
    self.config = config
    self.decoders = list(decoders)
    if latents is None:
      latents = latent_search.draw_latents(config.search.num_samples,
                                           seed=config.search.seed)
    latents = np.asarray(latents, np.float32)
    if latents.shape != (config.search.num_samples, vae_lib.LATENT_SIZE):
      raise ValueError(f"latents must have shape ({config.search.num_samples}, "
                       f"{vae_lib.LATENT_SIZE}), got {latents.shape}.")
    self.latents = tf.Variable(latents, trainable=False, name="latents")
    self.class_scales = tf.constant(config.class_scales, tf.float32)
    self._prototypes = cache.ComputedOnce(
        NUM_CLASSES * config.search.num_samples, latent_search.NUM_PIXELS + 1,
        name="prototypes")

  # -- building blocks ----------------------------------------------------------------

  def folded_decoders(self) -> class_decoders.ClassDecoders:
    """The ten decoders as one computation, with their current weights (call in a graph)."""
    return class_decoders.ClassDecoders.fold(self.decoders)

  def reset_cache(self):
    """Drops the decoded prototypes; the next call decodes them again."""
    self._prototypes.reset()

  def _decode_latents(self, decoders: class_decoders.ClassDecoders):
    """Rows of the prototype search for every latent and class, [N * 10, 785] (see
    `latent_search.prototype_rows`), decoded in chunks of DECODE_CHUNK latents."""
    num = tf.shape(self.latents)[0]
    count = (num + DECODE_CHUNK - 1) // DECODE_CHUNK
    pieces = tf.TensorArray(tf.float32, size=count, infer_shape=False)
    for i in tf.range(count):
      z = self.latents[i * DECODE_CHUNK:(i + 1) * DECODE_CHUNK]
      means = decoders.mean(tf.tile(z[None], [NUM_CLASSES, 1, 1]), compiled=False)
      pieces = pieces.write(i, latent_search.prototype_rows(
          tf.transpose(means, [1, 0, 2]), z, self.config.search.beta))
    return pieces.concat()

  def prototype_rows(self, decoders: Optional[class_decoders.ClassDecoders] = None):
    """[N * 10, 785] rows of the prototype search, decoded once (see cache.py).

    Args:
      decoders: `folded_decoders()` of this graph, if already built (the latent search
        shares them); by default built here.
    """
    return self._prototypes.get(
        lambda: self._decode_latents(decoders or self.folded_decoders()))

  def preprocess(self, images):
    """Binarises (straight-through) if configured; flattens to [B, 784]."""
    if self.config.binarize:
      images = binarization.binarize(images)
    return tf.reshape(images, [-1, latent_search.NUM_PIXELS])

  # -- inference ----------------------------------------------------------------------

  def infer(self, images) -> Inference:
    """Runs the latent search for every class.

    Args:
      images: float32 [B, 28, 28, 1] in [0, 1] (validated here).

    Returns:
      An `Inference`. Gradients flow to `images` by the envelope theorem only.
    """
    return Inference(**self.infer_graph(classifier.validate_images(images)))

  @tf.function(reduce_retracing=True)
  def infer_graph(self, images):
    """`infer` without validation, as a dict of tensors; callable inside graphs."""
    x = self.preprocess(images)
    batch = tf.shape(x)[0]
    size = bucket_size(batch)
    # Pieces of equal size: beyond 512 the buckets are 768 (2 x 384) and multiples of 1,024.
    pieces = (size + SEARCH_PIECE - 1) // SEARCH_PIECE
    x_search = tf.reshape(pad_batch(tf.stop_gradient(x), size),
                          [pieces, size // pieces, latent_search.NUM_PIXELS])
    decoders = self.folded_decoders()
    rows = self.prototype_rows(decoders)

    def search(x_piece):
      z0 = latent_search.prototype_search(x_piece, rows, self.latents)
      # Class-major ([10, b, ...]): each class's decoder reads one slice.
      _, z, means = latent_search.refine(x_piece[None], tf.transpose(z0, [1, 0, 2]),
                                         decoders, self.config.search)
      return z, means

    z, means = tf.map_fn(search, x_search, fn_output_signature=(tf.float32, tf.float32),
                         parallel_iterations=1)                  # [pieces, 10, b, ...]
    z = tf.stop_gradient(_batch_major(z)[:batch])
    means = tf.stop_gradient(_batch_major(means)[:batch])
    losses = latent_search.squared_error_loss(x[:, None, :], means, z,
                                              self.config.search.beta)
    return dict(
        losses=losses, latents=z,
        reconstructions=tf.reshape(means, [-1, NUM_CLASSES] + list(vae_lib.IMAGE_SHAPE)),
        logits=-self.class_scales * losses)

  def logits_graph(self, images):
    return self.infer_graph(images)["logits"]

  def probabilities(self, logits):
    """softmax(probability_scale * logits), float32 [B, 10]."""
    return tf.nn.softmax(self.config.probability_scale * logits)

  # -- export -------------------------------------------------------------------------

  def export_variables(self):
    return [w.value for dec in self.decoders for w in dec.weights] + [self.latents]

  def config_dict(self) -> dict:
    return {"search": dataclasses.asdict(self.config.search),
            "binarize": self.config.binarize,
            "class_scales": list(self.config.class_scales),
            "probability_scale": self.config.probability_scale}

  def prepare_export(self):
    self.reset_cache()

  def batch_buckets(self):
    return BATCH_BUCKETS

  def extra_signatures(self):
    spec = tf.TensorSpec(None, tf.float32, name="images")  # checked in the graph

    @tf.function(input_signature=[spec])
    def infer(images):
      """Latent search outputs: losses, latents, reconstructions, logits."""
      empty = dict(losses=tf.zeros([0, NUM_CLASSES]),
                   latents=tf.zeros([0, NUM_CLASSES, vae_lib.LATENT_SIZE]),
                   reconstructions=tf.zeros([0, NUM_CLASSES] + list(vae_lib.IMAGE_SHAPE)),
                   logits=tf.zeros([0, NUM_CLASSES]))
      return classifier.unless_empty(classifier.assert_valid_images_graph(images),
                                     self.infer_graph, empty)

    return {"infer": infer}

  @classmethod
  def from_config(cls, config: dict) -> "ABS":
    """An ABS with untrained decoders, shaped by `config_dict()` of another."""
    abs_config = ABSConfig(
        search=latent_search.LatentSearchConfig(**config["search"]),
        binarize=config["binarize"], class_scales=tuple(config["class_scales"]),
        probability_scale=config["probability_scale"])
    return cls(new_decoders(), abs_config,
               latents=np.zeros((abs_config.search.num_samples, vae_lib.LATENT_SIZE),
                                np.float32))


def bucket_size(batch):
  """The padded batch size of a batch of `batch` images: int32 scalar tensor."""
  buckets = tf.constant(BATCH_BUCKETS, tf.int32)
  largest = buckets[-1]
  rounded_up = (batch + largest - 1) // largest * largest
  return tf.reduce_min(tf.where(buckets >= batch, buckets, rounded_up))


def _batch_major(pieces):
  """[P, 10, b, D] class-major pieces -> [P * b, 10, D] in image order."""
  shape = tf.shape(pieces)
  return tf.reshape(tf.transpose(pieces, [0, 2, 1, 3]), [shape[0] * shape[2], shape[1], -1])


def pad_batch(x, size):
  """x [B, D] with zero rows appended to `size` >= B rows."""
  return tf.pad(x, [[0, size - tf.shape(x)[0]], [0, 0]])


def new_decoders():
  """Ten built, untrained decoders."""
  decoders = [vae_lib.Decoder(name=f"decoder_{c}") for c in range(NUM_CLASSES)]
  for dec in decoders:
    dec.build((None, vae_lib.LATENT_SIZE))
  return decoders
