"""The Colab notebook runs top to bottom, with small settings, and shows what it promises,
starting as on Colab: abs_tf not importable, installed by the notebook from a git URL.

It runs the shipped ABS SavedModel as it is (its first call decodes the 10 x 10,000
prototypes: about a minute on a loaded 2-core machine) and attacks an in-memory ABS with a
small latent search.
"""

import json
import os
import pathlib
import site
import subprocess
import sys

from matplotlib import image as mpl_image
import nbclient
import nbformat
import numpy as np
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = REPO_ROOT / "colab" / "abs_tf_demo.ipynb"
# Overrides of the notebook's settings cell (environment variables ABS_DEMO_<NAME>).
SMALL_SETTINGS = {"NUM_IMAGES": "4", "EXAMPLE_INDEX": "0", "LATENT_SAMPLES": "300",
                  "SEARCH_STEPS": "3", "LD_EPSILON": "0.05", "LD_MAX_STEPS": "100"}


def read_notebook():
  return nbformat.read(NOTEBOOK, as_version=4)


def output_text(cell) -> str:
  parts = []
  for output in cell.get("outputs", []):
    parts.append(output.get("text", ""))
    parts.extend(str(v) for k, v in output.get("data", {}).items() if k.startswith("text/"))
  return "".join(parts)


def test_notebook_is_committed_without_outputs():
  notebook = read_notebook()
  nbformat.validate(notebook)
  code = [cell for cell in notebook.cells if cell.cell_type == "code"]
  assert all(not cell.outputs and cell.execution_count is None for cell in code)
  assert "parameters" in code[0].metadata.get("tags", [])
  assert NOTEBOOK.stat().st_size < 50_000


def _fresh_environment(root: pathlib.Path) -> pathlib.Path:
  """A virtual environment that sees this one's packages but not abs_tf, and a Jupyter
  kernel spec "abs_tf_fresh" running in it; returns its Python."""
  venv = root / "venv"
  subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
  python = venv / "bin" / "python"
  own = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"],
                       check=True, capture_output=True, text=True).stdout.strip()
  # Appended paths' own .pth files are not read: an editable abs_tf there stays invisible.
  pathlib.Path(own, "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
  spec = root / "jupyter" / "kernels" / "abs_tf_fresh"
  spec.mkdir(parents=True)
  (spec / "kernel.json").write_text(json.dumps({
      "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
      "display_name": "abs_tf fresh", "language": "python"}))
  return python


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
  """The notebook run with small settings in a fresh environment, where its install cell
  clones this repository (its committed HEAD) and installs it with `pip --no-deps`;
  results/ has the table and Figure 2 only."""
  root = tmp_path_factory.mktemp("colab")
  python = _fresh_environment(root)
  results = root / "results"
  results.mkdir()
  (results / "table.md").write_text("| attack | ABS |\n|---|---|\n| a_marker_row | 1.5 / 50% |\n")
  mpl_image.imsave(results / "figure2.png", np.zeros((8, 8)))
  env = {f"ABS_DEMO_{name}": value for name, value in SMALL_SETTINGS.items()}
  env.update(ABS_DEMO_RESULTS_DIR=str(results), ABS_DEMO_SOURCE=f"file://{REPO_ROOT}",
             ABS_DEMO_CLONE_DIR=str(root / "clone"),
             ABS_DEMO_PIP_ARGS="--no-deps --no-build-isolation",
             JUPYTER_PATH=str(root / "jupyter"), PYTHONPATH=None)
  saved = {name: os.environ.get(name) for name in env}
  for name, value in env.items():  # the kernel inherits this process's environment
    if value is None:
      os.environ.pop(name, None)
    else:
      os.environ[name] = value
  try:
    notebook = read_notebook()
    nbclient.NotebookClient(notebook, timeout=900, kernel_name="abs_tf_fresh",
                            resources={"metadata": {"path": str(root)}}).execute()
  finally:
    for name, value in saved.items():
      if value is None:
        os.environ.pop(name, None)
      else:
        os.environ[name] = value
  return [cell for cell in notebook.cells if cell.cell_type == "code"], python


def test_notebook_installs_abs_tf_from_a_git_url(executed):
  cells, python = executed
  text = output_text(cells[1])
  site_packages = subprocess.run(
      [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
      check=True, capture_output=True, text=True).stdout.strip()
  assert f"installed abs-tf 0.1.0 from file://{REPO_ROOT} into {site_packages}/abs_tf" in text
  # The shipped SavedModel comes from the installed package's data files.
  assert f"{python.parents[1]}/share/abs_tf/saved_models/abs/1" in output_text(cells[2])


def test_notebook_classifies_explains_and_attacks(executed):
  cells, _ = executed
  text = "".join(output_text(cell) for cell in cells)
  assert "of 4 test digits correct" in text
  assert "signatures: ['infer', 'serving_default']" in text
  assert text.count("ELBO") >= 10 and "<- decision" in text
  assert "saved_models/abs/1" in text
  assert "300 latent samples, 3 Adam steps" in text
  assert "Latent Descent turned 7 into" in text  # test image 0 is a 7
  images = sum("image/png" in output.get("data", {})
               for cell in cells for output in cell.outputs)
  assert images >= 4  # digits, reconstructions, adversarial, Figure 2


def test_notebook_shows_results_present_and_explains_missing_ones(executed):
  text = output_text(executed[0][-1])
  assert "a_marker_row" in text
  assert "figure3.png" in text and "python -m abs_tf.evaluate --profile=standard" in text
  assert "table.md" not in text.split("Not found in")[1].split("To produce")[0]
