r"""Builds the zoo's SavedModels of the paper's authors' released models.

  python -m abs_tf.tools.export_authors_models --output_dir=saved_models \
      [--models=abs_authors,binary_abs_authors,cnn_authors]

writes `<output_dir>/<name>/<version>/` (the registry's version) through this project's
exporter, from the files vendored in third_party/abs_authors (`resources.authors_file`):

- `abs_authors`: ABS on the authors' ten VAEs (`abs_official_weights.npz`) with their own
  10,000 latent samples (`reference_latents_10000.npy`) at the paper's inference settings
  (`LatentSearchConfig()`: 20 Adam steps, learning rate 0.05, radius 5). It differs from the
  authors' code only in the projection onto the radius-5 ball, which keeps the sign of the
  clipped coordinates here (theirs loses it).
- `binary_abs_authors`: the same with binarised inputs and the authors' class scalars
  (`import_reference_weights.REFERENCE_CLASS_SCALES`).
- `cnn_authors`: the authors' baseline CNN (`cnn_official_weights.npz`).

This is the only way these SavedModels are made: run it again after the exporter changes.
An existing SavedModel at a target path is replaced.

References:
  Schott et al., ICLR 2019; weights from github.com/bethgelab/AnalysisBySynthesis
  (Apache-2.0).
"""

import pathlib
import shutil

from absl import app
from absl import flags
from absl import logging

from abs_tf import registry
from abs_tf import resources
from abs_tf.export import saved_model
from abs_tf.models import classifier
from abs_tf.models import latent_search
from abs_tf.tools import import_reference_cnn
from abs_tf.tools import import_reference_weights

# The registry's models made from the authors' files.
AUTHORS_MODELS = tuple(name for name, spec in registry.MODELS.items()
                       if spec.made_by == registry.AUTHORS_WEIGHTS)


def build(name: str) -> classifier.Classifier:
  """The authors' model `name` (one of AUTHORS_MODELS) from the vendored files.

  ABS models take `binarized` from their registry entry; the search is the paper's
  (`LatentSearchConfig()`, whose 10^4 samples are the size of the authors' latents file).
  """
  if name not in AUTHORS_MODELS:
    raise ValueError(f"{name!r} is not one of the authors' models {AUTHORS_MODELS}.")
  spec = registry.get_spec(name)
  if not spec.is_abs:
    return import_reference_cnn.import_reference_cnn()  # the vendored weights
  return import_reference_weights.reference_abs(
      None, latent_search.LatentSearchConfig(),
      latents=str(resources.authors_file(import_reference_weights.LATENTS)),
      binary=spec.binarized)


def export(name: str, output_dir) -> pathlib.Path:
  """Builds `name` and writes it to `<output_dir>/<name>/<version>/`, replacing a SavedModel
  already there; returns that path."""
  path = pathlib.Path(output_dir) / name / str(registry.get_spec(name).version)
  if path.exists() and not (path / "saved_model.pb").is_file():
    raise FileExistsError(f"{path} exists and is not a SavedModel; not replacing it.")
  model = build(name)
  if path.exists():
    shutil.rmtree(path)
  return saved_model.export(model, path)


FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  for name in FLAGS.models:
    logging.info("Wrote %s", export(name, FLAGS.output_dir))


if __name__ == "__main__":
  flags.DEFINE_string("output_dir", None, "Directory of the zoo, e.g. saved_models.")
  flags.DEFINE_list("models", list(AUTHORS_MODELS), "Which of the authors' models to build.")
  flags.register_validator("models", lambda names: set(names) <= set(AUTHORS_MODELS),
                           f"--models must be some of {', '.join(AUTHORS_MODELS)}.")
  flags.mark_flag_as_required("output_dir")
  app.run(main)
