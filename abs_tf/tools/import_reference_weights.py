r"""Builds this project's ABS from the authors' released weights and exports it.

  python -m abs_tf.tools.import_reference_weights --output_dir=/tmp/abs_ref/1 \
      [--weights=third_party/abs_authors/abs_official_weights.npz] \
      [--latents=third_party/abs_authors/reference_latents_10000.npy] [--num_samples=10000] \
      [--num_steps=20] [--learning_rate=0.05] [--clip_radius=5] [--binary]

The defaults (shown) are the authors' files vendored in third_party/abs_authors and the
paper's settings; `--latents=` draws this project's own --num_samples latents instead. The
SavedModel has the same signature as the shipped ones. With the authors' latents and
settings (e.g. `reference_latents_8000.npy`, `--num_steps=49`) and --clip_radius=1e6 it
reproduces their `_noclip` logits (tests/test_reference.py).
These weights are a test oracle, not this project's trained model.
"""

from typing import Optional

import numpy as np
from absl import app
from absl import flags
from absl import logging

from abs_tf import resources
from abs_tf.export import saved_model
from abs_tf.models import abs_model
from abs_tf.models import latent_search
from abs_tf.models import vae as vae_lib
from abs_tf.tools import torch_weights

# The authors' class scalars of Binary ABS (third_party/abs_authors/README.md).
REFERENCE_CLASS_SCALES = (1.0, 0.96, 1.001, 1.06, 0.98, 0.96, 1.03, 1.0, 1.0, 1.0)
# The authors' files, in third_party/abs_authors (`resources.authors_file`).
WEIGHTS = "abs_official_weights.npz"
LATENTS = "reference_latents_10000.npy"


def reference_decoders(weights: Optional[str] = None):
  """Ten decoders with the authors' weights from their npz (keys class_{c}/Decoder.*)."""
  return [vae.decoder for vae in reference_vaes(weights)]


def reference_vaes(weights: Optional[str] = None):
  """Ten VAEs, encoders and decoders, with the authors' weights (keys class_{c}/Encoder.*,
  class_{c}/Decoder.*) from `weights`, by default their abs_official_weights.npz vendored
  in third_party/abs_authors."""
  arrays = np.load(weights or resources.authors_file(WEIGHTS))
  vaes = []
  for c in range(abs_model.NUM_CLASSES):
    vae = vae_lib.VAE(name=f"reference_vae_{c}")
    torch_weights.load_sequential(vae.encoder.net, arrays, f"class_{c}/Encoder.")
    torch_weights.load_sequential(vae.decoder.net, arrays, f"class_{c}/Decoder.")
    vaes.append(vae)
  return vaes


def reference_abs(weights: Optional[str], search: latent_search.LatentSearchConfig,
                  latents: Optional[str] = None, binary: bool = False) -> abs_model.ABS:
  """ABS (or Binary ABS with the authors' class scalars) on the authors' decoders.

  Args:
    weights: path of abs_official_weights.npz; None: the authors' file vendored in
      third_party/abs_authors.
    search: latent search settings; `num_samples` must match the latents file if given.
    latents: optional path of the authors' latents, float32 [num_samples, 8]; None:
      latents drawn by this project (`latent_search.draw_latents`).
    binary: build Binary ABS.
  """
  config = abs_model.ABSConfig(
      search=search, binarize=binary,
      class_scales=REFERENCE_CLASS_SCALES if binary else (1.0,) * abs_model.NUM_CLASSES)
  latent_values = None if latents is None else np.load(latents).astype(np.float32)
  return abs_model.ABS(reference_decoders(weights), config, latents=latent_values)


FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  latents = (str(resources.authors_file(LATENTS)) if FLAGS.latents is None
             else FLAGS.latents or None)
  count = len(np.load(latents)) if latents else None
  num_samples = FLAGS.num_samples or count or latent_search.LatentSearchConfig.num_samples
  if count not in (None, num_samples):
    raise app.UsageError(f"--num_samples={num_samples}, but {latents} holds {count} latents: "
                         "pass the matching --latents, or --latents= to draw them.")
  search = latent_search.LatentSearchConfig(
      num_samples=num_samples, num_steps=FLAGS.num_steps,
      learning_rate=FLAGS.learning_rate, clip_radius=FLAGS.clip_radius)
  model = reference_abs(FLAGS.weights, search, latents, FLAGS.binary)
  path = saved_model.export(model, FLAGS.output_dir)
  logging.info("Wrote %s", path)


if __name__ == "__main__":
  flags.DEFINE_string("weights", None, "abs_official_weights.npz of the authors (default: "
                      "their file in third_party/abs_authors).")
  flags.DEFINE_string("output_dir", None, "SavedModel directory to write.")
  flags.DEFINE_string("latents", None, f"Latents .npy of the authors (default: their {LATENTS} "
                      "in third_party/abs_authors); empty: draw --num_samples latents.")
  flags.DEFINE_integer("num_samples", None, "Latent samples (default: the latents' count, "
                       "else the paper's 10^4).")
  flags.DEFINE_integer("num_steps", latent_search.LatentSearchConfig.num_steps, "Adam steps.")
  flags.DEFINE_float("learning_rate", latent_search.LatentSearchConfig.learning_rate, "Adam lr.")
  flags.DEFINE_float("clip_radius", latent_search.LatentSearchConfig.clip_radius,
                     "Radius of the latent ball; 1e6 disables the projection.")
  flags.DEFINE_bool("binary", False, "Build Binary ABS with the authors' class scalars.")
  flags.mark_flag_as_required("output_dir")
  app.run(main)
