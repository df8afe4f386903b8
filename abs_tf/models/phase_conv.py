"""The decoders' stride-1 transposed convolutions without XLA, in forms TensorFlow runs fast.

ABS's first call decodes 10 x 10^4 prototype latents (`ClassDecoders.mean(z, compiled=False)`),
once per process, so not with XLA (a compilation per process). Its two stride-1 layers are
where TensorFlow's own kernels were slow (2 cores, chunks of 10 x 500 decodings,
benchmarks/prototype_decoding.py):

- The first layer (a 1 x 1 input, 8 -> 32 channels, 4 x 4): y[a, b, o] = sum_c z[c] k[a, b, o, c]
  is a matrix product, here one batched over the classes: 5 ms a chunk, where 16 products
  placed by shifted sums took 36-43. The latent search uses it too (`PixelConvs`, with its
  adjoint), in place of an XLA computation that each batch size compiled anew.
- The last layer (16 -> 1 channel, 4 x 4): oneDNN's deconvolution ran at ~5 GFLOP/s, and a
  matrix product with 16 shifted sums spent its time copying (72-74 ms a chunk). oneDNN's
  ordinary convolution is fast when it has >= 16 output channels to vectorise over (64 -> 4
  channels ran at a quarter of 64 -> 16's speed), so the layer is one convolution whose 16
  output channels are the output's 4 x 4 phases: 53-60 ms, its bias fused.

The output-phase convolution: a stride-1 transposed convolution computes, per axis,
y[r] = sum_i x[i] k[r - i] (Dumoulin & Visin, 2016, section 4.1: a full convolution). With
r = f M + P (phase P of f) and i = f M - (kh - 1) + u:

  y_P[M] = sum_u x_padded[f M + u] K[u, P],   K[u, P] = k[P + kh - 1 - u] (0 outside [0, kh)),

an ordinary convolution of stride f over x padded by kh - 1, with a window of kh - 1 + f and
f x f x out output channels, which `tf.nn.depth_to_space` puts back in place: the layout of
Shi et al.'s (2016) sub-pixel convolution, here for the output of a stride-1 layer. It spends
(kh - 1 + f)^2 / kh^2 ~ 3x the multiply-adds, at a convolution's speed. Its one float32
accumulator over the 256 products (the matrix product's form sums 16, then 16) leaves ~2.5x
the rounding error: the means are within 3e-5 relative of the XLA path's, the largest
differences at means below 1e-3 (tests/test_class_decoders.py).

The stride-2 layers stay TensorFlow's deconvolution with its bias and ELU, as in the XLA path.
As sub-pixel convolutions (Shi et al., 2016: one 3 x 3 convolution with 4x the output
channels, the output's 2 x 2 phases, bias and ELU fused, then depth_to_space and a crop) they
took the same time: twice the multiply-adds at twice the speed.

References:
  Dumoulin & Visin, "A guide to convolution arithmetic for deep learning", arXiv:1603.07285,
    2016 (transposed convolutions).
  Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel
    Convolutional Neural Network", CVPR 2016 (sub-pixel convolution).
"""

import dataclasses
from typing import Tuple

import numpy as np
import tensorflow as tf

ACTIVATIONS = {"elu": tf.nn.elu, "sigmoid": tf.sigmoid, "linear": tf.identity}
# Output channels that fill a 512-bit vector of float32, over which oneDNN vectorises.
LANES = 16


@dataclasses.dataclass(frozen=True)
class PixelConvs:
  """Every class's transposed convolution of a 1 x 1 input, as one batched matrix product.

  On a single pixel z, y[a, b, o] = sum_c z[c] k[a, b, o, c] (the stride does not matter):
  z times the kernel as a matrix [in, kh * kw * out]. Its vector-Jacobian product is the
  product with that matrix's transpose. Built once per graph (`of`), outside any loop.

  Attributes:
    matrices: float32 [C, in, kh * kw * out], columns ordered (a, b, o).
    biases: float32 [C, 1, kh * kw * out], each class's bias tiled over the kh x kw pixels.
    shape: (kh, kw, out), the output's shape per latent.
  """
  matrices: tf.Tensor
  biases: tf.Tensor
  shape: Tuple[int, int, int]

  @classmethod
  def of(cls, kernels, biases) -> "PixelConvs":
    """Args: kernels, per class float32 [kh, kw, out, in] (Keras' layout); biases, per class
    float32 [out]."""
    kh, kw, out, cin = kernels[0].shape
    matrices = tf.stack([tf.reshape(tf.transpose(k, [3, 0, 1, 2]), [cin, kh * kw * out])
                         for k in kernels])
    tiled = tf.stack([tf.tile(b, [kh * kw]) for b in biases])[:, None, :]
    return cls(matrices, tiled, (int(kh), int(kw), int(out)))

  def __call__(self, z, activation: str):
    """Args: z float32 [C, B, in]; activation "elu", "sigmoid" or "linear".

    Returns:
      Per class, float32 [B, kh, kw, out].
    """
    y = ACTIVATIONS[activation](tf.matmul(z, self.matrices) + self.biases)
    return [tf.reshape(h, [-1, *self.shape]) for h in tf.unstack(y)]

  def vjp(self, grads):
    """Args: grads, per class float32 [B, kh, kw, out], the cotangent of the (linear) output.

    Returns:
      float32 [C, B, in], the cotangent of z.
    """
    flat = tf.reshape(tf.stack(grads), [len(grads), -1, self.matrices.shape[-1]])
    return tf.matmul(flat, self.matrices, transpose_b=True)


def output_phases(out: int) -> int:
  """f, the phases per axis that give >= LANES output channels."""
  return next(f for f in range(1, LANES + 1) if f * f * out >= LANES)


def output_phase_conv(h, kernel, bias, activation: str):
  """A stride-1 "valid" transposed convolution as a convolution over the output's phases.

  Args:
    h: float32 [B, H, H, in].
    kernel: float32 [kh, kh, out, in] (Keras' layout).
    bias: float32 [out].
    activation: "elu", "sigmoid" or "linear".

  Returns:
    float32 [B, H + kh - 1, H + kh - 1, out].
  """
  kh, kw, out, cin = kernel.shape
  if kh != kw or h.shape[1] != h.shape[2]:
    raise ValueError(f"Expected a square kernel and input, got {kernel.shape}, {h.shape}.")
  f, size = output_phases(out), h.shape[1] + kh - 1
  window, grid = kh - 1 + f, -(-size // f)
  taps = np.arange(f)[None, :] + kh - 1 - np.arange(window)[:, None]       # [u, P]
  taps = np.where((taps >= 0) & (taps < kh), taps, kh)                      # kh: a zero tap
  k = tf.pad(kernel, [[0, 1], [0, 1], [0, 0], [0, 0]])
  k = tf.gather(tf.gather(k, taps, axis=0), taps, axis=2)                   # [u, P, v, Q, o, c]
  k = tf.reshape(tf.transpose(k, [0, 2, 5, 1, 3, 4]), [window, window, cin, f * f * out])
  after = f * (grid - 1) + window - h.shape[1] - (kh - 1)
  y = tf.nn.conv2d(h, k, f, [[0, 0], [kh - 1, after], [kh - 1, after], [0, 0]])
  # A per-channel bias as BiasAdd, which Grappler fuses into the convolution.
  y = ACTIVATIONS[activation](tf.nn.bias_add(y, tf.tile(bias, [f * f])))
  return tf.nn.depth_to_space(y, f)[:, :size, :size] if f > 1 else y
