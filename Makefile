# Two entry points (see README): `make run` and `make test`. Both create and reuse .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export PREFECT_HOME := $(CURDIR)/.work/prefect
export ORT_DISABLE_TELEMETRY := 1

.PHONY: install run test bench bench-scale clean browser docs

# Debian's chromium renders the HTML report in the tests (never a downloaded browser).
browser:
	.ci/install-browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: the CPU build on local disk (a plain `torch` pulls GBs of CUDA).
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	# Compile UMAP's numba functions once into their on-disk cache (saves ~9 s on every run).
	$(BIN)/python -c "from collabmine.themes import warm_numba_cache; warm_numba_cache()"
	# Export the tagger's and the reranker's ONNX graphs once into the user's cache (~10 s each).
	$(BIN)/python -c "from collabmine.runtime import warm_model_graphs; warm_model_graphs()"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/collabmine run --corpus corpus --out out

test: $(STAMP) browser
	# Two workers (pytest-xdist), dealt groups of tests slowest first: tests/conftest.py.
	COLLABMINE_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q -n 2 --dist loadgroup

# Benchmarks (not tests): per-stage throughput vs bare libraries, then cold / no-op / one-new-report.
bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/scenarios.py

# Scaled corpora (×10, ×100 shuffled copies of the bundled reports): ×100 takes ~12 min here.
bench-scale: $(STAMP)
	$(BIN)/python bench/scenarios.py --only-scale --scale 10 --scale 100

# The README's screenshots, from the run in out/ (make run first): docs/*.png.
docs: $(STAMP) browser
	$(BIN)/python docs/make_screenshots.py --out out

clean:
	rm -rf out .work
