"""Scan jobs: one at a time even when requests race (SQLite, PostgreSQL); a scan abandoned by a
server process that died is marked failed instead of blocking every later scan."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select

from api.server.graph.access import GraphAccess
from api.server.scan_jobs import ScanRunner, reap_abandoned_scans
from api.server.state.audit import verify_chain
from api.server.state.db import StateDB
from api.server.state.models import AuditEntry, Scan, utcnow
from graph_models.memory_store import MemoryStore

RACERS = 20
ROOT = Path(__file__).resolve().parents[3]


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _status(db: StateDB, scan_id: int) -> str:
    with db.read() as s:
        return s.get(Scan, scan_id).status


def _racing_scan_starts(env) -> None:
    (env.tmp / "datasets" / "d1").mkdir()
    graph: GraphAccess = env.client.app.state.services.graph
    start = threading.Barrier(RACERS)

    def post(_: int) -> int:
        start.wait()
        return env.post("admin", "/scans", {"dataset_dir": "d1"}).status_code

    # the job waits for the graph's update lock, held here: the scan that wins stays running
    # while the others ask, whatever it would do with the (empty) dataset
    with graph.updating:
        with ThreadPoolExecutor(max_workers=RACERS) as pool:
            statuses = sorted(pool.map(post, range(RACERS)))
        assert statuses == [202] + [409] * (RACERS - 1)
        with env.db.read() as s:
            scans = s.scalars(select(Scan).where(Scan.source == "api")).all()
        assert len(scans) == 1
    _wait_for(lambda: _status(env.db, scans[0].id) in ("succeeded", "failed"))
    with env.db.read() as s:
        starts = s.scalars(select(AuditEntry).where(AuditEntry.action == "scan_start")).all()
        assert len(starts) == 1
        assert verify_chain(s).ok


def test_racing_scan_starts_start_one_scan(memory_env_on_each_db):
    _racing_scan_starts(memory_env_on_each_db)


def _add_scan(db: StateDB, status: str, beat_ago: float | None) -> int:
    now = utcnow()
    beat = None if beat_ago is None else now - dt.timedelta(seconds=beat_ago)
    with db.write() as s:
        scan = Scan(source="api", status=status, out_dir="-", options={}, requested_by="admin",
                    created_at=beat or now - dt.timedelta(hours=1),
                    started_at=beat if status == "running" else None, heartbeat_at=beat)  # fmt: skip
        s.add(scan)
        s.flush()
        return scan.id


def test_a_scan_abandoned_by_a_dead_process_is_failed_and_frees_the_slot(memory_env):
    env = memory_env
    (env.tmp / "datasets" / "d1").mkdir()
    dead = _add_scan(env.db, "running", beat_ago=600)
    shown = env.get("admin", f"/scans/{dead}").json()
    assert shown["status"] == "failed"
    assert shown["error"].startswith("interrupted")
    assert shown["finished_at"] is not None
    audit = env.get("admin", "/audit", params={"action": "scan_interrupted"}).json()["items"]
    assert [a["resource"] for a in audit] == [f"scan {dead}"]
    # and a queued one left behind (no heartbeat column yet: the creation time counts)
    left = _add_scan(env.db, "queued", beat_ago=None)
    r = env.post("admin", "/scans", {"dataset_dir": "d1"})
    assert r.status_code == 202, r.text
    assert _status(env.db, left) == "failed"
    _wait_for(lambda: _status(env.db, r.json()["id"]) in ("succeeded", "failed"))


def test_a_live_scan_is_not_reaped(memory_env):
    env = memory_env
    (env.tmp / "datasets" / "d1").mkdir()
    live = _add_scan(env.db, "running", beat_ago=5)
    assert env.post("admin", "/scans", {"dataset_dir": "d1"}).status_code == 409
    assert env.get("admin", f"/scans/{live}").json()["status"] == "running"
    with env.db.write() as s:
        assert reap_abandoned_scans(s, stale_after=3) == [live]


def test_a_running_job_writes_heartbeats(tmp_path, sqlite_url):
    db = StateDB(sqlite_url)
    graph = GraphAccess(MemoryStore(tmp_path / "graph"))
    runner = ScanRunner(db, graph, heartbeat_seconds=0.05)
    (tmp_path / "empty").mkdir()
    with db.write() as s:
        scan = Scan(source="api", status="queued", dataset_dir=str(tmp_path / "empty"),
                    out_dir=str(tmp_path / "out"), options={}, requested_by="admin",
                    created_at=utcnow())  # fmt: skip
        s.add(scan)
        s.flush()
        scan_id = scan.id

    def beat() -> dt.datetime | None:
        with db.read() as s:
            return s.get(Scan, scan_id).heartbeat_at

    with graph.updating:  # the job is running, held at the graph's update lock
        done = runner.submit(scan_id)
        _wait_for(lambda: beat() is not None)
        first = beat()
        _wait_for(lambda: beat() > first)
        assert _status(db, scan_id) == "running"
    done.result(timeout=60)
    assert _status(db, scan_id) in ("succeeded", "failed")
    last = beat()
    time.sleep(0.2)  # the heartbeat stopped with the job
    assert beat() == last
    runner.shutdown()
    db.close()


_TAKE_AND_DIE = """
import sys
from api.server.scan_jobs import process_identity
from api.server.state.db import StateDB
from api.server.state.models import Scan, utcnow
db = StateDB(sys.argv[1])
host, pid, started = process_identity()
with db.write() as s:
    now = utcnow()
    scan = Scan(source="api", status="running", out_dir="-", options={}, requested_by="admin",
                created_at=now, started_at=now, heartbeat_at=now, owner_host=host,
                owner_pid=pid, owner_started=started)
    s.add(scan)
    s.flush()
    print(scan.id)
"""


def test_a_scan_whose_process_is_gone_is_failed_at_once(memory_env):
    """Issue 15, probe 7: a scan taken by a process that was then killed refused every
    POST /scans with 409 until its heartbeat went stale minutes later; its owner is gone, so
    the next process that looks marks it failed at once."""
    import subprocess
    import sys

    env = memory_env
    (env.tmp / "datasets" / "d1").mkdir()
    child = subprocess.run(
        [sys.executable, "-c", _TAKE_AND_DIE, env.db_url], capture_output=True, text=True,
        check=True, cwd=ROOT,
    )  # fmt: skip
    dead = int(child.stdout.strip())
    r = env.post("admin", "/scans", {"dataset_dir": "d1"})
    assert r.status_code == 202, r.text  # at once, with a heartbeat written a moment ago
    failed = env.get("admin", f"/scans/{dead}").json()
    assert failed["status"] == "failed" and "is gone" in failed["error"]
    _wait_for(lambda: _status(env.db, r.json()["id"]) in ("succeeded", "failed"))
    # a live owner's scan is left alone: this process takes one and holds it
    with env.db.write() as s:
        live = Scan(source="api", status="running", out_dir="-", options={}, requested_by="a",
                    created_at=utcnow(), heartbeat_at=utcnow(), owner_host=socket.gethostname(),
                    owner_pid=os.getpid())  # fmt: skip
        s.add(live)
    assert env.post("admin", "/scans", {"dataset_dir": "d1"}).status_code == 409


def test_an_api_scan_commits_its_graph_and_flags_together(tmp_path, sqlite_url):
    """Issue 15, probe 7: a scan killed after the graph files were replaced but before its flags
    were imported left the restarted server serving the new graph beside the old flags. An API
    scan on the embedded store now writes a workspace generation holding the graph and the
    flags; the process dying between that commit and the import (simulated here by doing the
    scan's work up to the commit and no further) leaves a generation the next server start
    imports the flags of, before it serves anything."""
    from fastapi.testclient import TestClient

    from api.scan.pipeline import scan_workspace
    from api.server.app import create_app
    from api.server.auth.principals import create_user
    from api.server.scan_jobs import API_SCAN_KEY
    from api.server.state.models import FlagRecord
    from engine.outputs import read_flags
    from fixtures.synth import generate
    from graph_models.generations import current

    dataset, ws = tmp_path / "datasets" / "d1", tmp_path / "ws"
    generate(dataset, households=120, seed=5)
    db = StateDB(sqlite_url)
    with db.write() as s:
        token = create_user(s, "root", "admin", [])
        scan = Scan(source="api", status="running", dataset_dir=str(dataset), out_dir="-",
                    options={}, requested_by="root", created_at=utcnow(), heartbeat_at=utcnow(),
                    owner_host="elsewhere", owner_pid=1)  # fmt: skip
        s.add(scan)
        s.flush()
        scan_id = scan.id
    out = tmp_path / "out"
    scan_workspace(ws, dataset, out, meta={API_SCAN_KEY: scan_id})  # ... and the process dies
    assert current(ws).meta[API_SCAN_KEY] == scan_id
    written = read_flags(out / "flags.jsonl")
    assert written
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(FlagRecord)) == 0

    app = create_app(store_kind="memory", state_db_url=sqlite_url, workspace=ws,
                     datasets_root=tmp_path / "datasets")  # fmt: skip
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {token}"}
        got = client.get(f"/api/v1/scans/{scan_id}", headers=auth).json()
        assert got["status"] == "succeeded" and got["flags_imported"] == len(written)
        page = client.get("/api/v1/flags?limit=1", headers=auth).json()
        assert page["total"] == len(written)
        # and the graph served is that generation's: a flagged entity is there
        entity = written[0].entities[0]
        assert client.get(f"/api/v1/entities/{entity}", headers=auth).status_code == 200
    with db.read() as s:
        actions = s.scalars(select(AuditEntry.action)).all()
        assert "scan_recovered" in actions
        assert verify_chain(s).ok
    db.close()


def test_an_api_scan_of_a_dataset_writes_a_generation(memory_env):
    """POST /scans with a dataset on the embedded store: the new generation names the scan, and
    the server serves it once the flags are imported."""
    from fixtures.synth import generate
    from graph_models.generations import current

    env = memory_env
    generate(env.tmp / "datasets" / "d2", households=120, seed=5)
    r = env.post("admin", "/scans", {"dataset_dir": "d2"})
    assert r.status_code == 202, r.text
    scan_id = r.json()["id"]
    _wait_for(lambda: _status(env.db, scan_id) in ("succeeded", "failed"), timeout=120)
    done = env.get("admin", f"/scans/{scan_id}").json()
    assert done["status"] == "succeeded", done
    root = env.client.app.state.services.graph.store.generations_root()
    assert current(root).meta["api_scan"] == scan_id
    assert env.client.app.state.services.graph.generation == scan_id
    assert done["flags_imported"] > 0
