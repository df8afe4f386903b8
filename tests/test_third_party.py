"""The vendored files: the paper's authors' in third_party/abs_authors and the paper's Figure 2
data in third_party/abs_paper, exactly the files listed, unchanged, with their license and
notice where they have one, and installed by setup.py where `abs_tf.resources` finds them."""

import hashlib
import pathlib
import re
import runpy
import sys
from unittest import mock

import pytest
import setuptools

from abs_tf import resources

ROOT = pathlib.Path(__file__).resolve().parents[1]
FOLDER = ROOT / resources.AUTHORS_DIR
# file -> (bytes, sha256); third_party/abs_authors/README.md lists the same.
FILES = {
    "abs_official_weights.npz":
        (3312584, "3dc0a083980b1f04e92980189c3302303e7668409c6d410ec559f3cdecb9e914"),
    "cnn_official_weights.npz":
        (935703, "d6f3b3597838762a440b5200033fb99f2c9fefc0a56c0051eb0a0242ee9aa3fe"),
    "reference_latents_8000.npy":
        (256128, "b714fcce18a3603426969a63efd75bd61e5e8febeb9a2e775de5eff48ce8cff5"),
    "reference_latents_10000.npy":
        (320128, "7e39437f3fbe4f7c1592a8a0a2e52e38c8675dee4d8e84ca9cbef71a36c9a45d"),
    "reference_logits.npz":
        (481478, "66350963fb54539b17c891fb5966579f236f24f5a03c40e8246e8d965713c6f0"),
}
# Beside them: their license, the credits, the description and the Bazel filegroup.
DOCUMENTS = {"LICENSE", "NOTICE", "README.md", "BUILD"}
# The paper's Figure 2 data; third_party/abs_paper/README.md lists the same (no license known).
PAPER_FILES = {
    "figure2_curves.json":
        (26192, "2e4d5dd036b51858117a00d4404cfb1301c084b4a91b29c280f73e91402893f0"),
}
# folder -> (its files, the documents beside them).
VENDORED = {resources.AUTHORS_DIR: (FILES, DOCUMENTS),
            resources.PAPER_DIR: (PAPER_FILES, {"README.md", "BUILD"})}
# The Apache License 2.0 as https://www.apache.org/licenses/LICENSE-2.0.txt serves it.
APACHE_2_0_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
AUTHORS = ("Lukas Schott", "Jonas Rauber", "Matthias Bethge", "Wieland Brendel")


def _sha256(path: pathlib.Path) -> str:
  return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("folder", sorted(VENDORED))
def test_each_file_has_its_listed_size_and_sha256(folder):
  files = VENDORED[folder][0]
  found = {name: ((ROOT / folder / name).stat().st_size, _sha256(ROOT / folder / name))
           for name in files}
  assert found == files


@pytest.mark.parametrize("folder", sorted(VENDORED))
def test_the_folder_holds_nothing_else(folder):
  files, documents = VENDORED[folder]
  assert {path.name for path in (ROOT / folder).iterdir()} == set(files) | documents


@pytest.mark.parametrize("folder", sorted(VENDORED))
def test_the_readme_table_agrees(folder):
  rows = re.findall(r"^\| `([^`]+)` \| (\d+) \| ([0-9a-f]{64}) \|$",
                    (ROOT / folder / "README.md").read_text(), flags=re.MULTILINE)
  files = VENDORED[folder][0]
  assert len(rows) == len(files)
  assert {name: (int(size), digest) for name, size, digest in rows} == files


def test_the_license_is_the_apache_2_0_text():
  assert (FOLDER / "LICENSE").read_text().split()[:4] == ["Apache", "License", "Version", "2.0,"]
  assert _sha256(FOLDER / "LICENSE") == APACHE_2_0_SHA256


def test_the_notice_credits_the_authors_and_their_repository():
  notice = (FOLDER / "NOTICE").read_text()
  for credit in AUTHORS + ("github.com/bethgelab/AnalysisBySynthesis", "Apache License"):
    assert credit in notice


@pytest.mark.parametrize("folder", sorted(VENDORED))
def test_setup_installs_the_folder_where_resources_looks(folder):
  with mock.patch.object(setuptools, "setup") as setup:
    runpy.run_path(str(ROOT / "setup.py"))
  installed = dict(setup.call_args.kwargs["data_files"])
  target = pathlib.Path("share", "abs_tf", folder)
  files, documents = VENDORED[folder]
  assert pathlib.Path(sys.prefix) / target in resources.resource_candidates(folder)
  assert sorted(installed[str(target)]) == sorted(
      str(pathlib.Path(folder, name)) for name in set(files) | documents)


def test_paper_file_names_the_readme_when_missing():
  assert resources.paper_file("figure2_curves.json") == (
      ROOT / resources.PAPER_DIR / "figure2_curves.json")
  with pytest.raises(FileNotFoundError, match="third_party/abs_paper/README.md"):
    resources.paper_file("no_such_file.json")
