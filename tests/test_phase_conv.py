"""The decoders' stride-1 layers without XLA against TensorFlow's own transposed convolution."""

import numpy as np
import pytest
import tensorflow as tf

from abs_tf.models import phase_conv


def _expected(x, kernel, bias, activation):
  """act(conv2d_transpose(x, stride 1) + bias), the definition."""
  batch, size, _, _ = x.shape
  kh, _, out, _ = kernel.shape
  y = tf.nn.conv2d_transpose(x, kernel, [batch, size + kh - 1, size + kh - 1, out], 1, "VALID")
  return phase_conv.ACTIVATIONS[activation](y + bias).numpy()


@pytest.mark.parametrize("size,kh,cin,out,activation", [
    (25, 4, 16, 1, "sigmoid"),  # the decoders' last layer: 4 x 4 phases
    (6, 3, 5, 2, "elu"),        # 3 x 3 phases x 2 channels >= 16
    (5, 2, 3, 16, "linear"),    # 16 channels: the image itself, one phase
])
def test_output_phase_conv_is_the_transposed_convolution(size, kh, cin, out, activation):
  rng = np.random.default_rng(size)
  x = rng.normal(size=(3, size, size, cin)).astype(np.float32)
  kernel = rng.normal(size=(kh, kh, out, cin)).astype(np.float32)
  bias = rng.normal(size=out).astype(np.float32)
  got = phase_conv.output_phase_conv(x, kernel, bias, activation).numpy()
  np.testing.assert_allclose(got, _expected(x, kernel, bias, activation), rtol=1e-5, atol=1e-5)
  assert phase_conv.output_phases(out)**2 * out >= phase_conv.LANES


def test_pixel_convs_are_the_transposed_convolutions_of_a_pixel_and_their_vjp():
  rng = np.random.default_rng(0)
  z = tf.constant(rng.normal(size=(2, 5, 8)).astype(np.float32))
  kernels = [rng.normal(size=(4, 4, 6, 8)).astype(np.float32) for _ in range(2)]
  biases = [rng.normal(size=6).astype(np.float32) for _ in range(2)]
  convs = phase_conv.PixelConvs.of(kernels, biases)
  got = convs(z, "elu")
  for c in range(2):
    expected = _expected(z[c].numpy().reshape(5, 1, 1, 8), kernels[c], biases[c], "elu")
    np.testing.assert_allclose(got[c].numpy(), expected, rtol=1e-5, atol=1e-6)
  cotangents = [tf.constant(rng.normal(size=(5, 4, 4, 6)).astype(np.float32)) for _ in range(2)]
  with tf.GradientTape() as tape:
    tape.watch(z)
    linear = convs(z, "linear")
  expected = tape.gradient(linear, z, output_gradients=cotangents).numpy()
  np.testing.assert_allclose(convs.vjp(cotangents).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_output_phase_conv_refuses_a_rectangular_kernel():
  with pytest.raises(ValueError, match="square"):
    phase_conv.output_phase_conv(tf.zeros([1, 5, 5, 2]), tf.zeros([3, 2, 1, 2]), tf.zeros([1]),
                                 "linear")
