"""Failures a Neo4j deployment meets: no server at all, and the server killed mid-load.

The CLI runs as a real subprocess. The crash test kills the bundled server's JVM with SIGKILL
while ``riskgraph load`` is writing, restarts it with ``scripts/neo4j.sh start``, loads again and
checks the graph equals an uninterrupted load (compared with a memory-store load of the same
files). It leaves the server running.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from graph_models.memory_store import MemoryStore
from loaders.load import load_dataset
from tests import dataset_builder as db
from tests.conftest import ROOT
from tests.graph_models.test_store import canonical

RISKGRAPH = [sys.executable, "-m", "api.cli.main"]
SCRIPT = ROOT / "scripts" / "neo4j.sh"


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*RISKGRAPH, *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **env},
    )  # fmt: skip


@pytest.mark.parametrize("command", ["load", "scan"])
def test_unreachable_neo4j_is_one_line_and_a_non_zero_exit(tmp_path, command):
    dataset = db.build(tmp_path / "ds")
    args = [command, str(dataset), "--store", "neo4j"]
    args += (
        ["--out", str(tmp_path / "out")]
        if command == "scan"
        else ["--workspace", str(tmp_path / "ws")]
    )
    r = _cli(
        *args,
        env={"NEO4J_URI": f"bolt://127.0.0.1:{_closed_port()}", "NEO4J_PASSWORD": "x"},
        timeout=120,
    )
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode != 0
    assert len(lines) == 1, r.stderr
    assert "cannot reach Neo4j" in lines[0] and "Traceback" not in r.stderr


def test_opening_a_store_on_a_dead_port_fails_at_once():
    from neo4j.exceptions import ServiceUnavailable

    from graph_models.neo4j_errors import describe_neo4j_error
    from graph_models.neo4j_store import Neo4jStore

    with pytest.raises(ServiceUnavailable) as err:
        Neo4jStore(f"bolt://127.0.0.1:{_closed_port()}", "neo4j", "x")
    line = describe_neo4j_error(err.value)
    assert line is not None and "\n" not in line


# -- the server killed in the middle of a load ------------------------------------------------


def _bundled_pid_file(settings: dict[str, str]) -> Path:
    uri = subprocess.run(
        ["bash", str(SCRIPT), "uri"], capture_output=True, text=True
    ).stdout.strip()
    if settings["uri"] != uri:
        pytest.skip("the server under test is not the bundled one (cannot kill and restart it)")
    home = Path(os.environ.get("RISKGRAPH_NEO4J_HOME") or ROOT / ".neo4j")
    return home / "run" / "neo4j.pid"


def _start_server() -> None:
    r = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


@pytest.fixture(scope="module")
def big_dataset(tmp_path_factory) -> Path:
    """A synthetic dataset whose Neo4j load takes well over the time it takes to kill it."""
    from fixtures.synth import generate

    out = tmp_path_factory.mktemp("crash") / "ds"
    generate(out, households=150, seed=23)
    return out


@pytest.mark.neo4j
@pytest.mark.slow
def test_sigkill_mid_load_then_reload_gives_the_uninterrupted_graph(
    big_dataset, neo4j_settings, store_factory, tmp_path
):
    pid_file = _bundled_pid_file(neo4j_settings)
    neo4j = store_factory("neo4j")  # empty, with constraints
    env = {
        "NEO4J_URI": neo4j_settings["uri"],
        "NEO4J_USER": neo4j_settings["user"],
        "NEO4J_PASSWORD": neo4j_settings["password"],
    }
    args = ["load", str(big_dataset), "--store", "neo4j", "--workspace", str(tmp_path / "ws")]
    loader = subprocess.Popen(
        [*RISKGRAPH, *args], cwd=ROOT, env={**os.environ, "COLUMNS": "200", **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # wait until the load is well under way: households come before persons, accounts and
        # payments, which are most of the rows
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and loader.poll() is None:
            if neo4j.counts()["nodes"].get("Household", 0) > 0:
                break
            time.sleep(0.2)
        assert loader.poll() is None, "the load finished before the server could be killed"
        partial = neo4j.counts()
        os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
        time.sleep(1)
        _start_server()
        loader.wait(timeout=600)  # fails, or finishes if its retries reached the restarted server
    finally:
        if loader.poll() is None:
            loader.kill()
        if subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True).returncode != 0:
            _start_server()
    assert sum(partial["nodes"].values()) > 0
    rerun = _cli(*args, env=env)
    assert rerun.returncode == 0, rerun.stderr[-2000:]

    memory = MemoryStore()
    load_dataset(big_dataset, memory)
    counts = memory.counts()
    assert neo4j.counts() == counts
    for label in counts["nodes"]:
        pd.testing.assert_frame_equal(
            canonical(neo4j.nodes(label)), canonical(memory.nodes(label)), obj=label
        )
    for rtype in counts["relationships"]:
        pd.testing.assert_frame_equal(
            canonical(neo4j.relationships(rtype)), canonical(memory.relationships(rtype)), obj=rtype
        )
