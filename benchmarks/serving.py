r"""What a served ABS SavedModel costs: its first call, its memory, and latency per batch size.

Through the SavedModel's `serving_default` signature after loading (the path TF Serving and
TF Hub take), on MNIST test images:

1. First call: in `--fresh_processes` (3) new processes, the time to load the SavedModel
   (`tf.saved_model.load`) plus one call on a batch of one (which decodes the prototypes and
   compiles the latent search's first batch bucket), and the process's peak resident memory
   above what it had after importing TensorFlow. Median over the processes.
2. Latency per batch size, in one process: after a warm-up over every batch bucket
   (`abs_model.BATCH_BUCKETS`, as the TF Serving warmup requests do up to 64), the p50 of
   `--repeats` calls at each of `--sizes`, and of calls at each size's bucket (the bucket's
   steady state); their ratio should stay under 1.5 (at most the bucket's padding).

  python benchmarks/serving.py [--model=abs] [--sizes=1,5,37,300,1000] [--repeats=5]

Prints one JSON line per figure. Figures mean something only on an otherwise idle machine. A
benchmark, not a test.
"""

import json
import resource
import statistics
import subprocess
import sys
import time

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "abs", "Registry name or SavedModel directory.")
flags.DEFINE_list("sizes", ["1", "5", "37", "300", "1000"], "Batch sizes to time.")
flags.DEFINE_integer("repeats", 5, "Timed calls per batch size (3 above 256 images).")
flags.DEFINE_integer("fresh_processes", 3, "New processes that time the first call.")
flags.DEFINE_bool("first_call_only", False, "Internal: time one first call and print it.")


def _resident_gb() -> float:
  with open("/proc/self/status") as status:
    return int(status.read().split("VmRSS:")[1].split()[0]) / 1e6


def first_call(path: str) -> dict:
  """Load plus a batch of one in this (fresh) process; seconds and GB above TF's import."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  baseline = _resident_gb()
  start = time.perf_counter()
  loaded = tf.saved_model.load(path)
  loaded.signatures["serving_default"](images=tf.fill([1, 28, 28, 1], 0.5))
  seconds = time.perf_counter() - start
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
  return {"seconds": seconds, "peak_gb_above_tensorflow": peak - baseline,
          "tensorflow_gb": baseline}


def latencies(path: str, sizes, repeats: int):
  """p50 seconds per batch size and per its bucket, after a warm-up over all buckets."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from abs_tf.data import mnist  # pylint: disable=g-import-not-at-top
  from abs_tf.models import abs_model  # pylint: disable=g-import-not-at-top
  images = mnist.load("test").images
  loaded = tf.saved_model.load(path)
  serve = loaded.signatures["serving_default"]
  start = time.perf_counter()
  for bucket in abs_model.BATCH_BUCKETS:
    serve(images=tf.constant(images[:bucket]))
  yield {"figure": "warmup", "buckets": len(abs_model.BATCH_BUCKETS),
         "seconds": time.perf_counter() - start}

  def p50(size):
    batch = tf.constant(images[:size])
    times = []
    for _ in range(repeats if size <= 256 else min(repeats, 3)):
      start = time.perf_counter()
      serve(images=batch)
      times.append(time.perf_counter() - start)
    return statistics.median(times)

  for size in sizes:
    bucket = int(abs_model.bucket_size(size))
    size_p50, bucket_p50 = p50(size), p50(bucket)
    yield {"figure": "latency", "batch_size": size, "p50_ms": 1e3 * size_p50,
           "bucket": bucket, "bucket_p50_ms": 1e3 * bucket_p50,
           "ratio_to_bucket": size_p50 / bucket_p50,
           "images_per_second": size / size_p50}


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  from abs_tf import registry  # pylint: disable=g-import-not-at-top
  path = str(registry.saved_model_dir(FLAGS.model))
  if FLAGS.first_call_only:
    print(json.dumps(first_call(path)))
    return
  sizes = [int(size) for size in FLAGS.sizes]
  if not sizes or min(sizes) < 1:
    raise app.UsageError(f"--sizes must be positive integers, got {FLAGS.sizes}.")
  runs = []
  for _ in range(FLAGS.fresh_processes):
    output = subprocess.run([sys.executable, __file__, f"--model={path}", "--first_call_only"],
                            check=True, capture_output=True, text=True).stdout
    runs.append(json.loads(output.strip().splitlines()[-1]))
  print(json.dumps({"model": FLAGS.model, "figure": "first_call", "runs": len(runs),
                    "median_seconds": statistics.median(r["seconds"] for r in runs),
                    "median_peak_gb_above_tensorflow": statistics.median(
                        r["peak_gb_above_tensorflow"] for r in runs),
                    "tensorflow_gb": statistics.median(r["tensorflow_gb"] for r in runs)}),
        flush=True)
  for figure in latencies(path, sizes, FLAGS.repeats):
    print(json.dumps({"model": FLAGS.model, **{k: (round(v, 3) if isinstance(v, float) else v)
                                                 for k, v in figure.items()}}), flush=True)


if __name__ == "__main__":
  app.run(main)
