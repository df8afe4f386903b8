"""Latent Descent flips the decision of ABS and Binary ABS built from the authors' weights,
its binary search only shrinks the perturbation, and it refuses models without inference."""

import numpy as np
import pytest

from abs_tf.attacks import ATTACKS
from abs_tf.attacks import base
from abs_tf.attacks import latent_descent
from abs_tf.models import latent_search
from abs_tf.tools import import_reference_cnn
from abs_tf.tools import import_reference_weights

# Small latent searches keep ABS fast; the attack does not depend on them.
SEARCH = latent_search.LatentSearchConfig(num_samples=1000, num_steps=5)


@pytest.fixture(scope="module", params=[False, True], ids=["abs", "binary_abs"])
def abs_model(request, reference_dir):
  return import_reference_weights.reference_abs(
      str(reference_dir / "abs_official_weights.npz"), SEARCH, binary=request.param)


@pytest.fixture(scope="module")
def batch(test_split):
  return test_split.images[:2], test_split.labels[:2]


def test_registered():
  assert ATTACKS["latent_descent"].factory is latent_descent.LatentDescentAttack


def test_flips_the_label_and_search_only_shrinks(abs_model, batch):
  images, labels = batch
  logits = base.compiled(abs_model)  # the attacks' compiled model: traced once per model
  assert np.all(logits(images).numpy().argmax(axis=1) == labels)
  binarized = abs_model.config.binarize
  unrefined = latent_descent.LatentDescentAttack(search_steps=0)(abs_model, images, labels,
                                                                 binarized=binarized)
  result = latent_descent.LatentDescentAttack(search_steps=8)(abs_model, images, labels,
                                                              binarized=binarized)
  for attacked in (unrefined, result):
    assert attacked.success.all()
    assert np.all(logits(attacked.adversarials).numpy().argmax(axis=1) != labels)
    assert np.all(np.isfinite(attacked.distances)) and np.all(attacked.distances > 0)
  assert np.all(result.distances <= unrefined.distances)
  # One inference per step and sample, then the search's 8 queries (+ the base's 2 checks).
  np.testing.assert_array_equal(result.queries, unrefined.queries + 8)


def test_refuses_models_without_latent_inference(reference_dir, batch):
  cnn = import_reference_cnn.import_reference_cnn(str(reference_dir / "cnn_official_weights.npz"))
  with pytest.raises(TypeError, match="ABS models only"):
    latent_descent.LatentDescentAttack()(cnn, *batch)


def test_rejects_bad_settings():
  with pytest.raises(ValueError):
    latent_descent.LatentDescentAttack(epsilon=0.0)
  with pytest.raises(ValueError):
    latent_descent.LatentDescentAttack(max_steps=0)
