"""The shipped ABS and Binary ABS SavedModels: same logits in memory and served, accuracy."""

import numpy as np
import pytest

from abs_tf import registry
from abs_tf.models import abs_model

# Lowest accepted accuracy on the first 200 test images; both measured 98.1-98.2 % on the
# whole test set (saved_models/<name>/metrics.json).
SHIPPED_ACCURACY = {"abs": 0.97, "binary_abs": 0.97}


@pytest.mark.parametrize("name", sorted(SHIPPED_ACCURACY))
def test_shipped_abs_models(name, test_split):
  memory = registry.load_model(name)
  assert isinstance(memory, abs_model.ABS)
  assert memory.config.search.num_samples == 10_000 and memory.config.search.num_steps == 20
  assert memory.config.binarize == (name == "binary_abs")
  served = registry.load_model(name, source="saved_model")
  x, y = test_split.images[:200], test_split.labels[:200]
  logits = memory(x).numpy()
  np.testing.assert_allclose(served(x[:20]).numpy(), logits[:20], atol=1e-5)
  assert np.mean(logits.argmax(1) == y) >= SHIPPED_ACCURACY[name]
