# riskgraph: the two commands a new user needs are `make demo` and `make test`.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp

.PHONY: install demo test test-fast lint format neo4j-up neo4j-down pg-up pg-down browser-deps bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## make demo: install, generate the demo dataset, load it into the embedded store, scan, report
demo: install
	$(VENV)/bin/riskgraph demo --out demo-out

## make test: install, lint, start a real Neo4j (assembled from Maven jars) and a real PostgreSQL
## (Debian package, own cluster on 127.0.0.1:5433), make sure Debian's chromium is there for the
## browser tests, run the whole suite; servers this target started are stopped afterwards
test: install browser-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@neo=0; pg=0; \
	bash scripts/neo4j.sh status >/dev/null 2>&1 || neo=1; \
	bash scripts/postgres.sh status >/dev/null 2>&1 || pg=1; \
	bash scripts/neo4j.sh start >/dev/null || exit 1; \
	bash scripts/postgres.sh start >/dev/null || exit 1; \
	RISKGRAPH_REQUIRE_NEO4J=1 RISKGRAPH_REQUIRE_POSTGRES=1 RISKGRAPH_REQUIRE_BROWSER=1 RISKGRAPH_REQUIRE_SPARK=1 \
	  $(VENV)/bin/pytest -q -p no:cacheprovider; rc=$$?; \
	if [ -z "$$KEEP_SERVERS" ]; then \
	  [ $$neo = 1 ] && bash scripts/neo4j.sh stop >/dev/null 2>&1; \
	  [ $$pg = 1 ] && bash scripts/postgres.sh stop >/dev/null 2>&1; \
	fi; exit $$rc

## Debian's chromium + CJK fonts for the Playwright browser tests (never `playwright install`),
## and Pango for the PDF report (WeasyPrint)
browser-deps:
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -q "Noto Sans CJK" \
	   && ldconfig -p | grep -q libpangoft2-1.0; } || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	    fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 >/dev/null; }

## make test-fast: unit tests only, no Neo4j
test-fast: install
	$(VENV)/bin/pytest -q -m "not neo4j and not postgres and not browser and not slow"

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

pg-up:
	bash scripts/postgres.sh start

pg-down:
	bash scripts/postgres.sh stop

## make bench: every benchmark in bench/ (writes bench/results/*.json)
bench: install
	bash bench/run_all.sh

clean:
	rm -rf demo-out riskgraph-workspace .pytest_cache .ruff_cache .hypothesis
