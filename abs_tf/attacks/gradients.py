"""Where gradient-based attacks get their gradients: one hook, two sources.

An attack never differentiates a model itself. It asks a `GradientSource` for
`differentiable_logits(logits_fn, counter)`: a TensorFlow callable, images [B, 28, 28, 1] ->
logits [B, 10], whose gradient (as any tape, CleverHans included, sees it) is the source's.

- `Autodiff`: the model's own `logits_graph`. Models encode how they are differentiated, so
  this one source covers the exact gradients of the CNNs, the straight-through estimator of the
  binarised models (Bengio et al., 2013) and, for ABS, the envelope-theorem gradient at the
  latent optimum z* (the latent search runs under stop_gradient and the bound is recomputed
  at z*, so with z fixed d l_c / dx = -2 gamma_c (x - mu_c(z*)) / 784).
- `FiniteDifferences`: coordinate-wise differences of the logits ("w/ GE" in the paper),

    J[b, p, k] ~= (l_k(clip(x_b + h e_p)) - l_k(clip(x_b - h e_p))) / (x+ - x-)_p,

  over all 784 pixels p, a central difference inside [0, 1] and a one-sided one at its edges
  (the divisor is the step actually taken, so no query leaves the valid input range). The
  backward pass returns the vector-Jacobian product upstream[b] . J[b] of each sample with its
  own perturbations; the loss is never summed over the batch (Foolbox 3 does, which makes the
  samples of a batch share the estimate's noise).

Queries are counted in units of forward passes per sample (every sample of a batch is treated
alike): a gradient by autodiff is one query, by finite differences 1 + 2 * 784.

References:
  Schott et al., ICLR 2019, section 4 ("Gradient-based attacks", "Score-based attacks").
  Bengio, Leonard & Courville, arXiv:1308.3432 (2013), straight-through estimator.
"""

from typing import Callable, Sequence, Tuple

import tensorflow as tf

from abs_tf.models import classifier

AUTODIFF = "autodiff"
FINITE_DIFFERENCES = "finite_differences"
GRADIENTS = (AUTODIFF, FINITE_DIFFERENCES)
# Step sizes the "w/ GE" attacks are repeated with: 0.01 for smooth models; 0.1 and 0.5 move
# pixels (mostly 0 or 1 in MNIST) far enough to cross the binarisation threshold at 0.5.
DEFAULT_FD_STEPS = (0.01, 0.1, 0.5)

LogitsFn = Callable[[tf.Tensor], tf.Tensor]


class QueryCounter(tf.Module):
  """Forward passes per sample spent inside TensorFlow graphs, where numpy counting cannot go.

  Attributes:
    per_sample: int64 scalar variable; reset it before a call and read it after.
  """

  def __init__(self):
    super().__init__(name="query_counter")
    self.per_sample = tf.Variable(0, dtype=tf.int64, trainable=False, name="per_sample")

  def add(self, count):
    self.per_sample.assign_add(tf.cast(count, tf.int64))


class GradientSource:
  """Base of the gradient sources. Subclasses set `name` and implement the hook."""
  name: str = ""

  def differentiable_logits(self, logits_fn: LogitsFn, counter: QueryCounter) -> LogitsFn:
    """Wraps `logits_fn` (float32 [B, 28, 28, 1] in [0, 1] -> [B, 10]) so that its gradient
    is this source's and every call is counted in `counter`."""
    raise NotImplementedError


class Autodiff(GradientSource):
  """Automatic differentiation through the model (exact, straight-through or envelope)."""
  name = AUTODIFF

  def differentiable_logits(self, logits_fn, counter):
    def logits(images):
      counter.add(1)
      return logits_fn(images)
    return logits


class FiniteDifferences(GradientSource):
  """Coordinate-wise finite differences with step `step`, in [0, 1] pixel units.

  Attributes:
    step: h > 0.
    max_images: images per model call while estimating (at least 2 per sample).
  """
  name = FINITE_DIFFERENCES

  def __init__(self, step: float, max_images: int = 1000):
    if not step > 0:
      raise ValueError(f"step must be > 0, got {step!r}.")
    if int(max_images) < 2:
      raise ValueError(f"max_images must be >= 2, got {max_images!r}.")
    self.step = float(step)
    self.max_images = int(max_images)

  def differentiable_logits(self, logits_fn, counter):
    step, max_images = self.step, self.max_images

    # Autograph would convert the undecorated function and lose the custom gradient.
    @tf.autograph.experimental.do_not_convert
    @tf.custom_gradient
    def logits(images):
      counter.add(1)
      values = logits_fn(images)

      def backward(upstream, variables=None):
        grad = finite_difference_vjp(logits_fn, images, upstream, step, max_images, counter)
        # The estimate is a gradient for the input only; model weights get none.
        return grad, [None] * len(variables or [])

      return values, backward

    return logits


def finite_difference_vjp(logits_fn: LogitsFn, images, upstream, step: float,
                          max_images: int = 1000, counter: QueryCounter = None):
  """upstream . J per sample, J the finite-difference Jacobian of the logits.

  Args:
    logits_fn: float32 [N, 28, 28, 1] -> [N, 10].
    images: float32 [B, 28, 28, 1] in [0, 1].
    upstream: float32 [B, 10], e.g. d loss / d logits.
    step: h > 0, in pixel units; perturbed images are clipped to [0, 1].
    max_images: bound on the images per model call (at least 2 per sample are used).
    counter: if given, 2 * 784 forward passes per sample are added.

  Returns:
    float32 [B, 28, 28, 1], sum_k upstream[b, k] * d logits[b, k] / d images[b].
  """
  pixels = classifier.NUM_PIXELS
  batch = tf.shape(images)[0]
  flat = tf.reshape(images, [batch, pixels])
  pixels_per_call = tf.maximum(1, max_images // (2 * batch))
  num_calls = (pixels + pixels_per_call - 1) // pixels_per_call

  def body(i, pieces):
    start = i * pixels_per_call
    indices = tf.range(start, tf.minimum(start + pixels_per_call, pixels))
    num = tf.size(indices)
    basis = tf.one_hot(indices, pixels, dtype=images.dtype)                # [P, 784]
    plus = tf.clip_by_value(flat[:, None, :] + step * basis[None], 0.0, 1.0)  # [B, P, 784]
    minus = tf.clip_by_value(flat[:, None, :] - step * basis[None], 0.0, 1.0)
    taken = tf.reduce_sum((plus - minus) * basis[None], axis=-1)           # [B, P]
    both = tf.reshape(tf.concat([plus, minus], axis=1), [-1, 28, 28, 1])
    out = tf.reshape(logits_fn(both), [batch, 2 * num, -1])                # [B, 2P, 10]
    slope = tf.einsum("bpk,bk->bp", out[:, :num] - out[:, num:], upstream) / taken
    if counter is not None:
      counter.add(2 * num)
    return i + 1, pieces.write(i, tf.transpose(slope))                      # [P, B]

  pieces = tf.TensorArray(images.dtype, size=num_calls, infer_shape=False)
  # One call at a time: the iterations are independent, so in a graph TensorFlow would run up
  # to 10 at once, each holding a call's activations (on abs_authors, 3 images: peak 4,071
  # MiB in 246 s, and 2,492 MiB in 203 s with one; the same gradient bit for bit).
  _, pieces = tf.while_loop(lambda i, _: i < num_calls, body, (tf.constant(0), pieces),
                            parallel_iterations=1)
  return tf.reshape(tf.transpose(pieces.concat()), tf.shape(images))


def gradient_sources(gradient: str, fd_steps: Sequence[float] = DEFAULT_FD_STEPS,
                     fd_max_images: int = 1000) -> Tuple[GradientSource, ...]:
  """The sources an attack is run with: one for autodiff, one per step for finite differences.

  Raises:
    ValueError: unknown `gradient`, or no step sizes.
  """
  if gradient == AUTODIFF:
    return (Autodiff(),)
  if gradient == FINITE_DIFFERENCES:
    if not len(fd_steps):
      raise ValueError("fd_steps must name at least one step size.")
    return tuple(FiniteDifferences(h, fd_max_images) for h in fd_steps)
  raise ValueError(f"gradient must be one of {GRADIENTS}, got {gradient!r}.")
