"""Several worker processes: ``riskgraph serve --workers N`` (real forked uvicorn workers on one
port) and scans that reach every worker (two apps on one workspace and state DB stand in for
two workers in the in-process test)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from api.server.app import create_app
from api.server.auth.principals import create_user
from api.server.state.db import StateDB
from fixtures.synth import generate
from graph_models.memory_store import MemoryStore
from loaders.load import load_dataset
from tests import dataset_builder

ROOT = Path(__file__).resolve().parents[3]


def _wait(predicate, timeout: float = 120.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _scan(client: TestClient, headers: dict, dataset: str) -> int:
    r = client.post("/api/v1/scans", headers=headers, json={"dataset_dir": dataset})
    assert r.status_code == 202, r.text
    scan_id = r.json()["id"]

    def done():
        status = client.get(f"/api/v1/scans/{scan_id}", headers=headers).json()
        return status if status["status"] in ("succeeded", "failed") else None

    status = _wait(done, 300, f"scan {scan_id}")
    assert status["status"] == "succeeded", status
    return scan_id


def test_a_scan_reaches_the_other_workers_and_never_overwrites_their_scans(tmp_path, sqlite_url):
    datasets = tmp_path / "datasets"
    generate(datasets / "synth", households=100, seed=3)
    dataset_builder.build(datasets / "messy")  # other entities than the synthetic set
    ws = tmp_path / "ws"
    db = StateDB(sqlite_url)
    with db.write() as s:
        h = {"Authorization": f"Bearer {create_user(s, 'root', 'admin', [])}"}
    common = {"workspace": ws, "state_db_url": sqlite_url, "datasets_root": datasets}
    # A follows the state DB every 0.2 s; B never does by itself (a worker that has not yet
    # noticed another's scan), so B's own scan must first catch up or it would write its
    # dataset over a graph without A's
    app_a = create_app(**common, follow_seconds=0.2)
    app_b = create_app(**common, follow_seconds=0)
    with TestClient(app_a) as a, TestClient(app_b) as b:
        assert a.get("/api/v1/healthz").json()["generation"] == 0
        first = _scan(a, h, "synth")
        household = MemoryStore(ws).nodes("Household", ["id"])["id"].iloc[0]
        assert a.get(f"/api/v1/entities/{household}", headers=h).status_code == 200
        assert b.get(f"/api/v1/entities/{household}", headers=h).status_code == 404  # stale

        second = _scan(b, h, "messy")
        assert second > first
        assert b.get("/api/v1/healthz").json()["generation"] == second
        _wait(
            lambda: a.get("/api/v1/healthz").json()["generation"] == second,
            60,
            "worker A to follow B's scan",
        )
        gov = dataset_builder.GOV
        for client in (a, b):  # both scans' entities, in both workers
            assert client.get(f"/api/v1/entities/{household}", headers=h).status_code == 200
            assert client.get(f"/api/v1/entities/{gov}", headers=h).status_code == 200
    on_disk = MemoryStore(ws)
    assert household in set(on_disk.nodes("Household", ["id"])["id"])
    assert gov in set(on_disk.nodes("GovUnit", ["id"])["id"])
    db.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> set[int]:
    try:
        return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


def test_serve_workers_share_one_port_replace_a_dead_worker_and_stop_on_sigterm(
    tmp_path, sqlite_url
):
    ws = tmp_path / "ws"
    generate(tmp_path / "data", households=100, seed=3)
    store = MemoryStore(ws)
    load_dataset(tmp_path / "data", store, rejects_dir=ws / "rejects")
    store.flush()
    household = store.nodes("Household", ["id"])["id"].iloc[0]
    db = StateDB(sqlite_url)
    with db.write() as s:
        token = create_user(s, "inv", "investigator", ["000000"])
    db.close()
    port = _free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "api.cli.main", "serve", "--workspace", str(ws),
           "--state-db", sqlite_url, "--port", str(port), "--workers", "2"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:

        def workers_seen(expected: set[int]):
            seen: set[int] = set()
            for _ in range(200):  # a new connection per request: the kernel picks the worker
                try:
                    seen.add(httpx.get(f"{base}/healthz", timeout=5).json()["worker"])
                except httpx.HTTPError:
                    time.sleep(0.1)
                if seen == expected:
                    return True
            return False

        assert _wait(lambda: workers_seen({1, 2}), 120, "both workers to answer")
        time.sleep(0.5)  # the workers have counted those connections closed
        # a burst of keep-alive connections is spread over the workers (from one shared
        # socket, the worker that woke first took the whole burst)
        burst = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(10)]
        for conn in burst:
            conn.connect()
        served = []
        for conn in burst:
            conn.request("GET", "/api/v1/healthz")
            served.append(json.loads(conn.getresponse().read())["worker"])
        for conn in burst:
            conn.close()
        assert sorted(served.count(w) for w in (1, 2)) == [5, 5], served
        first = _children(proc.pid)
        assert len(first) == 2
        auth = {"Authorization": f"Bearer {token}"}
        for _ in range(6):  # the graph was loaded once, before the fork: both workers have it
            r = httpx.get(f"{base}/entities/{household}/neighborhood?hops=2", headers=auth)
            assert r.status_code == 200 and r.json()["nodes"], r.text

        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        replaced = _wait(
            lambda: len(_children(proc.pid) - first) == 1 and len(_children(proc.pid)) == 2,
            60,
            "a new worker",
        )
        assert replaced and victim not in _children(proc.pid)
        assert _wait(lambda: workers_seen({1, 2}), 60, "the new worker to answer")

        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        assert "worker" in err.decode() and "starting a new one" in err.decode()
        assert not any(Path(f"/proc/{c}").exists() for c in first | _children(proc.pid))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_workers_stop_when_the_parent_is_killed(tmp_path, sqlite_url):
    """The parent holds the port and hands out connections: if it dies (SIGKILL, no chance to
    stop them), its workers must not live on as orphans."""
    ws = tmp_path / "ws"
    generate(tmp_path / "data", households=100, seed=5)
    store = MemoryStore(ws)
    load_dataset(tmp_path / "data", store, rejects_dir=ws / "rejects")
    store.flush()
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "api.cli.main", "serve", "--workspace", str(ws),
           "--state-db", sqlite_url, "--port", str(port), "--workers", "2"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:

        def answers():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/v1/healthz", timeout=5).is_success
            except httpx.HTTPError:
                return False

        assert _wait(answers, 120, "the server to answer")
        workers = _children(proc.pid)
        assert len(workers) == 2
        proc.kill()
        proc.wait()
        _wait(lambda: not any(Path(f"/proc/{w}").exists() for w in workers), 60, "orphans to exit")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
