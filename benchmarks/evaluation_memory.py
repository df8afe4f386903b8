r"""Peak resident memory of every process of an evaluation run.

Runs `python -m abs_tf.evaluate` with the arguments after `--` and samples, every
`--interval` seconds, the peak resident set size (`VmHWM` of /proc/<pid>/status: the
kernel's own high-water mark, so a peak between two samples is not missed) of the driver
and of every process it starts (the worker processes, and multiprocessing's resource
tracker, about 13 MiB). Prints one JSON line per process (pid, role, peak MB,
seconds alive) and one for the run: its wall time, exit status, the largest peak of any one
process and the largest sum of resident memory of all of them at one sample.

  python benchmarks/evaluation_memory.py -- --models=abs,binary_abs,cnn --profile=standard \
      --num_samples=5 --attacks=fgsm_envelope,latent_descent,boundary \
      --output_dir=/tmp/memory_run --recheck=0 --nofigures

Linux only (/proc). A benchmark, not a test: nothing is asserted.
"""

import json
import os
import pathlib
import subprocess
import sys
import time

from absl import app
from absl import flags

from abs_tf.evaluation import executor

flags.DEFINE_float("interval", 0.5, "Seconds between samples.")
flags.DEFINE_string("log", None, "File for the evaluation's output (default: discarded).")
FLAGS = flags.FLAGS

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
KIB = 1024


def descendants(root: int) -> list:
  """`root` and every process below it (from the parent pids in /proc/<pid>/stat)."""
  parents = {}
  for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
    try:
      fields = stat.read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
      continue
    parents[int(stat.parent.name)] = int(fields[1])
  found = [root]
  for pid in found:  # grows while it is walked: breadth first
    found.extend(child for child, parent in parents.items() if parent == pid)
  return found


def sample_tree(root: int, seen: dict) -> int:
  """Updates `seen` (pid -> record) from `root` and its descendants; returns their summed
  current resident memory in KiB."""
  total = 0
  now = time.monotonic()
  for pid in descendants(root):
    peak = executor.status_kib(pid, "VmHWM")
    if not peak:
      continue  # gone
    total += executor.status_kib(pid, "VmRSS")
    record = seen.setdefault(pid, {"pid": pid, "role": "driver" if pid == root else "worker",
                                   "peak_kib": 0, "first": now, "last": now})
    record["peak_kib"] = max(record["peak_kib"], peak)
    record["last"] = now
  return total


def main(argv):
  command = [sys.executable, "-m", "abs_tf.evaluate"] + argv[1:]
  log = open(FLAGS.log, "w") if FLAGS.log else subprocess.DEVNULL
  env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
  start = time.monotonic()
  child = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
  seen, largest_total = {}, 0
  while child.poll() is None:
    largest_total = max(largest_total, sample_tree(child.pid, seen))
    time.sleep(FLAGS.interval)
  seconds = time.monotonic() - start
  for record in sorted(seen.values(), key=lambda r: r["first"]):
    print(json.dumps({"pid": record["pid"], "role": record["role"],
                      "peak_mb": round(record["peak_kib"] / KIB),
                      "seconds": round(record["last"] - record["first"], 1)}))
  print(json.dumps({
      "command": " ".join(command[1:]), "returncode": child.returncode,
      "seconds": round(seconds), "processes": len(seen),
      "largest_process_peak_mb": round(max((r["peak_kib"] for r in seen.values()),
                                           default=0) / KIB),
      "largest_total_rss_mb": round(largest_total / KIB)}))


if __name__ == "__main__":
  app.run(main)
