"""Where the shipped data and models live: the repository, or the installed prefix."""

import os
import pathlib
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def resource_dir(name: str, env: str = "") -> pathlib.Path:
  """The first existing directory among $env, <repo>/name and <prefix>/share/abs_tf/name.

  Args:
    name: "data/mnist", "saved_models", "third_party/abs_authors" or "third_party/abs_paper".
    env: an environment variable that overrides the search.

  Raises:
    FileNotFoundError: none exists.
  """
  candidates = resource_candidates(name, env)
  for candidate in candidates:
    if candidate.is_dir():
      return candidate
  raise FileNotFoundError(f"{name} not found in any of {[str(c) for c in candidates]}.")


def resource_candidates(name: str, env: str = ""):
  candidates = []
  if env and os.environ.get(env):
    candidates.append(pathlib.Path(os.environ[env]))
  candidates.append(REPO_ROOT / name)
  candidates.append(pathlib.Path(sys.prefix) / "share" / "abs_tf" / name)
  return candidates


AUTHORS_DIR = "third_party/abs_authors"
PAPER_DIR = "third_party/abs_paper"


def authors_file(name: str) -> pathlib.Path:
  """A vendored file of the paper's authors (third_party/abs_authors/README.md), e.g.
  "abs_official_weights.npz"; in the repository or the installed package.

  Raises:
    FileNotFoundError: no such vendored file.
  """
  return vendored_file(AUTHORS_DIR, name)


def paper_file(name: str) -> pathlib.Path:
  """A vendored file of the paper's published data (third_party/abs_paper/README.md), e.g.
  "figure2_curves.json"; in the repository or the installed package.

  Raises:
    FileNotFoundError: no such vendored file.
  """
  return vendored_file(PAPER_DIR, name)


def vendored_file(folder: str, name: str) -> pathlib.Path:
  """File `name` of a vendored third_party folder (AUTHORS_DIR or PAPER_DIR).

  Raises:
    FileNotFoundError: no such file; the message names the folder's README, which lists them.
  """
  path = resource_dir(folder) / name
  if not path.is_file():
    raise FileNotFoundError(f"{path} is missing; expected one of the files listed in "
                            f"{folder}/README.md.")
  return path
