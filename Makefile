# riskgraph: the two commands a new user needs are `make demo` and `make test`.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp

.PHONY: install demo test test-fast lint format neo4j-up neo4j-down bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## make demo: install, generate the demo dataset, load it into the embedded store, scan, report
demo: install
	$(VENV)/bin/riskgraph demo --out demo-out

## make test: install, lint, start a real Neo4j (assembled from Maven jars), run the whole suite
test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@was_running=0; bash scripts/neo4j.sh status >/dev/null 2>&1 && was_running=1; \
	bash scripts/neo4j.sh start >/dev/null || exit 1; \
	RISKGRAPH_REQUIRE_NEO4J=1 $(VENV)/bin/pytest -q; rc=$$?; \
	if [ $$was_running = 0 ] && [ -z "$$KEEP_NEO4J" ]; then bash scripts/neo4j.sh stop >/dev/null 2>&1; fi; \
	exit $$rc

## make test-fast: unit tests only, no Neo4j
test-fast: install
	$(VENV)/bin/pytest -q -m "not neo4j and not slow"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

neo4j-up:
	bash scripts/neo4j.sh start

neo4j-down:
	bash scripts/neo4j.sh stop

## make bench: every benchmark in bench/ (writes bench/results/*.json)
bench: install
	bash bench/run_all.sh

clean:
	rm -rf demo-out riskgraph-workspace .pytest_cache .ruff_cache .hypothesis
