"""The Bazel BUILD files match the import graph (Bazel itself cannot run offline here)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_build_files_are_up_to_date():
  out = subprocess.run([sys.executable, "scripts/update_build_files.py", "--check"],
                       cwd=ROOT, capture_output=True, text=True)
  assert out.returncode == 0, out.stdout + out.stderr


def test_every_module_and_test_file_has_a_target():
  sys.path.insert(0, str(ROOT / "scripts"))
  import update_build_files
  files = update_build_files.build_files()
  for path in list((ROOT / "abs_tf").rglob("*.py")) + list((ROOT / "tests").glob("test_*.py")):
    text = files[path.parent]
    name = path.parent.name if path.stem == "__init__" else path.stem
    assert f'name = "{name}"' in text, path
