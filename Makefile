# cbr-edu: every target sets up .venv (Python 3.10-3.12) on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lab bench scale clean-venv

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 12) else "cbr-edu needs Python 3.10-3.12, found %d.%d: run make PYTHON=python3.11 ..." % v)'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# The main job: an offline few-shot comparison (CbR vs kNN vs prototypes vs fine-tuning).
demo: setup
	$(BIN)/python -m cbr_edu compare

test: setup
	$(BIN)/python -m pytest

lab: setup
	$(BIN)/jupyter lab notebooks/

# Benchmarks print ratios measured side by side in one run. OPENBLAS_CORETYPE /
# OPENBLAS_L2_SIZE slow numpy's reference, so they are unset for this command only.
bench: setup
	$(BIN)/python -m pip install --quiet -r benchmarks/requirements.txt
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench_retrieval.py
	@if [ -f benchmarks/bench_tflite.py ]; then env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench_tflite.py; fi
	$(BIN)/python -m pip install --quiet -r requirements-scale.txt
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench_large_index.py

# The optional 'scale' extra: the Beam pipeline (python -m cbr_edu embed) and FAISS.
scale: setup
	$(BIN)/python -m pip install --quiet -r requirements-scale.txt

clean-venv:
	rm -rf $(VENV)
