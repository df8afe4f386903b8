r"""A zoo model's SavedModel as a TF Hub archive: `<name>.tar.gz`, loadable with `hub.load(url)`.

  python -m abs_tf.export.hub_archive --model=cnn --output=/tmp/hub    # /tmp/hub/cnn.tar.gz
  python -m abs_tf.export.hub_archive --model=/path/to/my_model/1 --output=/tmp/hub

Layout (TF Hub's "compressed" SavedModel format): a gzipped tar whose members are the files
of the SavedModel directory at the archive root, each directory before its contents:

  assets/  assets/abs_tf_model.json  [assets.extra/ ...]  fingerprint.pb  saved_model.pb
  variables/  variables/variables.data-00000-of-00001  variables/variables.index

How tensorflow_hub 0.16 resolves a handle (resolver.py, compressed_module_resolver.py): an
http(s) URL, whatever its path, is fetched with `?tf-hub-format=compressed` appended (static
file servers ignore the query), streamed through `tarfile` (regular files and directories
only: a link raises) into `$TFHUB_CACHE_DIR/<sha1 of the URL>/` (read when `hub.load` is
called; default `<tmp>/tfhub_modules`), and loaded from there; later loads of the same URL
use the cache. A `gs://` handle must end in .tar, .tar.gz or .tgz; any other string is a
local SavedModel directory (not an archive).

The archive is deterministic: members sorted, mtime 0, owner 0:0 without names, modes
0o755 / 0o644, and a gzip header without file name or time, so the same SavedModel gives the
same bytes (with the same zlib), wherever it lies and whenever it was copied.

Each model card (saved_models/<name>/README.md) carries TF Hub's model-page metadata after its
title and first paragraph, `<!-- asset-path: <name>.tar.gz -->` among them: the name this
module writes, relative to wherever the archive is hosted (publishing to a hub wants the
absolute URL there). tests/test_hub_archive.py holds every registry model to it.

References:
  TF Hub, "Model hosting protocol", https://www.tensorflow.org/hub/hosting (the
  `?tf-hub-format=compressed` request); "Writing model documentation: model-specific asset
  content", https://www.tensorflow.org/hub/writing_model_documentation (the archive layout).
"""

import gzip
import io
import os
import pathlib
import tarfile

from absl import app
from absl import flags
from absl import logging

from abs_tf import registry

ARCHIVE_SUFFIX = ".tar.gz"
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
_DIR_MODE = 0o755
_FILE_MODE = 0o644


def archive_name(saved_model_dir) -> str:
  """`<model>.tar.gz`: the directory's name, or its parent's for a version directory
  (saved_models/cnn/1 -> cnn.tar.gz), as registry models are stored."""
  path = pathlib.Path(saved_model_dir).resolve()
  name = path.parent.name if path.name.isdigit() else path.name
  return name + ARCHIVE_SUFFIX


def archive_members(saved_model_dir) -> list:
  """The SavedModel directory's entries as archive paths ("variables/variables.index"),
  sorted so that each directory precedes its contents.

  Raises:
    ValueError: `saved_model_dir` is no SavedModel directory, or holds a link or another
      entry that is neither a regular file nor a directory (TF Hub's extractor refuses them).
  """
  root = pathlib.Path(saved_model_dir)
  if not root.is_dir():
    raise ValueError(f"Expected a SavedModel directory, got {str(root)!r} (not a directory).")
  if not any((root / name).is_file() for name in SAVED_MODEL_FILES):
    raise ValueError(f"{root} is no SavedModel directory: expected one of "
                     f"{SAVED_MODEL_FILES} in it.")
  members = []
  for path in root.rglob("*"):
    if path.is_symlink() or not (path.is_file() or path.is_dir()):
      raise ValueError(f"{path} is neither a regular file nor a directory; a TF Hub archive "
                       "holds only those.")
    members.append(path.relative_to(root).as_posix())
  return sorted(members, key=lambda member: member.split("/"))


def _tar_info(name: str, size: int = 0, directory: bool = False) -> tarfile.TarInfo:
  """A member header that depends on the name, size and type only."""
  info = tarfile.TarInfo(name)
  info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
  info.mode = _DIR_MODE if directory else _FILE_MODE
  info.size = size
  info.mtime = 0
  info.uid = info.gid = 0
  info.uname = info.gname = ""
  return info


def write_archive(saved_model_dir, output_path) -> pathlib.Path:
  """Writes the TF Hub archive of a SavedModel directory (layout in the module docstring).

  Args:
    saved_model_dir: a SavedModel directory (with saved_model.pb or saved_model.pbtxt).
    output_path: the archive to write, ending in .tar.gz, outside `saved_model_dir`; its
      directory must exist. An existing file is replaced (atomically).

  Returns:
    `output_path` as a `pathlib.Path`.

  Raises:
    ValueError: an input is not what is expected (see Args and `archive_members`).
  """
  root = pathlib.Path(saved_model_dir)
  members = archive_members(root)
  output_path = pathlib.Path(output_path)
  if not output_path.name.endswith(ARCHIVE_SUFFIX):
    raise ValueError(f"The archive's name must end in {ARCHIVE_SUFFIX}, got {output_path}.")
  if not output_path.parent.is_dir():
    raise ValueError(f"The archive's directory {output_path.parent} does not exist.")
  if output_path.is_dir():
    raise ValueError(f"{output_path} is a directory; expected the path of the archive file.")
  if root.resolve() in output_path.resolve().parents:
    raise ValueError(f"The archive {output_path} must not be written inside the SavedModel "
                     f"{root} it archives.")
  partial = output_path.with_name(f".{output_path.name}.partial")
  try:
    with open(partial, "wb") as raw, \
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed, \
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar:
      for member in members:
        path = root / member
        if path.is_dir():
          tar.addfile(_tar_info(member, directory=True))
        else:
          with open(path, "rb") as data:
            tar.addfile(_tar_info(member, path.stat().st_size), data)
    os.replace(partial, output_path)
  finally:
    partial.unlink(missing_ok=True)
  return output_path


def export_archive(model: str, output_dir) -> pathlib.Path:
  """Writes `output_dir/<name>.tar.gz` for a registry name or a SavedModel directory.

  Args:
    model: a registry name (see `abs_tf.registry.MODELS`) or a SavedModel directory.
    output_dir: a directory, created if missing.

  Raises:
    ValueError: an unknown model (the message lists the known ones), a directory that is no
      SavedModel, or an `output_dir` that is a file.
    FileNotFoundError: a registry model whose SavedModel is missing.
  """
  saved_model_dir = registry.saved_model_dir(model)
  output_dir = pathlib.Path(output_dir)
  if output_dir.exists() and not output_dir.is_dir():
    raise ValueError(f"--output must be a directory; {output_dir} is a file.")
  output_dir.mkdir(parents=True, exist_ok=True)
  return write_archive(saved_model_dir, output_dir / archive_name(saved_model_dir))


FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  try:
    path = export_archive(FLAGS.model, FLAGS.output)
  except (ValueError, FileNotFoundError) as error:
    raise app.UsageError(str(error)) from error
  logging.info("Wrote %s (%d bytes). Serve its directory over HTTP(S) and load it with "
               "hub.load('https://<host>/<path>/%s').", path, path.stat().st_size, path.name)


if __name__ == "__main__":
  flags.DEFINE_string("model", None, "A registry name or a SavedModel directory.")
  flags.DEFINE_string("output", None, "Directory to write <name>.tar.gz to (created).")
  flags.mark_flags_as_required(["model", "output"])
  app.run(main)
