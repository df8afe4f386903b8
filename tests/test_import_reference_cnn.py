"""The authors' CNN imported into this project's CNN reproduces their logits."""

import numpy as np
import pytest

from abs_tf.export import saved_model
from abs_tf.tools import import_reference_cnn

NUM_CHECKED = 2000


@pytest.fixture(scope="module")
def model():
  """By default the weights are the authors' file vendored in third_party/abs_authors."""
  return import_reference_cnn.import_reference_cnn()


def test_reproduces_the_authors_logits(model, reference_logits, test_split):
  images = test_split.images[:NUM_CHECKED]
  logits = np.concatenate([model(images[i:i + 500]).numpy()
                           for i in range(0, NUM_CHECKED, 500)])
  expected = reference_logits["cnn_all_test"][:NUM_CHECKED]
  np.testing.assert_allclose(logits, expected, atol=1e-3, rtol=0)
  np.testing.assert_array_equal(logits.argmax(1), expected.argmax(1))
  assert np.mean(logits.argmax(1) == test_split.labels[:NUM_CHECKED]) > 0.99


def test_exported_model_reloads_to_the_same_logits(model, tmp_path, test_split):
  path = saved_model.export(model, tmp_path / "reference_cnn" / "1")
  images = test_split.images[:64]
  reloaded = saved_model.SavedModelClassifier(path)
  np.testing.assert_allclose(reloaded(images).numpy(), model(images).numpy(), atol=1e-5)
  rebuilt = saved_model.load_in_memory(path, {"cnn": type(model)})
  np.testing.assert_allclose(rebuilt(images).numpy(), model(images).numpy(), atol=1e-6)


def test_missing_weights_file_is_refused(tmp_path):
  with pytest.raises(FileNotFoundError, match="No CNN weights"):
    import_reference_cnn.import_reference_cnn(str(tmp_path / "missing.npz"))


def test_wrong_arrays_are_refused(reference_dir, tmp_path):
  with np.load(reference_dir / "cnn_official_weights.npz") as archive:
    arrays = {k: archive[k] for k in archive.files}
  arrays["conv_1.weight"] = arrays["conv_1.weight"][:, :, :3]
  np.savez(tmp_path / "bad.npz", **arrays)
  with pytest.raises(ValueError, match="expected shape"):
    import_reference_cnn.import_reference_cnn(str(tmp_path / "bad.npz"))
