"""scripts/verify_adversarials.py: a row's adversarials checked by the serving signature and a
recount, and a stored row that the run does not reproduce reported as a disagreement (run as
a program: its absl flags would clash with other scripts' imported by the suite)."""

import subprocess
import sys

import pytest

from abs_tf.evaluation import results

from conftest import REPO_ROOT


def _verify(*flags):
  return subprocess.run(
      [sys.executable, "scripts/verify_adversarials.py", "--model=cnn", "--attack=fmn_l2",
       "--num_images=3", *flags], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def test_the_cnns_fmn_adversarials_are_confirmed_and_a_wrong_row_is_not(tmp_path):
  found = _verify()
  assert found.returncode == 0, found.stderr[-2000:]
  assert "3 adversarials checked by the serving signature; 0 disagreements" in found.stdout
  fingerprint = found.stdout.splitlines()[0].rsplit(" ", 1)[1]
  first = found.stdout.splitlines()[2].split()  # index label distance recounted class ...
  assert first[0] == "0" and float(first[3]) == pytest.approx(float(first[2]), rel=1e-5)
  assert first[4] != first[1]  # the serving signature's class is not the label
  row = results.Row("cnn", "fmn_l2", "l2", 0, int(first[1]), float(first[2]) + 0.5, 10, 0.0,
                    "standard", fingerprint, (0, 3))
  results.ResultStore(tmp_path).append([row])
  wrong = _verify(f"--results_dir={tmp_path}")
  assert wrong.returncode == 1
  assert "DISAGREES" in wrong.stdout.splitlines()[2] and "1 disagreements" in wrong.stdout


def test_an_unknown_model_is_refused_with_the_names():
  found = subprocess.run([sys.executable, "scripts/verify_adversarials.py", "--model=cnnn"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
  assert found.returncode != 0 and "--model must be one of" in found.stderr
  assert "'cnn'" in found.stderr and "got 'cnnn'" in found.stderr
