# cbr-edu: every target sets up .venv (Python 3.10-3.12) on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup browser-setup demo test test-browser lab instructor home-url bench scale clean-venv

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 12) else "cbr-edu needs Python 3.10-3.12, found %d.%d: run make PYTHON=python3.11 ..." % v)'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# The browser tests' extra (Playwright; it drives the system's Chromium, never downloads one).
browser-setup: $(VENV)/.browser-installed

$(VENV)/.browser-installed: $(STAMP) requirements-browser.txt
	$(BIN)/python -m pip install --quiet -r requirements-browser.txt
	touch $@

# The main job: an offline few-shot comparison (CbR vs kNN vs prototypes vs fine-tuning).
demo: setup
	$(BIN)/python -m cbr_edu compare

# Everything; the browser tests skip with one line where Playwright or Chromium is missing
# (CBR_EDU_REQUIRE_BROWSER=1 makes that a failure, as in CI).
test: setup
	$(BIN)/python -m pytest

# Only the browser tests: JupyterLab in headless Chromium (apt-get install chromium).
test-browser: browser-setup
	$(BIN)/python -m pytest -m browser tests/browser

lab: setup
	$(BIN)/jupyter lab notebooks/

# The instructor edition: every notebook run with its solutions, as pages in out/instructor/.
instructor: setup
	$(BIN)/python -m cbr_edu.instructor --out out/instructor

# The project's home URL (pyproject's Homepage) and every badge and Colab cell that uses it.
home-url: setup
	@test -n "$(URL)" || (echo "usage: make home-url URL=https://github.com/OWNER/REPO"; exit 2)
	$(BIN)/python -m cbr_edu.instructor.home_url "$(URL)"

# Benchmarks print ratios measured side by side in one run. OPENBLAS_CORETYPE /
# OPENBLAS_L2_SIZE slow numpy's reference, so they are unset for this command only.
BENCH := env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python
bench: setup
	$(BIN)/python -m pip install --quiet -r benchmarks/requirements.txt
	$(BENCH) benchmarks/bench_retrieval.py
	$(BENCH) benchmarks/embedder_throughput.py
	$(BENCH) benchmarks/bench_int8_embedder.py
	$(BENCH) benchmarks/bench_tflite.py --queries 500
	$(BENCH) benchmarks/bench_builder.py
	$(BIN)/python -m pip install --quiet -r requirements-scale.txt
	$(BENCH) benchmarks/bench_large_index.py

# The optional 'scale' extra: the Beam pipeline (python -m cbr_edu embed) and FAISS.
scale: setup
	$(BIN)/python -m pip install --quiet -r requirements-scale.txt

clean-venv:
	rm -rf $(VENV)
