"""The shipped SavedModels compute what they computed when their outputs were stored, and keep
their model fingerprints (tests/data/shipped_outputs.json, scripts/store_shipped_outputs.py).

A re-export (another serving graph, batch buckets, warmup files) must pass unchanged: the
rows of results/standard carry these fingerprints. A model trained or configured otherwise
fails here; its stored entry must then be written again and its rows run again.
"""

import json
import pathlib

import numpy as np
import pytest

from abs_tf import registry
from abs_tf.export import fingerprint

OUTPUTS = json.loads(
    (pathlib.Path(__file__).resolve().parent / "data" / "shipped_outputs.json").read_text())


def test_every_registry_model_has_stored_outputs():
  missing = sorted(set(registry.MODELS) - set(OUTPUTS["models"]))
  assert not missing, (f"No stored outputs of {missing}: run "
                       f"scripts/store_shipped_outputs.py --models={','.join(missing)}")


@pytest.mark.parametrize("name", sorted(OUTPUTS["models"]))
def test_saved_model_keeps_its_fingerprint_and_logits(name, test_split):
  stored = OUTPUTS["models"][name]
  assert fingerprint.model_fingerprint(registry.saved_model_path(name)) == stored["fingerprint"]
  model = registry.load_model(name, source="saved_model")  # through serving_default
  logits = model(test_split.images[OUTPUTS["test_indices"]]).numpy()
  np.testing.assert_allclose(logits, np.array(stored["logits"], np.float32), rtol=0, atol=1e-5)
