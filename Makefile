# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONPATH := $(CURDIR)

.PHONY: venv demo test benchmark clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-test.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<27"
	$(PY) -m pip install --quiet -r requirements-test.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# TensorFlow's start-up banners (see the script) are dropped from the demo's stderr.
demo: venv
	$(PY) scripts/without_tf_banners.py $(PY) -m abs_tf.evaluate

test: venv
	$(PY) -m pytest -q tests

# Speed of ABS inference and of every attack; figures mean something on an idle machine.
benchmark: venv
	$(PY) benchmarks/abs_inference.py --output=runs/abs_inference.jsonl
	$(PY) benchmarks/attacks.py --output=runs/benchmark_attacks.jsonl

clean:
	rm -rf $(VENV) build *.egg-info
