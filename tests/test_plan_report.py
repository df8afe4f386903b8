"""The plan printed before a run (`abs_tf.evaluation.plan_report`): per model the attacks that
run, on how many images and in how many units, and those skipped, with the reason.

The command-line tests use the shipped CNN and ABS (described, not loaded, when nothing runs)
and a SavedModel given by path that no tape can differentiate (it rounds its input).
"""

import dataclasses
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from abs_tf import registry
from abs_tf.attacks import ATTACKS
from abs_tf.attacks import catalog
from abs_tf.evaluation import driver
from abs_tf.evaluation import models as models_lib
from abs_tf.evaluation import plan_report
from abs_tf.evaluation import progress
from abs_tf.evaluation import results
from abs_tf.evaluation import runner as runner_lib
from abs_tf.export import classifier_export

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
STANDARD = REPO_ROOT / "results" / "standard"
NO_GRADIENTS = "skipped (no gradients, a GradientTape cannot differentiate the model): "
NOT_ABS = "skipped (not an ABS model): "


@pytest.fixture(scope="module")
def rounded(tmp_path_factory):
  """A linear classifier of the rounded image: a SavedModel without input gradients."""
  weights = tf.Variable(np.random.default_rng(0).normal(size=(784, 10)).astype(np.float32))

  def logits(images):
    return tf.matmul(tf.reshape(tf.round(images), [-1, 784]), weights)

  path = tmp_path_factory.mktemp("own") / "rounded" / "1"
  return str(classifier_export.export_classifier(logits, path, variables=[weights]))


def _evaluate(*flags):
  return subprocess.run([sys.executable, "-m", "abs_tf.evaluate", *flags], capture_output=True,
                        text=True, cwd=REPO_ROOT, timeout=600)


def _names(requires: tuple) -> str:
  """The registered attacks that require one of `requires`, in table order, as the plan
  lists them."""
  return ", ".join(a for a in catalog.table_order(ATTACKS) if ATTACKS[a].requires in requires)


def _section(stdout: str, model: str) -> list:
  """The plan's lines of `model`: from its heading to the next model's or the totals."""
  lines = stdout.splitlines()
  start = next(i for i, line in enumerate(lines) if line.startswith(f"{model} ("))
  end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")),
             len(lines))
  return lines[start + 1:end]


def test_estimate_prints_the_plan_with_skips_caps_stored_rows_and_times(rounded, tmp_path):
  """Standard profile, 110 images, into a copy of the shipped rows (100 images each):
  what remains, what the profile caps or excludes, what needs gradients or ABS."""
  out = tmp_path / "standard"
  out.mkdir()
  for name in (results.RESULTS_FILE, "budgets.json"):
    shutil.copy(STANDARD / name, out / name)
  before = (out / results.RESULTS_FILE).read_bytes()
  result = _evaluate(f"--models=cnn,{rounded},abs", "--profile=standard", "--num_samples=110",
                     f"--output_dir={out}", f"--estimate_from={STANDARD}")
  assert result.returncode == 0, result.stderr[-3000:]
  stdout = result.stdout
  assert stdout.startswith(f"Plan: profile standard, test images 0-109, output {out}\n")
  assert (out / results.RESULTS_FILE).read_bytes() == before  # nothing ran

  rows = results.ResultStore(STANDARD).rows.values()
  fgsm = np.mean([r.seconds for r in rows if (r.model, r.attack) == ("cnn", "fgsm")])
  cnn = _section(stdout, "cnn")
  assert (f"  run  fgsm               110 images, 100 stored; 10 to attack in 1 unit, "
          f"~{progress.format_seconds(10 * fgsm)}") in cnn
  assert "  done (every image stored): bim_l2_ge, bim_linf_ge, mim_ge" in cnn  # capped at 20
  assert "  " + NOT_ABS + _names((catalog.LATENT_INFERENCE,)) in cnn
  not_default = [a for a in catalog.table_order(ATTACKS) if not ATTACKS[a].in_default_plan
                 and ATTACKS[a].requires != catalog.LATENT_INFERENCE]
  if not_default:
    assert ("  skipped (not in the default plan; name it with --attacks): "
            + ", ".join(not_default)) in cnn
  assert cnn[-1].startswith("  estimated time: ")

  own = _section(stdout, rounded)
  assert f"\n{rounded} (rounded): no gradients\n" in stdout
  needs_gradients = _names((catalog.GRADIENTS, catalog.MODEL_GRADIENTS))
  assert "  " + NO_GRADIENTS + needs_gradients in own
  assert "  run  fgsm_ge            110 images; 110 to attack in 11 units, ~" in "\n".join(own)
  assert ("  run  bim_linf_ge        first 20 of 110 images (the profile's cap); 20 to attack "
          "in 2 units, ~") in "\n".join(own)

  abs_ = _section(stdout, "abs")
  assert "abs (ABS): envelope gradients, ABS" in stdout
  assert ("  skipped (excluded by profile standard for ABS models): bim_l2_ge, bim_linf_ge, "
          "mim_ge") in abs_
  assert ("  skipped (needs autodiff or straight-through gradients, the model has envelope "
          "gradients): fgm, bim_l2, fgsm, bim_linf, mim") in abs_
  assert "  done (every image stored): fgm_ge, fgsm_ge" in abs_  # capped at 10 for ABS
  assert any(line.startswith("  run  latent_descent     110 images, 100 stored; 10 to attack "
                             "in 1 unit, ~") for line in abs_)
  assert stdout.rstrip().splitlines()[-1].startswith("In all: ")
  assert "; estimated time " in stdout.rstrip().splitlines()[-1]


def test_a_run_prints_its_plan_first_and_a_rerun_finds_everything_done(rounded, tmp_path):
  flags = [f"--models=cnn,{rounded}", "--attacks=fgsm,fgsm_ge,gaussian_noise",
           "--profile=smoke", "--num_samples=2", "--figures=false", "--recheck=0",
           "--executor=local", f"--output_dir={tmp_path / 'smoke'}"]
  first = _evaluate(*flags)
  assert first.returncode == 0, first.stderr[-3000:]
  plan, after = first.stdout.split("\nIn all: ", 1)  # the plan, then the table
  others = len(ATTACKS) - 3
  assert plan.startswith("Plan: profile smoke, test images 0-1, output ")
  assert _section(plan, "cnn") == [
      "  run  gaussian_noise 2 images; 2 to attack in 1 unit",
      "  run  fgsm           2 images; 2 to attack in 1 unit",
      "  run  fgsm_ge        2 images; 2 to attack in 1 unit",
      f"  ({others} other attacks not named by --attacks)"]
  own = _section(plan, rounded)
  assert "  " + NO_GRADIENTS + "fgsm" in own
  assert f"  ({others} other attacks not named by --attacks)" in own
  assert after.startswith("5 work units to run, 10 image-attack pairs to attack.\n")
  assert "| Clean |" in after

  again = _evaluate(*flags)
  assert again.returncode == 0, again.stderr[-3000:]
  assert "  done (every image stored): " in _section(again.stdout, "cnn")[0]
  assert "In all: 0 work units to run, 0 image-attack pairs to attack." in again.stdout


@pytest.fixture
def beyond_default():
  """Gaussian noise again under another name, outside the default plan, for the test."""
  entry = dataclasses.replace(ATTACKS["gaussian_noise"], name="gaussian_noise_again",
                              in_default_plan=False)
  catalog.register_entry(entry)
  yield entry.name
  catalog.unregister(entry.name)


def test_describe_says_why_each_attack_is_skipped(beyond_default, tmp_path, test_split):
  refs = [models_lib.ModelRef("plain", "Plain", registry.AUTODIFF, fingerprint="p"),
          models_lib.ModelRef("tiny_abs", "Tiny ABS", registry.ENVELOPE, is_abs=True,
                              fingerprint="a")]
  runner = runner_lib.UnitRunner(test_split=test_split)
  config = driver.EvaluationConfig(models=("plain", "tiny_abs"), profile="standard",
                                   output_dir=str(tmp_path), num_samples=30)
  run = driver.prepare(config, runner, refs)
  report = plan_report.describe(config, run)
  plain = {a.attack: a for a in report.models[0].attacks}
  assert plain[beyond_default] == plan_report.AttackPlan(
      beyond_default, plan_report.SKIPPED, plan_report.NOT_DEFAULT)
  assert plain["gaussian_noise"] == plan_report.AttackPlan(
      "gaussian_noise", plan_report.RUN, images=30, units=3)
  assert plain["mim_ge"] == plan_report.AttackPlan("mim_ge", plan_report.RUN, images=20,
                                                   capped=True, units=2)
  assert plain["latent_descent"].reason == "not an ABS model"
  tiny_abs = {a.attack: a for a in report.models[1].attacks}
  assert tiny_abs["mim_ge"].reason == "excluded by profile standard for ABS models"
  assert tiny_abs["latent_descent"] == plan_report.AttackPlan(
      "latent_descent", plan_report.RUN, images=30, units=1)  # ABS: chunks of 50
  assert report.count("units") == len(run.units)

  named = dataclasses.replace(config, attacks=(beyond_default, "latent_descent"))
  report = plan_report.describe(named, driver.prepare(named, runner, refs))
  assert [(a.attack, a.status) for a in report.models[0].attacks] == [
      (beyond_default, plan_report.RUN), ("latent_descent", plan_report.SKIPPED)]
  assert report.models[0].not_requested == len(ATTACKS) - 2
  text = plan_report.to_text(report)
  assert "  skipped (not an ABS model): latent_descent" in text
  assert f"  ({len(ATTACKS) - 2} other attacks not named by --attacks)" in text
  assert "estimated" not in text  # no timings given
