"""The Colab notebook runs top to bottom, with small settings, and shows what it promises.

It runs the shipped ABS SavedModel as it is (its first call decodes the 10 x 10,000
prototypes: about a minute on a loaded 2-core machine) and attacks an in-memory ABS with a
small latent search.
"""

import os
import pathlib

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


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
  """The notebook run with small settings; results/ has the table and Figure 2 only."""
  results = tmp_path_factory.mktemp("results")
  (results / "table.md").write_text("| attack | ABS |\n|---|---|\n| a_marker_row | 1.5 / 50% |\n")
  mpl_image.imsave(results / "figure2.png", np.zeros((8, 8)))
  env = {f"ABS_DEMO_{name}": value for name, value in SMALL_SETTINGS.items()}
  env["ABS_DEMO_RESULTS_DIR"] = str(results)
  env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                    os.environ.get("PYTHONPATH")]))
  saved = {name: os.environ.get(name) for name in env}
  os.environ.update(env)  # the kernel inherits this process's environment
  try:
    notebook = read_notebook()
    nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
  finally:
    for name, value in saved.items():
      if value is None:
        os.environ.pop(name, None)
      else:
        os.environ[name] = value
  return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_notebook_runs_and_skips_the_install(executed):
  assert "nothing to install" in output_text(executed[1])


def test_notebook_classifies_explains_and_attacks(executed):
  text = "".join(output_text(cell) for cell in executed)
  assert "of 4 test digits correct" in text
  assert "signatures: ['infer', 'serving_default']" in text
  assert text.count("ELBO") >= 10 and "<- decision" in text
  assert "saved_models/abs/1" in text
  assert "300 latent samples, 3 Adam steps" in text
  assert "Latent Descent turned 7 into" in text  # test image 0 is a 7
  images = sum("image/png" in output.get("data", {})
               for cell in executed for output in cell.outputs)
  assert images >= 4  # digits, reconstructions, adversarial, Figure 2


def test_notebook_shows_results_present_and_explains_missing_ones(executed):
  text = output_text(executed[-1])
  assert "a_marker_row" in text
  assert "figure3.png" in text and "python -m abs_tf.evaluate --profile=standard" in text
  assert "table.md" not in text.split("Not found in")[1].split("To produce")[0]
