"""Imports the baseline CNN whose weights the paper's authors released.

The authors' CNN (third_party/abs_authors/README.md: conv 5x5/20, 4x4/70 s2, 3x3/256 s2,
5x5/10, batch norm and ELU after the first three) is this project's `CNN` with the default
`CNNConfig`. Its PyTorch arrays (`cnn_official_weights.npz`, keys `conv_i.*`, `bn_i.*`) are
copied into the Keras layers by `torch_weights.load_sequential`; the imported model reproduces
the authors' logits `cnn_all_test` of `reference_logits.npz`
(tests/test_import_reference_cnn.py). The paper's CNN column of Table 1 was measured on this
network, so the attacks are calibrated on it.

  python -m abs_tf.tools.import_reference_cnn --export_dir=/tmp/reference_cnn/1 \
      [--weights=third_party/abs_authors/cnn_official_weights.npz]

The default --weights (shown) is the authors' file vendored in third_party/abs_authors.

References:
  Schott et al., ICLR 2019, section 5 and Table 1 (CNN column).
"""

import os
from typing import Optional

from absl import app
from absl import flags
from absl import logging
import numpy as np

from abs_tf import resources
from abs_tf.export import saved_model
from abs_tf.models import classifier
from abs_tf.models import cnn
from abs_tf.tools import torch_weights

# The authors' weights, in third_party/abs_authors (`resources.authors_file`).
WEIGHTS = "cnn_official_weights.npz"


def import_reference_cnn(weights_path: Optional[str] = None) -> cnn.CNN:
  """Builds the paper's CNN with the authors' released weights.

  Args:
    weights_path: the `.npz` of PyTorch arrays (`conv_{0..3}.{weight,bias}`,
      `bn_{0..2}.{weight,bias,running_mean,running_var,num_batches_tracked}`); by default
      the authors' file vendored in third_party/abs_authors.

  Returns:
    A `CNN` (default `CNNConfig`, not binarised) mapping float32 images [B, 28, 28, 1] in
    [0, 1] to the authors' logits [B, 10].

  Raises:
    FileNotFoundError: no file at `weights_path`. KeyError / ValueError: an array is
    missing, has the wrong shape, or is left unused.
  """
  if weights_path is None:
    weights_path = str(resources.authors_file(WEIGHTS))
  if not os.path.isfile(weights_path):
    raise FileNotFoundError(f"No CNN weights at {weights_path}.")
  with np.load(weights_path) as archive:
    weights = {key: archive[key] for key in archive.files}
  model = cnn.CNN(cnn.CNNConfig(), name="reference_cnn")
  model.net.build((None,) + classifier.IMAGE_SHAPE)
  torch_weights.load_sequential(model.net, weights, prefix="")
  return model


FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  model = import_reference_cnn(FLAGS.weights)
  path = saved_model.export(model, FLAGS.export_dir)
  logging.info("Wrote the authors' CNN to %s.", path)


if __name__ == "__main__":
  flags.DEFINE_string("weights", None, "The authors' cnn_official_weights.npz (default: "
                      "their file in third_party/abs_authors).")
  flags.DEFINE_string("export_dir", None, "Where to write the SavedModel (e.g. .../cnn/1).")
  flags.mark_flag_as_required("export_dir")
  app.run(main)
