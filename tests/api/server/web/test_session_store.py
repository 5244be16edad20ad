"""Sessions in the state DB: the touch interval, expiry, digest-only storage, and one session
valid on every app (worker process) over the same state DB."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text

from api.server.app import create_app
from api.server.auth.principals import create_user
from api.server.auth.sessions import CSRF_COOKIE, SESSION_COOKIE, SessionStore
from api.server.state.db import StateDB
from api.server.state.models import User, WebSessionRecord
from graph_models.memory_store import MemoryStore
from tests.api.conftest import postgres_server_url, postgres_url  # noqa: F401 (fixtures)
from tests.api.server.web.test_session import add_user, sign_in, state_db_fixture  # noqa: F401

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _stored(db: StateDB, session_id: str) -> WebSessionRecord | None:
    with db.read() as s:
        return s.get(WebSessionRecord, hashlib.sha256(session_id.encode()).hexdigest())


def _rows(db: StateDB) -> int:
    with db.read() as s:
        return len(s.scalars(select(WebSessionRecord.id_hash)).all())


def test_get_writes_last_seen_only_after_the_touch_interval(state_db):
    uid = add_user(state_db)
    clock = FakeClock()
    t0 = clock.now
    store = SessionStore(
        state_db, idle_timeout=100, absolute_timeout=1000, clock=clock, touch_interval=30
    )
    sid, sess = store.create(uid, "h")
    assert sess.created == sess.last_seen == t0 == _stored(state_db, sid).last_seen
    clock.now = t0 + 20
    assert store.get(sid).last_seen == t0  # within the interval: no write
    assert _stored(state_db, sid).last_seen == t0
    clock.now = t0 + 31
    assert store.get(sid).last_seen == t0 + 31  # older than the interval: written
    assert _stored(state_db, sid).last_seen == t0 + 31
    clock.now = t0 + 60
    assert store.get(sid) is not None
    assert _stored(state_db, sid).last_seen == t0 + 31
    # idle is judged on the stored value: 101 s after it the session is over, although the last
    # request (t0 + 60) was only 72 s ago; the timeout is exact to within touch_interval
    clock.now = t0 + 132
    assert store.get(sid) is None
    assert _stored(state_db, sid) is None and len(store) == 0


def test_idle_and_absolute_expiry_with_a_touch_interval(state_db):
    uid = add_user(state_db)
    clock = FakeClock()
    t0 = clock.now
    store = SessionStore(
        state_db, idle_timeout=100, absolute_timeout=250, clock=clock, touch_interval=30
    )
    idle, _ = store.create(uid, "h")
    busy, _ = store.create(uid, "h")
    for step in range(1, 5):  # a request on `busy` every 60 s keeps it alive ...
        clock.now = t0 + 60 * step
        assert store.get(busy) is not None
    assert store.get(idle) is None  # ... while `idle` (never used) ended after 100 s
    assert _stored(state_db, idle) is None
    clock.now = t0 + 251
    assert store.get(busy) is None  # absolute limit, however busy
    assert _stored(state_db, busy) is None


def test_create_sweeps_expired_sessions_and_len_counts_live_ones(state_db):
    uid = add_user(state_db)
    clock = FakeClock()
    t0 = clock.now
    store = SessionStore(
        state_db, idle_timeout=100, absolute_timeout=1000, clock=clock, touch_interval=30
    )
    old = [store.create(uid, "h")[0] for _ in range(3)]
    clock.now = t0 + 50
    fresh, _ = store.create(uid, "h")
    assert len(store) == 4 and _rows(state_db) == 4
    clock.now = t0 + 120  # the first three are idle 120 s, `fresh` 70 s
    assert len(store) == 1 and _rows(state_db) == 4  # expired but not yet swept
    assert bool(store)  # truth never depends on (or queries) the session count
    newest, _ = store.create(uid, "h")
    assert _rows(state_db) == 2 and len(store) == 2  # one DELETE swept the expired three
    assert all(_stored(state_db, sid) is None for sid in old)
    store.delete(fresh)
    store.delete("never-issued")
    assert store.get(fresh) is None and store.get(newest) is not None and len(store) == 1


def test_only_the_digest_of_the_session_id_is_stored(state_db):
    uid = add_user(state_db)
    store = SessionStore(state_db)
    sid, sess = store.create(uid, "ab" * 32)
    with state_db.read() as s:
        rows = s.execute(text("SELECT * FROM web_sessions")).all()
    assert len(rows) == 1
    values = [str(v) for v in rows[0]]
    assert hashlib.sha256(sid.encode()).hexdigest() in values
    assert not any(sid in v for v in values)
    assert sess.csrf_token in values and "ab" * 32 in values
    assert store.get(sid).user_id == uid


def test_deleting_a_user_deletes_their_sessions(state_db):
    uid = add_user(state_db)
    store = SessionStore(state_db)
    sid, _ = store.create(uid, "h")
    with state_db.write() as s:
        s.execute(delete(User).where(User.id == uid))
    assert _stored(state_db, sid) is None and store.get(sid) is None


def test_touch_interval_must_be_below_the_idle_timeout(tmp_path):
    db = StateDB(f"sqlite:///{tmp_path / 's.sqlite'}")
    try:
        with pytest.raises(ValueError, match="touch_interval"):
            SessionStore(db, idle_timeout=60, touch_interval=60)
        with pytest.raises(ValueError, match="touch_interval"):
            SessionStore(db, touch_interval=-1)
    finally:
        db.close()


def test_two_apps_on_one_state_db_share_sessions(tmp_path: Path):
    """Two apps stand for two worker processes (or one before and after a restart)."""
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    db = StateDB(url)
    with db.write() as s:
        token = create_user(s, "analyst", "debt_analyst", ["410000"])
    apps = [
        create_app(store=MemoryStore(), state_db_url=url, workspace=tmp_path / f"ws-{name}")
        for name in ("a", "b")
    ]
    base = "http://testserver"
    with (
        TestClient(apps[0], base_url=base, follow_redirects=False) as a,
        TestClient(apps[1], base_url=base, follow_redirects=False) as b,
    ):
        csrf = sign_in(a, token)
        sid = a.cookies[SESSION_COOKIE]
        assert a.get("/api/v1/me").json()["name"] == "analyst"
        # app B has never seen this session in its memory, only in the shared DB
        b.cookies.set(SESSION_COOKIE, sid)
        b.cookies.set(CSRF_COOKIE, csrf)
        me = b.get("/api/v1/me")
        assert me.status_code == 200 and me.json()["name"] == "analyst"
        assert b.get("/web/flags").status_code == 200
        with db.read() as s:
            stored = s.execute(text("SELECT * FROM web_sessions")).all()
        assert len(stored) == 1 and not any(sid in str(v) for v in stored[0])
        # B checks A's session's CSRF token, then ends the session for every app
        wrong = b.post("/web/logout", content="csrf_token=wrong", headers=FORM)
        assert wrong.status_code == 403
        out = b.post("/web/logout", content=f"csrf_token={csrf}", headers=FORM)
        assert out.status_code == 303 and out.headers["location"] == "/web/login?out=1"
        assert a.cookies[SESSION_COOKIE] == sid  # A's browser still sends it: refused
        assert a.get("/api/v1/me").status_code == 401
        assert a.get("/web/flags").status_code == 303
    db.close()
