r"""Speed and memory of ABS's one-off decoding of its prototype latents (issue 17).

On its first call ABS decodes its 10^4 prototype latents with each class's decoder
(`ABS.prototype_rows`: `ClassDecoders.mean(z, compiled=False)` in chunks of
`abs_model.DECODE_CHUNK` latents x 10 classes). In one fresh process, on the shipped ABS
(`abs_tf.load_model("abs")`), this prints one JSON line per measurement:

- `prototypes`: `tf.function(model.prototype_rows)()`: the first call (tracing and graph
  optimisation included: what a served model's first call pays), then `--repeats` calls after
  `reset_cache()` (the decoding alone, best reported); rss_before_mb (resident memory before
  the first call), peak_rss_mb (the process's peak, `getrusage`) and peak_above_mb, their
  difference. Run first, so that the peak is this call's.
- `layer`: each layer of the compiled=False forward pass (`ClassDecoders.bulk_layers`) on one
  chunk (`--chunk` latents x 10 classes), best of `--repeats` calls, its outputs summed in the
  graph (returning them would time their copy); gflops_per_second counts the layer's
  multiply-adds (2 * H_in * W_in * kh * kw * in * out per decoding), not the arithmetic an
  implementation spends.
- `chunk`: the whole forward pass on that chunk (means summed likewise), and the seconds it
  implies for all prototypes.

  python benchmarks/prototype_decoding.py [--chunk=500] [--repeats=3] \
      | tee -a runs/prototype_decoding.jsonl

With `--saved_model=DIR` (an ABS exported by `abs_tf.export.saved_model.export`), it measures
instead what a server pays in a fresh process: `tf.saved_model.load(DIR)` and the first
`serving_default` call on one image (`served`: load_seconds, first_call_seconds, and the peak
RSS as above; the exported graph is the one traced at export, so re-export after a change).

Wall-clock figures mean something only on an otherwise idle machine; each comes with the
process's CPU seconds (all threads), which other jobs disturb less. A benchmark, not a test.
"""

import itertools
import json
import resource
import time
from typing import Tuple

from absl import app
from absl import flags
import tensorflow as tf

import abs_tf
from abs_tf.models import abs_model

FLAGS = flags.FLAGS
flags.DEFINE_integer("chunk", abs_model.DECODE_CHUNK, "Latents per chunk of the layer timings.")
flags.DEFINE_integer("repeats", 3, "Timed calls per measurement (the best is reported).")
flags.DEFINE_string("saved_model", None, "Measure this exported ABS's load and first call only.")


def _seconds(call) -> Tuple[float, float]:
  """Wall and CPU (all threads, user + system) seconds of `call()`."""
  cpu, start = time.process_time(), time.perf_counter()
  call()
  return time.perf_counter() - start, time.process_time() - cpu


def _best_seconds(call, warm_up=True) -> Tuple[float, float]:
  """`_seconds` of the fastest of --repeats calls (after an untimed one if `warm_up`)."""
  if warm_up:
    call()
  return min(_seconds(call) for _ in range(FLAGS.repeats))


def _rss_mb() -> float:
  with open("/proc/self/status") as f:
    line = next(l for l in f if l.startswith("VmRSS:"))
  return int(line.split()[1]) / 1024


def _peak_rss_mb() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure_prototypes(model: abs_model.ABS) -> dict:
  """The first call of `prototype_rows` in this process, then the decoding alone."""
  rows = tf.function(model.prototype_rows)
  before = _rss_mb()
  first, first_cpu = _seconds(lambda: rows().numpy())
  peak = _peak_rss_mb()

  def again():
    model.reset_cache()
    rows().numpy()

  repeat, repeat_cpu = _best_seconds(again, warm_up=False)
  return dict(measure="prototypes", num_samples=int(model.latents.shape[0]),
              first_call_seconds=first, first_call_cpu_seconds=first_cpu,
              repeat_seconds=repeat, repeat_cpu_seconds=repeat_cpu,
              rss_before_mb=before, peak_rss_mb=peak, peak_above_mb=peak - before)


def measure_served(export_dir: str) -> dict:
  """Load and first call of an exported model's serving signature on one image."""
  before = _rss_mb()
  start = time.perf_counter()
  loaded = tf.saved_model.load(export_dir)  # kept referenced while its signature runs
  load = time.perf_counter() - start
  serve = loaded.signatures["serving_default"]
  first, first_cpu = _seconds(lambda: serve(images=tf.zeros([1, 28, 28, 1]))["logits"].numpy())
  peak = _peak_rss_mb()
  return dict(measure="served", saved_model=export_dir, load_seconds=load,
              first_call_seconds=first, first_call_cpu_seconds=first_cpu,
              total_seconds=load + first, rss_before_mb=before, peak_rss_mb=peak,
              peak_above_mb=peak - before)


def _flops(layer, side: int) -> int:
  """Multiply-adds x 2 of one decoding by a `FoldedLayer` on a side x side input."""
  kh, kw, out, cin = layer.kernel.shape
  return 2 * side * side * kh * kw * out * cin


def _summed(layer):
  """`layer` whose outputs are summed in the graph: no copy of them leaves it."""
  return tf.function(lambda x: tf.add_n([tf.reduce_sum(t) for t in tf.nest.flatten(layer(x))]))


def measure_layers(model: abs_model.ABS, num_samples: int):
  """Yields one result per layer of the compiled=False forward pass, then the whole chunk."""
  decoders = model.folded_decoders()
  z = tf.tile(model.latents[None, :FLAGS.chunk], [decoders.num_classes, 1, 1])
  decodings = decoders.num_classes * FLAGS.chunk
  h, side, total_flops = z, 1, 0
  for i, (layer, folded) in enumerate(zip(decoders.bulk_layers(), decoders.layers[0])):
    step = _summed(layer)
    seconds, cpu = _best_seconds(lambda: step(h).numpy())
    flops = decodings * _flops(folded, side)
    total_flops += flops
    yield dict(measure="layer", layer=i, stride=folded.stride,
               kernel=list(folded.kernel.shape), input_side=side, chunk=FLAGS.chunk,
               seconds=seconds, cpu_seconds=cpu, gflops_per_second=flops / seconds / 1e9)
    h = layer(h)
    side = (side - 1) * folded.stride + int(folded.kernel.shape[0])
  whole = _summed(lambda x: decoders.mean(x, compiled=False))
  seconds, cpu = _best_seconds(lambda: whole(z).numpy())
  yield dict(measure="chunk", chunk=FLAGS.chunk, seconds=seconds, cpu_seconds=cpu,
             gflops_per_second=total_flops / seconds / 1e9,
             seconds_for_all=seconds * num_samples / FLAGS.chunk)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if FLAGS.chunk < 1 or FLAGS.repeats < 1:
    raise app.UsageError("--chunk and --repeats must be positive.")
  if FLAGS.saved_model:
    results = [measure_served(FLAGS.saved_model)]
  else:
    model = abs_tf.load_model("abs")
    prototypes = measure_prototypes(model)
    results = itertools.chain([prototypes], measure_layers(model, prototypes["num_samples"]))
  for result in results:  # as they come
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
  app.run(main)
