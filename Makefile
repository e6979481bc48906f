# One command per habit; .ci/run calls exactly these targets.
PYTHON ?= python3
WHEEL_DIR := target/wheels

.PHONY: install install-test fmt lint rust-test build test bench tour ci

install:            ## build the release wheel and install it
	$(PYTHON) -m pip install -q "maturin>=1.16,<2"
	rm -rf $(WHEEL_DIR)
	maturin build --release -q -o $(WHEEL_DIR)
	$(PYTHON) -m pip install -q --force-reinstall --no-deps $(WHEEL_DIR)/accessgraph-*.whl

install-test: install  ## the package plus the test dependencies
	$(PYTHON) -m pip install -q "$$(ls $(WHEEL_DIR)/accessgraph-*.whl)[test]"

fmt:
	cargo fmt
	$(PYTHON) -m ruff format python tests benchmarks examples

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --features postgres -- -D warnings
	cargo clippy --features python,postgres -- -D warnings
	$(PYTHON) -m ruff check python tests benchmarks examples
	$(PYTHON) -m ruff format --check python tests benchmarks examples
	$(PYTHON) -m mypy
	$(PYTHON) -m mypy.stubtest accessgraph._core

rust-test:
	cargo test
	cargo test --features postgres --lib postgres
	cargo test --features python --lib bindings

test:               ## the whole Python suite against the installed wheel
	$(PYTHON) -m pytest

bench:
	$(PYTHON) -m pip install -q "$$(ls $(WHEEL_DIR)/accessgraph-*.whl)[bench]"
	$(PYTHON) benchmarks/bench_peers.py --json benchmarks/results/latest.json --markdown benchmarks/results/latest.md
	cargo bench --bench latency

tour:
	$(PYTHON) examples/tour.py

ci: install-test lint rust-test test
