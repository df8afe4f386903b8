"""`make demo` shows the project, not TensorFlow's start-up banners: the filter drops exactly
those lines and passes everything else, and the exit status, through."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "without_tf_banners.py"
# Seen on this machine type (TF 2.21, no GPU): the lines TF_CPP_MIN_LOG_LEVEL=2 leaves.
SEEN = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796255216.329378   16717 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
I0000 00:00:1796255216.329701   16717 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
E0000 00:00:1796255254.301578   16939 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
"""
KEPT = """\
E0000 00:00:1796255254.301578   16939 some_kernel.cc:52] an error of the model
W1202 23:53:27.227784 140673997290368 polymorphic_function.py:157] retracing
I1202 23:53:34.105852 140673997290368 driver.py:285] Done in 0m17s
Traceback (most recent call last):
"""


def _run(code):
  return subprocess.run([sys.executable, str(SCRIPT), sys.executable, "-c", code],
                        capture_output=True, text=True, timeout=120)


def test_drops_the_banners_and_keeps_everything_else():
  code = (f"import sys; sys.stderr.write({SEEN + KEPT!r}); print('table'); sys.exit(3)")
  result = _run(code)
  assert result.returncode == 3
  assert result.stdout == "table\n"
  assert result.stderr == KEPT


def test_importing_tensorflow_prints_nothing_through_it():
  result = _run("import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '2'; import tensorflow as tf; "
                "tf.config.list_physical_devices(); print(tf.reduce_sum([1.0, 2.0]).numpy())")
  assert result.returncode == 0, result.stderr
  assert (result.stdout, result.stderr) == ("3.0\n", "")
