# agingflow: the front door. `make test` and `make run` need only Rust (cargo) on the machine.
CARGO ?= cargo
AGINGFLOW := target/release/agingflow

.PHONY: all build release test test-slurm run lint bench bench-venv fmt clean fixtures browser-test fuzz coverage wheel pytest

all: build

build:
	$(CARGO) build --workspace --bins

release:
	$(CARGO) build --release --workspace --bins

## test: build every binary (the end-to-end tests run them), then every test
test: build
	$(CARGO) test --workspace

## test-slurm: the Slurm executor against a real single-node cluster started by hand (installs
## Debian's slurm-wlm with apt-get if sbatch is absent; skips, saying why, where it cannot)
test-slurm: build
	bash .ci/test-slurm

## run: the demo pipeline on the shipped fixtures, release build
run: release
	$(AGINGFLOW) run pipelines/demo.yaml
	@echo "report: $(CURDIR)/build/demo/report/index.html"

## wheel: the Python package `agingflow` (PyO3, abi3 for Python >= 3.9) built with maturin into
## target/wheels/; maturin comes from PyPI into target/py-venv (needs python3)
PYVENV := target/py-venv
wheel:
	@command -v python3 >/dev/null 2>&1 || { echo "wheel: needs python3 (and pip) on this machine"; exit 2; }
	[ -x $(PYVENV)/bin/python ] || python3 -m venv $(PYVENV)
	$(PYVENV)/bin/python -c "import maturin" 2>/dev/null || $(PYVENV)/bin/pip install -q "maturin>=1.9,<2"
	cd python && CARGO_TARGET_DIR=$(CURDIR)/target/python PYO3_PYTHON=$(CURDIR)/$(PYVENV)/bin/python \
	  $(CURDIR)/$(PYVENV)/bin/maturin build --release -o $(CURDIR)/target/wheels

## pytest: the Python package's tests against the stage binaries (builds both, installs the wheel
## with numpy, pyarrow and, for docs/python.md's example, pandas, polars and matplotlib from PyPI
## into target/py-venv); skips, saying why, without python3
pytest: build
	@if ! command -v python3 >/dev/null 2>&1; then echo "pytest: no python3 on this machine, skipped"; exit 0; fi; \
	$(MAKE) --no-print-directory wheel && \
	$(PYVENV)/bin/pip install -q pytest numpy pyarrow pandas polars matplotlib && \
	$(PYVENV)/bin/pip install -q --force-reinstall --no-deps target/wheels/agingflow-*.whl && \
	AGINGFLOW_BIN_DIR=$(CURDIR)/target/debug $(PYVENV)/bin/python -m pytest -q python/tests

## fixtures: regenerate the shipped demo campaign from its truth spec (byte-identical)
fixtures: release
	target/release/agingflow-simulate --spec fixtures/demo/truth-spec.yaml --out-dir fixtures/demo

## browser-test: install Debian's chromium and poppler-utils if needed, then render the demo
## report headless (layout, print-to-PDF) and read the PDF figures' text
SUDO := $(shell [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && echo sudo)
browser-test: build
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v pdftotext >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium poppler-utils \
	      || echo "browser-test: could not install chromium/poppler-utils; the tests below will skip"; \
	  else echo "browser-test: no apt-get; install chromium and poppler-utils yourself, the tests below will skip"; fi; \
	fi
	$(CARGO) test -p report --test report the_page_renders_in_headless_chromium -- --nocapture
	$(CARGO) test -p report --test report the_pdf_figures_have_their_text_as_text -- --nocapture

## fuzz: every fuzz target for FUZZ_SECONDS each (default 600), release build; prints executions
FUZZ_SECONDS ?= 600
fuzz:
	AGINGFLOW_FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) test --release -p formats --test it fuzz:: -- --nocapture
	AGINGFLOW_FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) test --release -p campaign --test fuzz -- --nocapture
	AGINGFLOW_FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) test --release -p tables --test it fuzz:: -- --nocapture
	AGINGFLOW_FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) test --release -p thermal --test it fuzz:: -- --nocapture
	AGINGFLOW_FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) test --release -p indentation-stats --test stats random_protocols -- --nocapture
	AGINGFLOW_FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) test --release -p runner --test fuzz -- --nocapture --test-threads 1

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	bash .ci/unused-deps
	bash .ci/architecture

fmt:
	$(CARGO) fmt --all

## bench: runner overhead (no-op run of 10 stages, cost per stage); ingest throughput on a >100 MB campaign;
## spectrum time per curve against scipy's nnls
bench: SHELL := /bin/bash
bench: .SHELLFLAGS := -o pipefail -c
bench: release bench-venv
	mkdir -p target/bench-out
	rm -rf build/demo/.agingflow/cache
	$(AGINGFLOW) run pipelines/demo.yaml --force-all 2>&1 | tee target/bench-out/demo.txt
	$(CARGO) bench -p runner --bench runner | tee target/bench-out/runner.txt
	$(CARGO) bench -p ingest --bench ingest | tee target/bench-out/ingest.txt
	$(CARGO) bench -p kww-fit --bench kww | tee target/bench-out/kww.txt
	$(CARGO) bench -p indentation-stats --bench indents | tee target/bench-out/indents.txt
	$(CARGO) bench -p spectrum --bench spectrum | tee bench/spectrum.md
	$(CARGO) bench -p tests --bench scale | tee target/bench-out/scale.txt
	$(MAKE) --no-print-directory coverage | tee target/bench-out/coverage.txt
	{ echo "# Benchmarks"; echo; \
	  echo "Written by one \`make bench\` run ($$(date -u +%F), $$(nproc) cores, release build); peers (scipy) ran in the same run."; \
	  for b in demo runner ingest kww indents; do echo; echo "## $$b"; echo; echo '```'; cat target/bench-out/$$b.txt; echo '```'; done; \
	  echo; sed "s/^# /## /" bench/spectrum.md; echo; \
	  sed 's/^# /## /' bench/scale.md; \
	  echo; echo "## coverage"; echo; echo '```'; tail -n 40 target/bench-out/coverage.txt; echo '```'; } > bench/results.md
	@echo "bench: results in bench/results.md"

## bench-venv: scipy and numpy for the benchmarks' peers, in target/bench-venv (skipped, with a
## message, without python3)
bench-venv:
	@if command -v python3 >/dev/null 2>&1; then \
	  [ -x target/bench-venv/bin/python ] || python3 -m venv target/bench-venv; \
	  target/bench-venv/bin/python -c "import scipy, numpy" 2>/dev/null || target/bench-venv/bin/pip install -q scipy numpy; \
	else echo "bench: no python3 on this machine, the scipy comparison is skipped"; fi

## coverage: the coverage study (1000 curves per settings row, 200 campaigns, 200 per model-compare
## scenario, 1000 unimodal and 1000 bimodal spectra), release build;
## prints the markdown table kept in bench/coverage.md
COVERAGE_CURVES ?= 1000
COVERAGE_CAMPAIGNS ?= 200
coverage:
	$(CARGO) run --release -p coverage -- $(COVERAGE_CURVES) $(COVERAGE_CAMPAIGNS)

clean:
	$(CARGO) clean
	rm -rf build
