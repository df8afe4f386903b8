"""The extension claim: a new attack is one module (a class with its declarations,
registered) and a new model one registry entry; both run through `abs_tf.evaluate` into
Table 1, as a new row and a new column, with no other file edited."""

import numpy as np
import pytest

from abs_tf import registry
from abs_tf.attacks import base
from abs_tf.attacks import catalog
from abs_tf.evaluation import driver
from abs_tf.evaluation import models as models_lib
from abs_tf.evaluation import plan
from abs_tf.evaluation import results
from abs_tf.evaluation import runner as runner_lib
from abs_tf.export import saved_model
from abs_tf.models import cnn


# --- The new attack's module. ---
class UniformNoiseAttack(base.MinimizationAttack):
  """Uniform noise of growing L-infinity size until the decision changes (a toy attack).

  Args:
    epsilons: noise sizes tried, evenly spaced in (0, 1].
    seed: seed of the noise.
  """
  name, metric = "uniform_noise", base.LINF
  kind, title, place = catalog.DECISION, "Uniform Noise", 25
  paper_row = False

  def __init__(self, *, epsilons: int = 10, seed: int = 0):
    super().__init__(seed=seed)
    self.epsilons = int(epsilons)

  def run(self, model, images, labels, rng):
    found, todo = images.copy(), np.arange(len(images))
    for epsilon in np.linspace(0.0, 1.0, self.epsilons + 1)[1:]:
      noise = rng.uniform(-epsilon, epsilon, images[todo].shape).astype(np.float32)
      candidates = np.clip(images[todo] + noise, 0.0, 1.0)
      flipped = model.is_adversarial(candidates, labels[todo], todo)
      found[todo[flipped]] = candidates[flipped]
      todo = todo[~flipped]
    return found
# --- End of the module. ---


@pytest.fixture
def new_attack():
  """The attack, registered for the test's duration (a module would use @catalog.register)."""
  catalog.register(UniformNoiseAttack)
  yield UniformNoiseAttack.name
  catalog.unregister(UniformNoiseAttack.name)


@pytest.fixture
def new_model(tmp_path, monkeypatch):
  """A tiny untrained CNN exported to tmp, and its one registry entry for the test."""
  path = saved_model.export(cnn.CNN(cnn.CNNConfig(filters=(4, 4, 4, 10))),
                            tmp_path / "tiny_cnn" / "1")
  monkeypatch.setitem(registry.MODELS, "tiny_cnn", registry.ModelSpec(
      "tiny_cnn", "Tiny CNN", registry.AUTODIFF, made_by=None, saved_model=str(path)))
  return "tiny_cnn"


def test_a_new_attack_and_model_reach_table_1(new_attack, new_model, tmp_path, test_split):
  output_dir = tmp_path / "run"
  config = driver.EvaluationConfig(
      models=("cnn", new_model), attacks=(new_attack, "fgsm"), profile="smoke",
      output_dir=str(output_dir), num_samples=3, recheck=1, figures=False)
  summary = driver.evaluate(config, runner=runner_lib.UnitRunner(test_split=test_split))

  rows = results.ResultStore(output_dir).rows
  assert {(m, a) for m, a, _ in rows} == {(m, a) for m in ("cnn", new_model)
                                          for a in (new_attack, "fgsm")}
  assert not summary.warnings  # the rerun chunk reproduced
  # The new row, placed by its declaration among the L-inf rows; the new column.
  assert summary.table.models == ["cnn", new_model]
  # Beyond the paper's rows (its declaration): marked, and "All" of the paper's beside "All".
  assert [row for row, _ in summary.table.rows] == [new_attack, "fgsm", "all_paper_linf",
                                                    "all_linf"]
  markdown = (output_dir / "table.md").read_text()
  assert "| | CNN | Tiny CNN |" in markdown
  assert "| Uniform Noise † | " in markdown
  found = summary.table.cells[(new_attack, new_model)]
  assert found.count == 3 and 0 <= found.median <= 1
  # The plan read the model's entry: real gradients, so FGSM applies; no ABS attacks.
  ref = models_lib.describe(new_model, models_lib.ModelCache())
  assert "fgsm" in plan.applicable_attacks(ref)
  assert "latent_descent" not in plan.applicable_attacks(ref)
  assert registry.saved_model_path(new_model).parent.name == "tiny_cnn"


def test_declarations_are_checked():
  with pytest.raises(ValueError, match="kind"):
    catalog.entry_of(UniformNoiseAttack, kind="score")
  with pytest.raises(ValueError, match="registered twice"):
    catalog.register_entry(catalog.ATTACKS["fgsm"])


def test_each_model_fact_is_in_its_spec_and_agrees_with_the_model():
  from abs_tf.models import abs_model
  from abs_tf.training import recipes
  trained_here = {name for name, spec in registry.MODELS.items()
                  if spec.made_by == registry.TRAIN_BASELINE}
  assert trained_here == set(recipes.RECIPES)
  for name, spec in registry.MODELS.items():
    stored = saved_model.read_model_json(registry.saved_model_path(name))
    # `is_abs` declares what `classifier.has_latent_inference` finds on the loaded model.
    assert spec.is_abs == (registry.KINDS[stored["kind"]] is abs_model.ABS), name
    assert spec.binarized == bool(stored["config"].get("binarize", False)), name
    assert spec.paper_column in registry.paper_models() + (None,), name
