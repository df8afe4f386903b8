"""abs-tf: the Analysis by Synthesis model (Schott et al., ICLR 2019) in TensorFlow."""

import pathlib

import setuptools

ROOT = pathlib.Path(__file__).parent


def _requirements(name):
  lines = (ROOT / name).read_text().splitlines()
  return [l.strip() for l in lines if l.strip() and not l.startswith(("#", "-r"))]


def _tree(folder):
  """(install dir, files) pairs for every file below `folder`, for data_files."""
  pairs = {}
  for path in sorted((ROOT / folder).rglob("*")):
    if path.is_file():
      target = str(pathlib.Path("share", "abs_tf", path.parent.relative_to(ROOT)))
      pairs.setdefault(target, []).append(str(path.relative_to(ROOT)))
  return sorted(pairs.items())


setuptools.setup(
    name="abs-tf",
    version="0.1.0",
    description="Analysis by Synthesis (ABS) robust MNIST model, baselines, attacks and "
                "evaluation in TensorFlow",
    long_description=(ROOT / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11,<3.12",
    packages=setuptools.find_packages(include=["abs_tf", "abs_tf.*"]),
    install_requires=_requirements("requirements.txt"),
    extras_require={"test": ["pytest==9.0.3", "foolbox==3.3.4", "eagerpy==0.30.0"],
                    # --executor=ray (abs_tf/evaluation/ray_executor.py).
                    "ray": ["ray==2.60.0"]},
    # The shipped data, models, evaluation results (re-rendered by `python -m abs_tf.evaluate`),
    # the authors' files (with their LICENSE and NOTICE) and the paper's Figure 2 data, where
    # abs_tf.resources finds them: <prefix>/share/abs_tf/<folder>.
    data_files=(_tree("data/mnist") + _tree("saved_models") + _tree("serving") +
                _tree("results/standard") + _tree("third_party/abs_authors") +
                _tree("third_party/abs_paper")),
)
