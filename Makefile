# agingflow: the front door. `make test` and `make run` need only Rust (cargo) on the machine.
CARGO ?= cargo
AGINGFLOW := target/release/agingflow

.PHONY: all build release test run lint bench fmt clean

all: build

build:
	$(CARGO) build --workspace --bins

release:
	$(CARGO) build --release --workspace --bins

## test: build every binary (the end-to-end tests run them), then every test
test: build
	$(CARGO) test --workspace

## run: the demo pipeline on the shipped fixtures, release build
run: release
	$(AGINGFLOW) run pipelines/demo.yaml

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## bench: runner overhead (no-op run of 10 stages, cost per executed stage)
bench: release
	$(CARGO) bench -p runner --bench runner

clean:
	$(CARGO) clean
	rm -rf build
