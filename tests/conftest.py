"""Shared fixtures. Stores are parametrised: every store test runs on memory and on a real Neo4j.

Neo4j tests talk to the server started by ``scripts/neo4j.sh`` (``make test`` starts it). When
``RISKGRAPH_REQUIRE_NEO4J=1`` (set by ``make test`` and CI) an unreachable server is a failure,
not a skip, so CI can never pass without having run them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from graph_models.memory_store import MemoryStore

ROOT = Path(__file__).resolve().parent.parent

# The audit trail's key and head log live outside the state DB (api.server.state.audit_seal),
# by default in the user's ~/.config: the tests (and the servers and CLIs they start, which
# inherit the environment) keep theirs in a directory of their own, and write every head line
# at once so a test can read the log right after a request.
if "RISKGRAPH_AUDIT_KEY_FILE" not in os.environ:
    import tempfile

    os.environ["RISKGRAPH_AUDIT_KEY_FILE"] = str(
        Path(tempfile.mkdtemp(prefix="riskgraph-audit-")) / "audit.key"
    )
os.environ.setdefault("RISKGRAPH_AUDIT_HEAD_INTERVAL", "0")


def neo4j_env() -> dict[str, str] | None:
    """Connection settings: NEO4J_* from the environment, else the bundled server's."""
    if os.environ.get("NEO4J_URI"):
        return {
            "uri": os.environ["NEO4J_URI"],
            "user": os.environ.get("NEO4J_USER", "neo4j"),
            "password": os.environ.get("NEO4J_PASSWORD", ""),
        }
    script = ROOT / "scripts" / "neo4j.sh"
    if not script.exists():
        return None
    status = subprocess.run(["bash", str(script), "status"], capture_output=True, text=True)
    if status.returncode != 0:
        return None
    uri = subprocess.run(
        ["bash", str(script), "uri"], capture_output=True, text=True
    ).stdout.strip()
    pw = subprocess.run(
        ["bash", str(script), "password"], capture_output=True, text=True
    ).stdout.strip()
    return {"uri": uri, "user": "neo4j", "password": pw}


@pytest.fixture(scope="session")
def neo4j_settings() -> dict[str, str]:
    env = neo4j_env()
    if env is None:
        if os.environ.get("RISKGRAPH_REQUIRE_NEO4J") == "1":
            pytest.fail("Neo4j is required (RISKGRAPH_REQUIRE_NEO4J=1) but not running")
        pytest.skip("Neo4j not running (start it with 'make neo4j-up')")
    return env


def _neo4j_store(settings: dict[str, str]):
    from graph_models.neo4j_store import Neo4jStore

    store = Neo4jStore(settings["uri"], settings["user"], settings["password"])
    store.clear()
    store.ensure_schema()
    return store


@pytest.fixture(params=["memory", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def store(request, tmp_path):
    """A fresh, empty store of each kind."""
    if request.param == "memory":
        s = MemoryStore(tmp_path / "ws")
        yield s
        return
    settings = request.getfixturevalue("neo4j_settings")
    s = _neo4j_store(settings)
    yield s
    s.clear()
    s.close()


@pytest.fixture
def store_factory(request, tmp_path):
    """Make fresh stores of a given kind inside one test (for parity tests)."""
    made = []

    def make(kind: str, name: str = "ws"):
        if kind == "memory":
            s = MemoryStore(tmp_path / name)
        else:
            s = _neo4j_store(request.getfixturevalue("neo4j_settings"))
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


@pytest.fixture(scope="session")
def spark():
    """The test run's one Spark session (local mode, two cores), shared by every Spark test.

    Skipped when pyspark is not installed, unless ``RISKGRAPH_REQUIRE_SPARK=1`` (``make test``
    and CI set it), which turns the skip into a failure.
    """
    from engine.spark.session import spark_available, spark_session

    if not spark_available():
        if os.environ.get("RISKGRAPH_REQUIRE_SPARK") == "1":
            pytest.fail("pyspark is required (RISKGRAPH_REQUIRE_SPARK=1) but not installed")
        pytest.skip("pyspark not installed (pip install 'riskgraph[spark]')")
    # tiny tables: one shuffle partition, no adaptive re-planning, no whole-stage code
    # generation (compiling generated code costs more than running it on a few hundred rows)
    conf = {
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "1",
        "spark.sql.adaptive.enabled": "false",
        "spark.sql.codegen.wholeStage": "false",
    }
    session = spark_session("local[2]", conf=conf)
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def _own_default_workspace(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """Every test's default workspace (``$RISKGRAPH_WORKSPACE``) is its own: a developer's
    ``riskgraph-workspace`` (what ``make demo`` fills, README order: demo, then test) is never
    read or written by a test. Tests that name a workspace or clear the variable still do."""
    monkeypatch.setenv("RISKGRAPH_WORKSPACE", str(tmp_path_factory.mktemp("default-ws")))
