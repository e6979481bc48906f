# One command per habit; .ci/run calls exactly these targets.
#
# Every Python step runs in one virtual environment: the active one (VIRTUAL_ENV) if
# there is one, else .venv/ in the checkout, which `make install` creates with $(PYTHON).
# So a system Python that refuses `pip install` (PEP 668: "externally-managed-environment",
# Debian, Ubuntu) works as well as any other. PYTHON only matters when .venv/ is created:
# to switch interpreters, delete .venv/ and run `make install PYTHON=...` again.
# VENV=DIR uses (or creates) another environment.
PYTHON ?= python3
VENV ?= $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV),.venv)
PY := $(VENV)/bin/python
WHEEL_DIR := target/wheels

# The first recipe line of every target that needs the environment.
NEED_VENV = @test -x "$(PY)" || { echo "make: $(PY) does not exist yet: run \`make install\` first" >&2; exit 1; }

# `make install-test test` runs its goals in order, even under -j.
.NOTPARALLEL:
.PHONY: venv install install-test fmt lint rust-test build test test-long bench tour ci

venv:               ## the virtual environment (created only when missing)
	@if [ -x "$(PY)" ]; then \
	    if $(PY) -m pip --version >/dev/null 2>&1; then exit 0; fi; \
	    echo "make: $(VENV) has no pip (half made by a \`python3 -m venv\` that failed?): delete it, or run \`$(PY) -m ensurepip\`, then run make again" >&2; exit 1; \
	fi; \
	if [ -n "$$VIRTUAL_ENV" ] && [ "$(VENV)" = "$$VIRTUAL_ENV" ]; then \
	    echo "make: the active virtual environment $(VENV) has no bin/python: deactivate it, or recreate it, then run make again" >&2; exit 1; \
	fi; \
	if [ -e "$(VENV)" ]; then \
	    echo "make: $(VENV) exists but has no bin/python: delete it (or activate a virtual environment), then run make again" >&2; exit 1; \
	fi; \
	if ! $(PYTHON) -c "import sys, venv, importlib.util as u; sys.exit(u.find_spec('ensurepip.__main__') is None)" >/dev/null 2>&1; then \
	    if $(PYTHON) -c "" >/dev/null 2>&1; then \
	        echo "make: $(PYTHON) cannot create a virtual environment (no venv/ensurepip module): on Debian/Ubuntu run \`sudo apt install $$($(PYTHON) -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])')\`, or activate a virtual environment, then run make again" >&2; \
	    else \
	        echo "make: no Python at '$(PYTHON)': install Python >= 3.11 or pass PYTHON=/path/to/python3" >&2; \
	    fi; \
	    exit 1; \
	fi; \
	echo "creating $(VENV) with $(PYTHON) ($$($(PYTHON) -c 'import sys; print(sys.executable, sys.version.split()[0])'))"; \
	if ! out="$$($(PYTHON) -m venv "$(VENV)" 2>&1)"; then \
	    rm -rf "$(VENV)"; echo "$$out" >&2; \
	    echo "make: $(PYTHON) -m venv $(VENV) failed (see above)" >&2; exit 1; \
	fi

install: venv       ## build the release wheel and install it into the environment
	$(PY) -m pip install -q "maturin>=1.16,<2"
	rm -rf $(WHEEL_DIR)
	$(VENV)/bin/maturin build --release -q -o $(WHEEL_DIR) -i $(PY)
	$(PY) -m pip install -q --force-reinstall --no-deps $(WHEEL_DIR)/accessgraph-*.whl

install-test: install  ## the package plus the test dependencies
	$(PY) -m pip install -q "$$(ls $(WHEEL_DIR)/accessgraph-*.whl)[test]"

fmt:
	$(NEED_VENV)
	cargo fmt
	$(PY) -m ruff format python tests benchmarks examples

lint:
	$(NEED_VENV)
	$(PY) scripts/layers.py
	@if git grep -nE '^(<<<<<<< |>>>>>>> )'; then echo 'make: merge-conflict markers above' >&2; exit 1; fi
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --features postgres -- -D warnings
	cargo clippy --features python,postgres -- -D warnings
	$(PY) -m ruff check python tests benchmarks examples scripts
	$(PY) -m ruff format --check python tests benchmarks examples scripts
	$(PY) -m mypy
	$(PY) -m mypy.stubtest accessgraph._core

rust-test:
	cargo test
	cargo test --features postgres --lib postgres
	cargo test --features python --lib bindings

test:               ## the whole Python suite against the installed wheel
	$(NEED_VENV)
	$(PY) -m pytest

test-long:          ## the suite with the long loops: 1,000 reference-model runs, 200 kills, 500 fix graphs
	$(NEED_VENV)
	ACCESSGRAPH_LONG_FUZZ=1 $(PY) -m pytest

bench:
	$(NEED_VENV)
	$(PY) -m pip install -q "$$(ls $(WHEEL_DIR)/accessgraph-*.whl)[bench]"
	$(PY) benchmarks/bench_peers.py --json benchmarks/results/latest.json --markdown benchmarks/results/latest.md
	cargo bench --bench latency

tour:
	$(NEED_VENV)
	$(PY) examples/tour.py

ci: install-test lint rust-test test
