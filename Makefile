# The README's two commands: `make study` and `make test`. Each does the whole set-up first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup study test lint clean

setup: $(STAMP)

# torch is installed first and pinned so pip takes the CPU wheel, not a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The normalization study on the embedded synthetic data, then its report.
STUDY ?= norm_sweep
RUN   := $(STUDY)-$(shell date +%Y%m%d-%H%M%S)
study: $(STAMP)
	$(PY) -m study.launch $(STUDY) --storage results --name $(RUN)
	$(PY) -m analysis.report results/$(RUN)

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
