"""The ten class decoders of ABS as one computation, with their derivative in z by hand.

ABS's latent search evaluates every class's decoder mean mu_c(z) = sigmoid(g_c(z)) and the
derivative of a loss on it with respect to z, thousands of times per image. Five things make
that cheaper than calling ten Keras decoders under a GradientTape, without changing what is
computed:

1. Batch normalisation at inference is an affine map per channel, so it is folded into the
   transposed convolution before it (kernel * s, (bias - mean) * s + beta with
   s = gamma / sqrt(var + eps)). The weights are folded once per call, outside the Adam loop.
2. The vector-Jacobian product is written out: the adjoint of a transposed convolution is the
   convolution with the same kernel and stride; ELU'(a) = 1 where ELU(a) > 0, else ELU(a) + 1;
   sigmoid' = mu (1 - mu). Nothing is recorded for weight gradients, which the search never
   needs, and no tape bookkeeping runs in the loop.
3. Classes are the leading axis ([10, B, ...]), so each class reads a contiguous slice.
4. The first layer reads z, a 1 x 1 input: it is one matrix product batched over the classes
   (`phase_conv.PixelConvs`), and so is its adjoint, on every path.
5. The last layer (stride 1, 16 -> 1 channels), where oneDNN's deconvolution ran at
   ~5 GFLOP/s, is a matrix product and shifted sums compiled by XLA together with its
   sigmoid, every class in one call; so is its adjoint. These two XLA computations are all
   that a served ABS compiles per batch size: its first call compiled four until the first
   layer left XLA (4.7 s of CPU time then, 1.5 s now, on 2 cores with other jobs running;
   benchmarks/serving.py measures the first call).

The stride-2 convolutions stay TensorFlow's own (oneDNN on x86): on 2 cores they ran at
~50-90 % of the speed of a large matrix product, where XLA's convolutions ran at ~10-35 % and
an im2col matrix product at ~10 %.

Without XLA (`mean(z, compiled=False)`: ABS's one-off decoding of its 10 x 10^4 prototypes,
which a compilation per process would not repay), the last layer is one convolution over its
output's phases (`phase_conv.py`).

References:
  Schott et al., ICLR 2019, section 3 (the decoder) and appendix A (architecture).
  Ioffe & Szegedy, 2015 (batch normalisation at inference).
"""

import dataclasses
import functools
from typing import Callable, List, Sequence, Tuple

import keras
import tensorflow as tf

from abs_tf.models import phase_conv
from abs_tf.models import vae as vae_lib


@dataclasses.dataclass(frozen=True)
class FoldedLayer:
  """One transposed convolution with its batch normalisation folded in.

  Attributes:
    kernel: float32 [kh, kw, out, in] (the layout of Keras' Conv2DTranspose).
    bias: float32 [out].
    stride: the convolution's stride.
    elu: whether an ELU follows.
  """
  kernel: tf.Tensor
  bias: tf.Tensor
  stride: int
  elu: bool


def fold_decoder(decoder: vae_lib.Decoder) -> List[FoldedLayer]:
  """The layers of one `vae.Decoder` with batch normalisation folded into its convolutions.

  Raises:
    ValueError: the decoder's layers are not transposed convolutions, each optionally followed
      by batch normalisation and an ELU.
  """
  layers = list(decoder.net.layers)
  folded = []
  while layers:
    conv = layers.pop(0)
    if not (isinstance(conv, keras.layers.Conv2DTranspose) and conv.padding == "valid" and
            conv.strides[0] == conv.strides[1] and conv.use_bias):
      raise ValueError(f"Expected a valid, biased Conv2DTranspose, got {conv.name}.")
    kernel, bias = tf.convert_to_tensor(conv.kernel), tf.convert_to_tensor(conv.bias)
    elu = False
    if layers and isinstance(layers[0], keras.layers.BatchNormalization):
      norm, activation = layers.pop(0), layers.pop(0) if layers else None
      if not (isinstance(activation, keras.layers.Activation) and
              activation.activation is keras.activations.elu):
        raise ValueError(f"Expected an ELU after {norm.name}.")
      scale = norm.gamma * tf.math.rsqrt(norm.moving_variance + norm.epsilon)
      kernel = kernel * scale[:, None]
      bias = (bias - norm.moving_mean) * scale + norm.beta
      elu = True
    folded.append(FoldedLayer(kernel, bias, int(conv.strides[0]), elu))
  return folded


def _output_size(size: int, layer: FoldedLayer) -> int:
  return (size - 1) * layer.stride + int(layer.kernel.shape[0])


def _stride_one_transposed_conv(h, kernel, bias, activation: str):
  """A stride-1 "valid" transposed convolution as one matrix product and shifted sums.

  out[i + a, j + b] = act(sum_c h[i, j, c] kernel[a, b, :, c] + bias). oneDNN's deconvolution
  is slow for the decoders' last layer (16 -> 1 channels), ~5 GFLOP/s; this form, fused by
  XLA with the bias and activation, ran 3-4x faster. Laid out channels-last, so that XLA
  fuses the shifted slices into the sum.

  Args:
    h: float32 [B, H, W, in].
    kernel: float32 [kh, kw, out, in].
    bias: float32 [out].
    activation: "elu", "sigmoid" or "linear".

  Returns:
    float32 [B, H + kh - 1, W + kw - 1, out].
  """
  kh, kw, out, cin = kernel.shape
  height, width = h.shape[1], h.shape[2]
  taps = tf.reshape(tf.transpose(kernel, [3, 0, 1, 2]), [cin, kh * kw * out])
  y = tf.reshape(tf.matmul(tf.reshape(h, [-1, cin]), taps), [-1, height, width, kh * kw, out])
  # One Unstack, not kh * kw slices: a smaller graph to load and compile, the same HLO.
  total = tf.add_n([tf.pad(tap, [[0, 0], [t // kw, kh - 1 - t // kw], [t % kw, kw - 1 - t % kw],
                                 [0, 0]])
                    for t, tap in enumerate(tf.unstack(y, axis=3))])
  return phase_conv.ACTIVATIONS[activation](total + bias)


def _stride_one_vjp(grad, kernel, sigmoid_output=None, elu_input=None):
  """The adjoint of `_stride_one_transposed_conv`, fused with the activations around it.

  g_in[i, j, c] = sum_{a, b, o} g[i + a, j + b, o] kernel[a, b, o, c], where g is `grad`
  times sigmoid'(.) = mu (1 - mu) if the layer's output went through a sigmoid, and g_in is
  multiplied by ELU'(.) = 1 where ELU(.) > 0, else ELU(.) + 1, if the layer's input came
  out of an ELU (`elu_input` is that ELU's output).

  Args:
    grad: float32 [B, H, W, out], cotangent of the layer's (activated) output.
    kernel: float32 [kh, kw, out, in].
    sigmoid_output: optional float32 [B, H, W, out].
    elu_input: optional float32 [B, H - kh + 1, W - kw + 1, in].

  Returns:
    float32 [B, H - kh + 1, W - kw + 1, in].
  """
  kh, kw = kernel.shape[0], kernel.shape[1]
  if sigmoid_output is not None:
    grad = grad * sigmoid_output * (1.0 - sigmoid_output)
  height, width = grad.shape[1] - kh + 1, grad.shape[2] - kw + 1
  taps = tf.unstack(tf.reshape(kernel, [kh * kw] + kernel.shape[2:]))
  g = tf.add_n([tf.einsum("bhwo,oc->bhwc",
                          tf.slice(grad, [0, t // kw, t % kw, 0], [-1, height, width, -1]), tap)
                for t, tap in enumerate(taps)])
  if elu_input is not None:
    g = tf.where(elu_input > 0.0, g, g * (elu_input + 1.0))
  return g


# Every class's stride-1 layer in one XLA call: at batch 1 the calls' overhead, not their
# arithmetic, is the cost.
@tf.function(jit_compile=True)
def _stride_one_transposed_convs(hs, kernels, biases, activation: str):
  return [_stride_one_transposed_conv(h, k, b, activation)
          for h, k, b in zip(hs, kernels, biases)]


@tf.function(jit_compile=True)
def _stride_one_vjps(grads, kernels, sigmoid_outputs=None, elu_inputs=None):
  none = [None] * len(grads)
  return [_stride_one_vjp(g, k, s, e) for g, k, s, e in
          zip(grads, kernels, sigmoid_outputs or none, elu_inputs or none)]


def _strided_transposed_convs(hs, layer: Sequence[FoldedLayer], activation: str):
  """Every class's transposed convolution of stride > 1: TensorFlow's own (oneDNN on x86)."""
  batch, size = tf.shape(hs[0])[0], _output_size(int(hs[0].shape[1]), layer[0])
  activate = phase_conv.ACTIVATIONS[activation]
  return [activate(tf.nn.bias_add(tf.nn.conv2d_transpose(
      h, l.kernel, tf.stack([batch, size, size, l.kernel.shape[2]]), l.stride, "VALID"), l.bias))
          for h, l in zip(hs, layer)]


def _output_phase_convs(hs, layer: Sequence[FoldedLayer], activation: str):
  """Every class's stride-1 transposed convolution, without XLA (see phase_conv.py)."""
  return [phase_conv.output_phase_conv(h, l.kernel, l.bias, activation)
          for h, l in zip(hs, layer)]


def _means(step, hs):
  """The last layer's images -> means [C, B, 784]."""
  return tf.stack([tf.reshape(h, [-1, vae_lib.NUM_PIXELS]) for h in step(hs)])


class ClassDecoders:
  """Decoder means of all classes at once, class-major, and their vector-Jacobian product.

  Built inside the graph that uses it (`fold` reads the decoders' current weights).

  Args:
    layers: per class, its `FoldedLayer`s (from `fold_decoder`).
  """

  def __init__(self, layers: Sequence[Sequence[FoldedLayer]]):
    self.layers = [list(class_layers) for class_layers in layers]
    structures = {tuple((l.stride, l.elu, tuple(l.kernel.shape)) for l in class_layers)
                  for class_layers in self.layers}
    if len(structures) != 1:
      raise ValueError(f"All classes' decoders must have the same layers, got {structures}.")
    # The first layer reads z, a 1 x 1 input: a matrix product on every path.
    self.first = phase_conv.PixelConvs.of([l[0].kernel for l in self.layers],
                                          [l[0].bias for l in self.layers])

  @classmethod
  def fold(cls, decoders: Sequence[vae_lib.Decoder]) -> "ClassDecoders":
    return cls([fold_decoder(decoder) for decoder in decoders])

  @property
  def num_classes(self) -> int:
    return len(self.layers)

  def _activation(self, i: int) -> str:
    """Layer i's activation: ELU if batch normalisation was folded in, the last's sigmoid."""
    return ("elu" if self.layers[0][i].elu else
            "sigmoid" if i == len(self.layers[0]) - 1 else "linear")

  def _forward(self, z):
    """z [C, B, L] -> (per class: mean [B, 784]; per layer: per class, the layer's input,
    None for the first layer's, z)."""
    batch = tf.shape(z)[1]
    hs, inputs = self.first(z, self._activation(0)), [None]
    for i, layer in enumerate(zip(*self.layers)):  # layer i of every class
      if i == 0:
        continue
      inputs.append(hs)
      if layer[0].stride == 1:
        hs = _stride_one_transposed_convs(hs, [l.kernel for l in layer],
                                          [l.bias for l in layer], self._activation(i))
      else:
        hs = _strided_transposed_convs(hs, layer, self._activation(i))
    return [tf.reshape(h, [batch, vae_lib.NUM_PIXELS]) for h in hs], inputs

  def bulk_layers(self) -> List[Callable]:
    """`mean(z, compiled=False)` as one function per layer, applied in turn.

    The first layer (on z, a 1 x 1 input) is a matrix product batched over the classes, the
    other stride-1 layers convolutions over their output's phases (`phase_conv.py`: why, the
    maths, the speeds), the strided layers TensorFlow's own as in the XLA path. One function
    per layer so that benchmarks/prototype_decoding.py can time each.

    Returns:
      Functions: the first takes z float32 [C, B, L], each next the previous's output (per
      class, float32 [B, H, W, channels]); the last returns the means, float32 [C, B, 784].
    """
    steps = [functools.partial(self.first, activation=self._activation(0))]
    for i, layer in enumerate(zip(*self.layers)):  # layer i of every class
      if i > 0:
        convs = _strided_transposed_convs if layer[0].stride > 1 else _output_phase_convs
        steps.append(functools.partial(convs, layer=layer, activation=self._activation(i)))
    steps[-1] = functools.partial(_means, steps[-1])
    return steps

  def _backward(self, z, means, inputs, grad):
    """The cotangent `grad` [C, B, 784] of the means pulled back to z [C, B, L]."""
    shape = [-1] + list(vae_lib.IMAGE_SHAPE)
    gs = [tf.reshape(grad[c], shape) for c in range(self.num_classes)]
    means = [tf.reshape(mean, shape) for mean in means]
    depth = len(self.layers[0])
    for i in reversed(range(1, depth)):
      layer, last = [layers[i] for layers in self.layers], i == depth - 1
      elu_inputs = inputs[i] if self.layers[0][i - 1].elu else None
      if layer[0].stride == 1:
        gs = _stride_one_vjps(gs, [l.kernel for l in layer], means if last else None,
                              elu_inputs)
        continue
      # sigmoid' = mu (1 - mu) and ELU'(a) = 1 for a > 0, else ELU(a) + 1, each as TF's own
      # one-pass gradient kernel of the activation's output.
      if last:
        gs = [tf.raw_ops.SigmoidGrad(y=mean, dy=g) for mean, g in zip(means, gs)]
      gs = [tf.nn.conv2d(g, l.kernel, l.stride, "VALID") for g, l in zip(gs, layer)]
      if elu_inputs is not None:
        gs = [tf.raw_ops.EluGrad(gradients=g, outputs=e) for g, e in zip(gs, elu_inputs)]
    return self.first.vjp(gs)

  def mean(self, z, compiled=True):
    """Decoder means.

    Args:
      z: float32 [C, B, L], each class's latents.
      compiled: run the stride-1 layers as XLA computations (faster, but compiled once per
        batch size); False for a batch whose size is seen once, such as the prototypes'
        (`bulk_layers`; the same means to 3e-5 relative).

    Returns:
      float32 [C, B, 784] in (0, 1).
    """
    if compiled:
      return tf.stack(self._forward(z)[0])
    return functools.reduce(lambda h, layer: layer(h), self.bulk_layers(), z)

  def mean_and_vjp(self, z) -> Tuple[tf.Tensor, Callable]:
    """Decoder means and their vector-Jacobian product.

    Args:
      z: float32 [C, B, L].

    Returns:
      (means, vjp): means float32 [C, B, 784]; vjp maps a cotangent [C, B, 784] on the means
      to one on z, [C, B, L] (the gradient in z of sum(cotangent * means)).
    """
    means, inputs = self._forward(z)
    return tf.stack(means), lambda grad: self._backward(z, means, inputs, grad)
