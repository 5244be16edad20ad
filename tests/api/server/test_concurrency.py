"""50 parallel reviews of one flag: none lost, the audit chain intact (SQLite file, PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.server.app import create_app
from api.server.state.audit import verify_chain
from api.server.state.models import AuditEntry, FlagState, ReviewDecision
from graph_models.memory_store import MemoryStore

N = 50


def _parallel_reviews(env) -> None:
    fid = env.flag_ids["aid_in"]
    users = ["aid_in", "inv_in", "admin", "inv_nat"]
    start = threading.Barrier(N)

    def review(i: int) -> int:
        start.wait()
        decision = ("confirmed", "dismissed", "needs_field_check")[i % 3]
        r = env.post(users[i % len(users)], f"/flags/{fid}/reviews",
                     {"decision": decision, "comment": f"review {i}"})  # fmt: skip
        return r.status_code

    with ThreadPoolExecutor(max_workers=N) as pool:
        statuses = list(pool.map(review, range(N)))
    assert statuses == [201] * N
    with env.db.read() as s:
        assert s.scalar(select(func.count()).select_from(ReviewDecision)) == N
        comments = set(s.scalars(select(ReviewDecision.comment)))
        assert comments == {f"review {i}" for i in range(N)}
        assert s.get(FlagState, fid).review_count == N
        audited = s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "review")
        )
        assert audited == N
        report = verify_chain(s)
        assert report.ok, report.describe()
    last = env.get("admin", f"/flags/{fid}/reviews").json()
    assert len(last) == N
    assert env.get("admin", f"/flags/{fid}").json()["status"] == last[-1]["decision"]


def test_parallel_reviews(memory_env_on_each_db):
    _parallel_reviews(memory_env_on_each_db)


def test_shutdown_waits_for_the_cache_warm_up(store, tmp_path):
    """The app warms its caches in a thread at startup; leaving the app must wait for it.

    Otherwise a caller that closes the store right after shutdown (every test fixture, the CLI)
    closes the Neo4j driver under a thread still sending on one of its connections.
    """
    from tests.api.conftest import build_graph

    build_graph(store)
    app = create_app(store=store, state_db_url=f"sqlite:///{tmp_path / 's.sqlite'}",
                     workspace=tmp_path / "ws", datasets_root=tmp_path)  # fmt: skip
    with TestClient(app) as client:
        health = client.get("/api/v1/healthz").json()
        assert isinstance(health["warm"], bool)
        app.state.services.graph.warmed.wait(60)
        assert client.get("/api/v1/healthz").json()["warm"] is True
    assert not [t for t in threading.enumerate() if t.name == "riskgraph-warm"]


def test_server_freezes_the_warmed_heap_and_thaws_it_for_a_new_graph(tmp_path):
    """``riskgraph serve`` (freeze_gc=True) hides the warmed caches from full garbage
    collections; a scan that replaces the graph unfreezes so the old graph can be freed.
    Run in a child process: gc.freeze is process-wide."""
    code = f"""
import gc
from api.server.app import create_app
from graph_models.memory_store import MemoryStore
from tests.api.conftest import build_graph
store = MemoryStore(None)
build_graph(store)
app = create_app(store=store, state_db_url="sqlite:///{tmp_path / "s.sqlite"}",
                 workspace="{tmp_path / "ws"}", freeze_gc=True)
access = app.state.services.graph
assert gc.get_freeze_count() == 0
access.warm()
assert gc.get_freeze_count() > 0 and access.ready
access.invalidate()
assert gc.get_freeze_count() == 0 and not access.ready
print("ok")
"""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_blocking_work_gets_the_configured_number_of_threads(tmp_path, monkeypatch):
    """Sync endpoints and Neo4j reads share a bounded thread pool (RISKGRAPH_THREADS): at most
    that many run at once, the rest wait for a thread; a bad value is a clear error."""
    import anyio.to_thread

    def app(**kw):
        return create_app(store=MemoryStore(tmp_path / "g"), state_db_url=f"sqlite:///{tmp_path / 's.sqlite'}",
                          workspace=tmp_path / "ws", datasets_root=tmp_path, **kw)  # fmt: skip

    def tokens(client: TestClient) -> float:
        return client.portal.call(
            lambda: anyio.to_thread.current_default_thread_limiter().total_tokens
        )

    with TestClient(app()) as client:
        assert tokens(client) == 8
    monkeypatch.setenv("RISKGRAPH_THREADS", "3")
    with TestClient(app()) as client:
        assert tokens(client) == 3
        # four sync requests at once, three threads: one waits; all are answered
        with ThreadPoolExecutor(max_workers=4) as pool:
            codes = list(pool.map(lambda _: client.get("/api/v1/healthz").status_code, range(4)))
        assert codes == [200] * 4
    with TestClient(app(threads=2)) as client:
        assert tokens(client) == 2
    monkeypatch.setenv("RISKGRAPH_THREADS", "many")
    with pytest.raises(ValueError, match="RISKGRAPH_THREADS must be a whole number"):
        app()
