# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
# Each writes its section of docs/benchmarks.md; `make bench-protocol` runs one.
BENCHMARKS := protocol openicf emulator hubspot_read hubspot_rate hubspot_reconcile hubspot_sync hubspot_429 openicf_codec

.PHONY: run test lint typecheck unit bench soak clean proto

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The demo needs the project alone; the checks add the dev tools (pytest, ruff, mypy, ...).
$(RUN_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $(RUN_STAMP)

$(DEV_STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(DEV_STAMP)

# The server on 127.0.0.1:8759 in front of a seeded HubSpot emulator; Ctrl-C stops both.
# Options go through ARGS, e.g. make run ARGS='--port 9759 --contacts 10000'.
run: $(RUN_STAMP)
	$(BIN)/hubspot-rcs demo $(ARGS)

test: lint typecheck unit

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy --strict .

unit: $(DEV_STAMP)
	$(BIN)/pytest

# Every benchmark in turn (several minutes); the figures land in docs/benchmarks.md.
bench: $(addprefix bench-,$(BENCHMARKS))

bench-%: $(DEV_STAMP)
	$(BIN)/python -m bench.$*

# Not in CI: 30 minutes of mixed load, the server's memory and open files sampled (they must
# stay flat); the figures land in docs/reliability.md. Shorter: make soak ARGS='--minutes 3'.
soak: $(DEV_STAMP)
	$(BIN)/python -m bench.soak $(ARGS)

# Regenerates protocol/openicf/proto/*_pb2.py[i] from the .proto files there.
proto: $(DEV_STAMP)
	$(BIN)/python tests/protocol/openicf/test_generated.py

clean:
	rm -rf $(VENV) build *.egg-info run
