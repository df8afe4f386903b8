"""Dry runs of the baseline entry points with tiny settings: train, resume, export, measure."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT


def run(module, *flags):
  env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
  result = subprocess.run([sys.executable, "-m", module, "--alsologtostderr", *flags],
                          capture_output=True, text=True, env=env, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stderr


def test_madry_dry_run_trains_resumes_exports_and_measures(tmp_path):
  flags = [f"--checkpoint_dir={tmp_path / 'ckpt'}", "--max_train_images=40",
           "--batch_size=20", "--stage=1:1:0.375", "--stage=0.5:2:0.1", "--ramp_epochs=1",
           "--monitor_images=10", "--test_images=20", "--model=madry"]
  log = run("abs_tf.train_baseline", *flags)
  assert "Trained madry: 3 steps" in log
  export = tmp_path / "export" / "1"
  log = run("abs_tf.train_baseline", *flags, f"--export_dir={export}")
  assert "Resumed from" in log and "at step 3" in log
  assert (export / "saved_model.pb").is_file()
  summary = json.loads((tmp_path / "ckpt" / "summary.json").read_text())
  assert summary["steps"] == 3 and 0 <= summary["test_accuracy"] <= 1

  out = tmp_path / "metrics.json"
  run("abs_tf.measure_accuracy", f"--model={export}", "--test_images=30",
      "--pgd_images=10", "--pgd_steps=2", f"--output={out}")
  metrics = json.loads(out.read_text())
  assert metrics["clean_images"] == 30 and metrics["pgd"]["num_images"] == 10
  assert metrics["pgd"]["robust_accuracy"] <= metrics["pgd"]["clean_accuracy"]


def test_cnn_dry_run_rejects_adversarial_flags(tmp_path):
  env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
  result = subprocess.run(
      [sys.executable, "-m", "abs_tf.train_baseline", "--model=cnn", "--stage=1:1:0.1",
       f"--checkpoint_dir={tmp_path}"], capture_output=True, text=True, env=env, timeout=300)
  assert result.returncode != 0 and "adversarial" in result.stderr


def test_binary_cnn_dry_run(tmp_path):
  log = run("abs_tf.train_baseline", "--model=binary_cnn", "--epochs=1",
            "--max_train_images=100", "--batch_size=50", "--test_images=20",
            f"--checkpoint_dir={tmp_path}", f"--export_dir={tmp_path / 'export' / '1'}")
  assert "Trained binary_cnn: 2 steps" in log
  meta = json.loads((tmp_path / "export" / "1" / "assets" / "abs_tf_model.json").read_text())
  assert meta == {"kind": "cnn", "config": {"filters": [20, 70, 256, 10],
                                            "kernels": [5, 4, 3, 5], "strides": [1, 2, 2, 1],
                                            "binarize": True}}


def test_nearest_neighbor_export_only(tmp_path):
  export = tmp_path / "nn" / "1"
  log = run("abs_tf.train_baseline", "--model=nearest_neighbor", "--test_images=20",
            f"--export_dir={export}")
  assert "clean accuracy 1.0000 on the first 20" in log
  small = sum(f.stat().st_size for f in export.rglob("*") if f.is_file()
              and f.name != "train-images-idx3-ubyte.gz")
  assert small < 200_000
