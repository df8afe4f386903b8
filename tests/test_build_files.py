"""The Bazel BUILD files match the import graph (Bazel itself cannot run offline here)."""

import pathlib
import re
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


def _targets():
  """{label: labels it depends on (deps and data)} of every generated target."""
  sys.path.insert(0, str(ROOT / "scripts"))
  import update_build_files
  graph = {}
  for directory, text in update_build_files.build_files().items():
    package = directory.relative_to(ROOT).as_posix()
    for match in re.finditer(r'^\w+\(\n    name = "([^"]+)",\n(.*?)^\)', text, re.S | re.M):
      body = re.sub(r"visibility = \[.*?\]", "", match.group(2))
      labels = re.findall(r'"((?://[^"]*)?:[^"]+)"', body)
      graph[f"//{package}:{match.group(1)}"] = {
          label if label.startswith("//") else f"//{package}{label}" for label in labels}
  return graph


def test_every_label_a_target_depends_on_exists():
  graph = _targets()
  assert "//abs_tf/attacks:catalog" in graph and "//data/mnist:files" in graph
  missing = {(target, label) for target, deps in graph.items() for label in deps
             if label not in graph}
  assert not missing, sorted(missing)


def test_scripts_that_tests_import_or_run_are_their_dependencies():
  graph = _targets()
  # `from scripts import calibrate_cnn`: the script's library, which its program uses too.
  assert "//scripts:calibrate_cnn_lib" in graph["//tests:test_calibrate_cnn"]
  assert graph["//scripts:calibrate_cnn"] == {"//scripts:calibrate_cnn_lib"}
  assert "//scripts:table1_cnn_lib" in graph["//scripts:calibrate_cnn_lib"]
  # A script a test runs as a program (verify_adversarials): its program as data.
  assert "//scripts:verify_adversarials" in graph["//tests:test_verify_adversarials"]
  # A script no file imports stays a program only.
  assert "//scripts:verify_adversarials_lib" not in graph


def test_dependency_graph_has_no_cycle():
  """Bazel refuses dependency cycles, so the generator must not write one."""
  graph = _targets()
  done, path = set(), []

  def visit(label):
    if label in path:
      raise AssertionError("Cycle: " + " -> ".join(path[path.index(label):] + [label]))
    if label in done:
      return
    path.append(label)
    for dep in sorted(graph.get(label, ())):
      visit(dep)
    path.pop()
    done.add(label)

  for label in sorted(graph):
    visit(label)
