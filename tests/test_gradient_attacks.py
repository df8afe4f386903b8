"""Gradient attacks and their epsilon search, on the authors' CNN with tiny budgets."""

import numpy as np
import pytest
import tensorflow as tf

from abs_tf import attacks
from abs_tf.attacks import base
from abs_tf.attacks import catalog
from abs_tf.attacks import epsilon_search
from abs_tf.attacks import gradient_attacks
from abs_tf.attacks import gradients
from abs_tf.evaluation import paper_table
from abs_tf.models import classifier
from abs_tf.models import cnn
from abs_tf.tools import foolbox_reference

# Small budgets: few epsilons, few bisection steps.
TINY = {
    "fgsm": dict(num_epsilons=50, max_epsilon=0.5, bisection_steps=6),
    "fgm": dict(num_epsilons=50, max_epsilon=10.0, bisection_steps=6),
    "bim_linf": dict(iterations=5, bisection_steps=6),
    "bim_l2": dict(iterations=5, bisection_steps=6),
    "mim": dict(iterations=5, bisection_steps=6),
}


@pytest.fixture(scope="module")
def batch(test_split):
  return test_split.images[:8], test_split.labels[:8]


@pytest.mark.parametrize("name", sorted(TINY))
def test_adversarials_are_verified_and_closer_than_the_start(name, reference_cnn, batch):
  images, labels = batch
  attack = attacks.ATTACKS[name](**TINY[name])
  result = attack(reference_cnn, images, labels)
  assert result.attack == name and result.success.all()
  predicted = reference_cnn(result.adversarials).numpy().argmax(1)
  assert np.all(predicted != labels)
  np.testing.assert_allclose(result.distances,
                             base.distance(images, result.adversarials, attack.metric))
  start = attack.schedule[0] if name.startswith(("bim", "mim")) else attack.schedule[-1]
  assert np.all(result.distances < start)
  assert np.all(result.distances > 0)


def test_query_count_of_bim_is_exact(reference_cnn, batch):
  images, labels = batch
  # Every sample succeeds at the first epsilon (0.3): 1 round, then 6 halvings, each with
  # 5 gradients and 1 check; plus the base's check before and its verification after.
  result = attacks.ATTACKS["bim_linf"](**TINY["bim_linf"])(reference_cnn, images, labels)
  np.testing.assert_array_equal(result.queries, 1 + (1 + 6) * (5 + 1) + 1)


def test_fgsm_search_finds_the_brute_force_minimum(reference_cnn, batch):
  images, labels = batch
  attack = gradient_attacks.FGSM(num_epsilons=50, max_epsilon=0.5, bisection_steps=10)
  result = attack(reference_cnn, images, labels)
  x = tf.constant(images)
  with tf.GradientTape() as tape:
    tape.watch(x)
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, reference_cnn(x))
  sign = np.sign(tape.gradient(loss, x).numpy()).astype(np.float32)
  grid = (np.arange(1, 1001) * 5e-4).astype(np.float32)   # brute force, 0.0005 apart
  perturbed = np.clip(images[None] + grid[:, None, None, None, None] * sign[None], 0, 1)
  predicted = np.concatenate([reference_cnn(chunk).numpy().argmax(1) for chunk in np.split(
      perturbed.reshape(-1, 28, 28, 1), 8)]).reshape(len(grid), len(images))
  adversarial = predicted != labels[None]
  first = np.where(adversarial.any(0), grid[np.argmax(adversarial, axis=0)], np.inf)
  tolerance = 0.5 / 50 / 2**10 + 1e-6               # the search's bisection interval
  assert np.all(result.distances <= first + tolerance)
  assert np.all(result.distances >= first - 5e-4 - tolerance)


def test_estimated_gradients_give_the_same_bim(reference_cnn, batch):
  images, labels = batch[0][:1], batch[1][:1]
  settings = dict(iterations=2, bisection_steps=2)
  exact = gradient_attacks.BIMLinf(**settings)(reference_cnn, images, labels)
  estimated = attacks.ATTACKS["bim_linf_ge"](fd_steps=(1e-2,), fd_max_images=3200,
                                             **settings)(reference_cnn, images, labels)
  assert estimated.success.all()
  np.testing.assert_allclose(estimated.distances, exact.distances, rtol=0.02)
  # Per epsilon tried: 2 gradients and 1 check; a gradient costs 1 query by autodiff and
  # 1 + 2 * 784 by finite differences. Plus the base's check and verification.
  epsilons_tried = (exact.queries - 2) // (2 + 1)
  np.testing.assert_array_equal(estimated.queries,
                                2 + epsilons_tried * (2 * (1 + 2 * 784) + 1))
  # The single-step attacks take the same hook (the model passed to CleverHans directly).
  settings = dict(num_epsilons=50, max_epsilon=0.5, bisection_steps=6)
  exact = gradient_attacks.FGSM(**settings)(reference_cnn, images, labels)
  estimated = attacks.ATTACKS["fgsm_ge"](fd_steps=(1e-2,), fd_max_images=3200, **settings)(
      reference_cnn, images, labels)
  np.testing.assert_allclose(estimated.distances, exact.distances, rtol=0.02)
  assert np.all(estimated.queries - exact.queries == 2 * 784)


def test_labels_of_any_integer_type_are_accepted(reference_cnn, batch):
  images, labels = batch[0][:2], batch[1][:2]
  attack = gradient_attacks.BIMLinf(iterations=2, bisection_steps=2)
  np.testing.assert_array_equal(attack(reference_cnn, images, labels.astype(np.int32)).distances,
                                attack(reference_cnn, images, labels).distances)


def test_binarised_model_is_attacked_with_straight_through_gradients(reference_cnn, batch):
  images, labels = batch
  binary = cnn.CNN(cnn.CNNConfig(binarize=True))
  binary.net.build((None, 28, 28, 1))
  binary.net.set_weights(reference_cnn.net.get_weights())
  result = gradient_attacks.FGSM(num_epsilons=20, max_epsilon=1.0, bisection_steps=4)(
      binary, images, labels, binarized=True)
  assert result.success.mean() >= 0.5
  # The paper's postprocessing: every changed pixel sits at the threshold.
  changed = result.adversarials != images
  assert np.all(np.isin(result.adversarials[changed], [0.5, np.nextafter(np.float32(0.5), 0)]))


def test_variants_are_registered_with_their_gradient_source():
  for name in TINY:
    assert attacks.ATTACKS[name]().gradient == gradients.AUTODIFF
    assert attacks.ATTACKS[name + "_envelope"]().gradient == gradients.AUTODIFF
    ge = attacks.ATTACKS[name + "_ge"](fd_steps=(0.1, 0.3))
    assert ge.gradient == gradients.FINITE_DIFFERENCES and len(ge.sources) == 2
    # Composition, not subclasses: the family's class with another gradient source, under
    # the variant's name, sharing the family's budget.
    for variant in (ge, attacks.ATTACKS[name + "_envelope"]()):
      assert type(variant) is type(attacks.ATTACKS[name]())
    assert ge.name == name + "_ge"
    assert attacks.ATTACKS[name + "_ge"].budget_name == name
    assert attacks.ATTACKS[name + "_envelope"].gradient == catalog.ENVELOPE
    assert attacks.ATTACKS[name + "_ge"].requires == catalog.OUTPUTS
    assert attacks.ATTACKS[name].requires == catalog.GRADIENTS


def test_invalid_settings_and_inputs_are_refused(reference_cnn, batch):
  images, labels = batch
  with pytest.raises(ValueError, match="gradient must be one of"):
    gradient_attacks.FGSM(gradient="numerical")
  with pytest.raises(ValueError, match="relative_step"):
    gradient_attacks.BIMLinf(relative_step=0.0)
  with pytest.raises(ValueError, match="iterations"):
    gradient_attacks.MIM(iterations=0)
  with pytest.raises(ValueError, match="bisection_steps"):
    gradient_attacks.FGM(bisection_steps=-1)
  with pytest.raises(ValueError, match="growth"):
    gradient_attacks.BIML2(growth=1.0)
  with pytest.raises(ValueError, match="max_epsilon > 0"):
    gradient_attacks.FGSM(max_epsilon=0.0)
  with pytest.raises(ValueError, match="0 < initial"):
    gradient_attacks.BIMLinf(initial_epsilon=0.0)
  with pytest.raises(ValueError, match="float32"):
    gradient_attacks.FGSM()(reference_cnn, images.astype(np.float64), labels)
  with pytest.raises(ValueError, match=r"\[0, 1\]"):
    gradient_attacks.FGSM()(reference_cnn, images * 2, labels)
  with pytest.raises(ValueError, match="labels"):
    gradient_attacks.FGSM()(reference_cnn, images, labels[:3])


class MeanThreshold(classifier.Classifier):
  """Class 1 iff the mean pixel exceeds 0.35, else class 0."""

  def logits_graph(self, images):
    excess = tf.reduce_mean(images, axis=[1, 2, 3])[:, None] - 0.35
    return tf.concat([-excess, excess, tf.zeros_like(excess) - 1.0 + tf.zeros([1, 8])], 1)


def test_epsilon_search_keeps_the_closest_and_respects_the_schedule():
  model = base.CountingModel(MeanThreshold(), batch_size=2)
  images = np.zeros((2, 28, 28, 1), np.float32)
  schedule = epsilon_search.linear_schedule(1.0, 10)
  result = epsilon_search.line_search(model, images, np.zeros(2, np.int64),
                                      np.stack([np.ones_like(images[0]), 0 * images[0]]),
                                      schedule, bisection_steps=8, metric=base.LINF)
  assert 0.35 < result.distances[0] < 0.35 + 0.1 / 2**8 + 1e-6
  assert result.distances[1] == np.inf                       # zero direction: not searched
  np.testing.assert_array_equal(model.queries, [4 + 8, 0])   # 0.1 .. 0.4, then 8 halvings
  with pytest.raises(ValueError, match="increasing"):
    epsilon_search.search(model, images, np.zeros(2, np.int64), None, [0.2, 0.1], 1,
                          base.LINF)


def test_linf_bim_matches_foolbox(reference_cnn, test_split):
  """Same search, same steps; the inner BIM is CleverHans' PGD vs Foolbox 3.3.4's."""
  images, labels = test_split.images[:20], test_split.labels[:20]
  settings = dict(iterations=10, bisection_steps=8)
  ours = gradient_attacks.BIMLinf(**settings)(reference_cnn, images, labels)
  theirs = foolbox_reference.FoolboxLinfBIM(**settings)(reference_cnn, images, labels)
  ratio = np.median(ours.distances) / np.median(theirs.distances)
  assert abs(ratio - 1) <= 0.05, ratio


# Reduced calibration against the paper's CNN column (scripts/calibrate_cnn.py runs the full
# one): 16 images, small budgets; the paper's medians within a loose 30 %.
def test_reduced_calibration_against_the_paper(reference_cnn, test_split):
  images, labels = test_split.images[:16], test_split.labels[:16]
  budgets = {"fgsm": dict(num_epsilons=200, bisection_steps=4),
             "fgm": dict(num_epsilons=200, bisection_steps=4),
             "bim_linf": dict(bisection_steps=8), "bim_l2": dict(bisection_steps=8),
             "mim": dict(bisection_steps=8)}
  medians = {name: np.median(attacks.ATTACKS[name](**budget)(
      reference_cnn, images, labels).distances) for name, budget in budgets.items()}
  for name, median in medians.items():
    paper_median, _ = paper_table.PAPER_TABLE[name]["cnn"]
    assert abs(median / paper_median - 1) <= 0.3, (name, median)


class SaturatedMeanThreshold(classifier.Classifier):
  """`MeanThreshold` with logits 30 times larger: far from the boundary the cross-entropy
  gradient underflows CleverHans' 1e-12 floor on its squared norm."""

  def logits_graph(self, images):
    return 30.0 * MeanThreshold().logits_graph(images)


def test_fgm_steps_along_a_gradient_below_cleverhans_floor():
  model = SaturatedMeanThreshold()
  images = np.zeros((1, 28, 28, 1), np.float32)
  labels = np.zeros(1, np.int64)
  x = tf.constant(images)
  with tf.GradientTape() as tape:
    tape.watch(x)
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, model(x))
  assert 0 < np.linalg.norm(tape.gradient(loss, x).numpy()) < 1e-8  # floor: 1e-6
  # Every pixel's gradient is equal: the class flips at a mean of 0.35, an L2 of 0.35 * 28.
  result = gradient_attacks.FGM(num_epsilons=100, bisection_steps=8)(model, images, labels)
  assert result.success.all()
  assert 0.35 * 28 - 1e-4 <= result.distances[0] <= 0.35 * 28 + 0.28 / 2**8 + 1e-4
