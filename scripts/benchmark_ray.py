r"""Throughput of the Ray executor with 1, 2 and 3 nodes on this machine (loopback cluster).

  python scripts/benchmark_ray.py --nodes=1,2,3 --models=cnn,nearest_neighbor \
      --attacks=gaussian_noise,salt_and_pepper,boundary --num_samples=20 --chunk_size=2

For each node count, starts a `ray.cluster_utils.Cluster` (one CPU per node), runs the same
evaluation into a fresh directory and prints rows/s and model queries/s over the executor's
wall time, actor start-up (TensorFlow import, model loading) included and, separately,
without the first unit of each actor (`steady`). On one 2-core machine more nodes share the
same cores: the figures measure the executor's overhead, not a real cluster's speed-up.
"""

import os
import pathlib
import sys
import tempfile
import time

from absl import app
from absl import flags

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from abs_tf.evaluation import driver  # pylint: disable=g-import-not-at-top
from abs_tf.evaluation import ray_executor  # pylint: disable=g-import-not-at-top
from abs_tf.evaluation import runner as runner_lib  # pylint: disable=g-import-not-at-top

FLAGS = flags.FLAGS
flags.DEFINE_list("nodes", ["1", "2", "3"], "Node counts to measure.")
flags.DEFINE_list("models", ["cnn", "nearest_neighbor"], "Models.")
flags.DEFINE_list("attacks", ["gaussian_noise", "salt_and_pepper", "boundary"], "Attacks.")
flags.DEFINE_string("profile", "smoke", "Budget profile.")
flags.DEFINE_integer("num_samples", 20, "Test images.")
flags.DEFINE_integer("chunk_size", 2, "Images per work unit.")


class _Timed(ray_executor.RayExecutor):
  """Records when each result arrived."""

  def run(self, units):
    self.arrivals = []
    for result in super().run(units):
      self.arrivals.append((time.perf_counter(), result))
      yield result


def measure(num_nodes, runner):
  import ray  # pylint: disable=import-outside-toplevel
  from ray import cluster_utils  # pylint: disable=import-outside-toplevel
  os.environ["PYTHONPATH"] = os.pathsep.join(
      p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
  cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
  for _ in range(num_nodes - 1):
    cluster.add_node(num_cpus=1)
  ray.init(address=cluster.address, logging_level="WARNING")
  cluster.wait_for_nodes()
  try:
    with tempfile.TemporaryDirectory() as output_dir:
      config = driver.EvaluationConfig(
          models=tuple(FLAGS.models), attacks=tuple(FLAGS.attacks), profile=FLAGS.profile,
          output_dir=output_dir, num_samples=FLAGS.num_samples, chunk_size=FLAGS.chunk_size,
          recheck=0, figures=False)
      executor = _Timed()
      start = time.perf_counter()
      summary = driver.evaluate(config, executor, runner=runner)
      seconds = time.perf_counter() - start
  finally:
    ray.shutdown()
    cluster.shutdown()
  rows = [row for _, result in executor.arrivals for row in result.rows]
  queries = sum(row.queries for row in rows)
  # Steady state: from the num_nodes-th arrival on (every actor has loaded its models).
  steady = executor.arrivals[num_nodes:]
  span = steady[-1][0] - executor.arrivals[num_nodes - 1][0] if len(steady) > 1 else 0.0
  steady_rows = sum(len(r.rows) for _, r in steady)
  steady_queries = sum(row.queries for _, r in steady for row in r.rows)
  return dict(nodes=num_nodes, units=summary.units_run, rows=len(rows), seconds=seconds,
              rows_per_s=len(rows) / seconds, queries_per_s=queries / seconds,
              steady_rows_per_s=steady_rows / span if span else float("nan"),
              steady_queries_per_s=steady_queries / span if span else float("nan"))


def main(argv):
  del argv
  runner = runner_lib.UnitRunner()
  print(f"{'nodes':>5s} {'units':>5s} {'rows':>5s} {'seconds':>8s} {'rows/s':>7s} "
        f"{'queries/s':>10s} {'steady rows/s':>14s} {'steady queries/s':>17s}")
  for nodes in FLAGS.nodes:
    m = measure(int(nodes), runner)
    print(f"{m['nodes']:5d} {m['units']:5d} {m['rows']:5d} {m['seconds']:8.1f} "
          f"{m['rows_per_s']:7.2f} {m['queries_per_s']:10.0f} {m['steady_rows_per_s']:14.2f} "
          f"{m['steady_queries_per_s']:17.0f}", flush=True)


if __name__ == "__main__":
  app.run(main)
