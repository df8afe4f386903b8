r"""Speed of ABS inference through an exported SavedModel (issue 6).

For each latent-search setting (`--settings`, default the two of the issue: 8,000 samples with
49 Adam steps, and the paper's 10,000 with 20), builds ABS on the shipped decoders (or the
authors', `--decoders=reference`), exports it to a temporary directory, reloads it with
`tf.saved_model.load` and times its `serving_default` signature on MNIST test images:

- at `--batch_size` (500): `--batches` timed calls after one untimed call (which decodes the
  prototypes and compiles), images per second from the best call;
- at batch 1: `--single_images` timed calls, p50 and p95 latency in ms.

Prints one JSON line per setting and batch size, with num_samples, num_steps, batch_size,
images_per_second, gflops_per_second (the nominal work below per second) and peak_fraction
(against a 2048 x 2048 float32 matrix product measured in the same run, peak_gflops_per_second),
and for batch 1 p50_ms and p95_ms.

Nominal work per image: the prototype search, 2 * 785 * 10 * num_samples, and per class
num_steps + 1 decoder forward passes and num_steps gradients, each costing the
convolutions' multiply-adds (2.29 MFLOP forward, as much backward): about 1.1 GFLOP at the
paper's setting, 2.3 GFLOP at 8,000 / 49.

  python benchmarks/abs_inference.py [--decoders=shipped|reference] [--batch_size=500] \
      [--settings=8000:49,10000:20] [--output=runs/abs_inference.jsonl]

Figures mean something only on an otherwise idle machine. A benchmark, not a test.
"""

import json
import pathlib
import tempfile
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

import abs_tf
from abs_tf.data import mnist
from abs_tf.export import saved_model
from abs_tf.models import abs_model
from abs_tf.models import latent_search
from abs_tf.models import vae as vae_lib
from abs_tf.tools import import_reference_weights

FLAGS = flags.FLAGS
flags.DEFINE_enum("decoders", "shipped", ["shipped", "reference"],
                  "The shipped ABS's decoders, or the authors' (--reference_weights).")
flags.DEFINE_string("reference_weights", None, "abs_official_weights.npz of the authors, for "
                    "--decoders=reference (default: their file in third_party/abs_authors).")
flags.DEFINE_list("settings", ["8000:49", "10000:20"], "num_samples:num_steps pairs.")
flags.DEFINE_integer("batch_size", 500, "Images per call of the throughput measurement.")
flags.DEFINE_integer("batches", 2, "Timed calls at --batch_size (the best is reported).")
flags.DEFINE_integer("single_images", 50, "Timed calls at batch 1 (0: skip).")
flags.DEFINE_integer("matmul_size", 2048, "Side of the float32 matrix product for the peak.")
flags.DEFINE_string("output", None, "Optional JSON-lines file to append the results to.")

# Decoder layers (input side, kernel, in, out channels): the multiply-adds of one forward pass.
_DECODER_LAYERS = ((1, 4, 8, 32), (4, 5, 32, 16), (11, 5, 16, 16), (25, 4, 16, 1))


def decoder_flops() -> int:
  """FLOPs of one decoder forward pass (the gradient in z costs as much)."""
  return sum(2 * side * side * kernel * kernel * cin * cout
             for side, kernel, cin, cout in _DECODER_LAYERS)


def flops_per_image(num_samples: int, num_steps: int) -> int:
  search = 2 * (latent_search.NUM_PIXELS + 1) * abs_model.NUM_CLASSES * num_samples
  return search + abs_model.NUM_CLASSES * (2 * num_steps + 1) * decoder_flops()


def matmul_gflops(size: int, repeats: int = 10) -> float:
  """Best GFLOP/s of a size x size float32 matrix product."""
  a = tf.random.stateless_normal([size, size], seed=[0, 1])
  product = tf.function(lambda: tf.reduce_sum(tf.matmul(a, a)))
  product().numpy()
  best = min(_seconds(lambda: product().numpy()) for _ in range(repeats))
  return 2 * size**3 / best / 1e9


def _seconds(call) -> float:
  start = time.perf_counter()
  call()
  return time.perf_counter() - start


def decoders():
  if FLAGS.decoders == "reference":
    return import_reference_weights.reference_decoders(FLAGS.reference_weights)
  return abs_tf.load_model("abs").decoders


def benchmark_setting(decoder_list, num_samples: int, num_steps: int, images: np.ndarray,
                      peak: float):
  """Yields the result dicts of one setting: at --batch_size, then at batch 1."""
  config = abs_model.ABSConfig(search=latent_search.LatentSearchConfig(
      num_samples=num_samples, num_steps=num_steps))
  model = abs_model.ABS(decoder_list, config)
  with tempfile.TemporaryDirectory() as directory:
    path = saved_model.export(model, pathlib.Path(directory) / "abs" / "1")
    serve = tf.saved_model.load(str(path)).signatures[saved_model.SERVING_SIGNATURE]
    work = flops_per_image(num_samples, num_steps)
    result = dict(num_samples=num_samples, num_steps=num_steps, decoders=FLAGS.decoders,
                  gflop_per_image=work / 1e9, peak_gflops_per_second=peak)

    batch = tf.constant(images[:FLAGS.batch_size])
    call = lambda x: serve(images=x)["logits"].numpy()
    call(batch)  # decodes the prototypes, compiles
    best = min(_seconds(lambda: call(batch)) for _ in range(FLAGS.batches))
    rate = len(batch) / best
    yield dict(result, batch_size=len(batch), images_per_second=rate,
               gflops_per_second=rate * work / 1e9, peak_fraction=rate * work / 1e9 / peak)

    if FLAGS.single_images:
      singles = [tf.constant(images[i:i + 1]) for i in range(FLAGS.single_images)]
      call(singles[0])
      latencies = np.array([_seconds(lambda: call(x)) for x in singles])
      rate = 1.0 / np.median(latencies)
      yield dict(result, batch_size=1, images_per_second=rate,
                 gflops_per_second=rate * work / 1e9, peak_fraction=rate * work / 1e9 / peak,
                 p50_ms=1e3 * float(np.percentile(latencies, 50)),
                 p95_ms=1e3 * float(np.percentile(latencies, 95)))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  settings = []
  for setting in FLAGS.settings:
    samples, _, steps = setting.partition(":")
    if not (samples.isdigit() and steps.isdigit()):
      raise app.UsageError(f"--settings entries must be num_samples:num_steps, got {setting!r}.")
    settings.append((int(samples), int(steps)))
  images = mnist.load("test").images[:max(FLAGS.batch_size, FLAGS.single_images)]
  assert images.shape[1:] == vae_lib.IMAGE_SHAPE
  decoder_list = decoders()
  peak = matmul_gflops(FLAGS.matmul_size)
  for num_samples, num_steps in settings:
    for result in benchmark_setting(decoder_list, num_samples, num_steps, images, peak):
      line = json.dumps(result)
      print(line, flush=True)
      if FLAGS.output:
        with open(FLAGS.output, "a") as f:
          f.write(line + "\n")


if __name__ == "__main__":
  app.run(main)
