"""The hash-chained audit trail: an entry per decision, append-only, tampering detected by
``riskgraph audit verify`` (SQLite file and real PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from api.cli.main import main
from api.server.state.audit import GENESIS_HASH, AuditWriter, append_audit, chain_hash, verify_chain
from api.server.state.db import StateDB
from api.server.state.models import AuditEntry, AuditHead

ROOT = Path(__file__).resolve().parents[3]


def _fill(db: StateDB, n: int = 5) -> None:
    with db.write() as s:
        for i in range(n):
            append_audit(s, actor=f"u{i}", role="admin", action="test", resource=f"r{i}",
                         detail={"i": i, "名": "张三"}, request_id=f"req{i}")  # fmt: skip


def _verify_cli(url: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["audit", "verify", "--state-db", url])
    return result.exit_code, result.output


def _drop_triggers(db: StateDB) -> None:
    """What someone with direct database access would do first."""
    with db.engine.begin() as c:
        for name in ("audit_log_no_update", "audit_log_no_delete", "audit_head_no_delete"):
            on = "audit_head" if "head" in name else "audit_log"
            c.execute(
                text(
                    f"DROP TRIGGER IF EXISTS {name}"
                    + (f" ON {on}" if db.dialect == "postgresql" else "")
                )
            )


def _tamper_cases(url: str) -> None:
    db = StateDB(url)
    _fill(db, 6)
    assert _verify_cli(url)[0] == 0
    # append-only: the database refuses edits and deletes
    with pytest.raises(DBAPIError), db.engine.begin() as c:
        c.execute(text("UPDATE audit_log SET actor = 'x' WHERE seq = 2"))
    with pytest.raises(DBAPIError), db.engine.begin() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    _drop_triggers(db)
    with db.engine.begin() as c:
        c.execute(text("UPDATE audit_log SET detail = :d WHERE seq = 3"), {"d": '{"i":99}'})
    code, out = _verify_cli(url)
    assert code == 1 and "audit row 3" in out and "edited" in out
    with db.read() as s:
        assert verify_chain(s).first_bad_seq == 3
    db.close()


def test_audit_chain_hashes_are_reproducible(sqlite_url):
    db = StateDB(sqlite_url)
    _fill(db, 3)
    key = db.seal.key()
    with db.read() as s:
        rows = s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        head = s.get(AuditHead, 1)
        prev = GENESIS_HASH
        for r in rows:
            row = {k: getattr(r, k) for k in ("seq", "at", "actor", "role", "action", "resource",
                                              "detail", "request_id", "prev_hash")}  # fmt: skip
            assert r.prev_hash == prev and chain_hash(prev, row, key, head.chain_id) == r.hash
            assert chain_hash(prev, row) != r.hash  # keyed: the plain SHA-256 does not fit
            prev = r.hash
        assert json.loads(rows[0].detail) == {"i": 0, "名": "张三"}
        assert head.hash == prev and head.keyed_from == 1
    db.close()


def test_edited_row_is_detected_sqlite(sqlite_url):
    _tamper_cases(sqlite_url)


@pytest.mark.postgres
def test_edited_row_is_detected_postgres(postgres_url):
    _tamper_cases(postgres_url)


def test_deleted_and_truncated_rows_are_detected(sqlite_url):
    db = StateDB(sqlite_url)
    _fill(db, 5)
    _drop_triggers(db)
    with db.engine.begin() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq = 5"))
    code, out = _verify_cli(sqlite_url)
    assert code == 1 and "audit row 5" in out and "head" in out
    with db.engine.begin() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    code, out = _verify_cli(sqlite_url)
    assert code == 1 and "audit row 2" in out and "missing" in out
    db.close()


def test_rewritten_chain_is_detected(sqlite_url):
    """Editing a row and recomputing its hash without the key does not fit the HMAC."""
    db = StateDB(sqlite_url)
    _fill(db, 4)
    _drop_triggers(db)
    with db.read() as s:
        r = s.get(AuditEntry, 2)
        row = {k: getattr(r, k) for k in ("seq", "at", "actor", "role", "action", "resource",
                                          "detail", "request_id", "prev_hash")}  # fmt: skip
    row["actor"] = "someone-else"
    with db.engine.begin() as c:
        c.execute(text("UPDATE audit_log SET actor = :a, hash = :h WHERE seq = 2"),
                  {"a": row["actor"], "h": chain_hash(row["prev_hash"], row)})  # fmt: skip
    code, out = _verify_cli(sqlite_url)
    assert code == 1 and "audit row 2" in out and "edited" in out
    db.close()


def test_every_review_and_admin_action_is_audited(memory_env):
    env = memory_env
    fid = env.flag_ids["aid_in"]
    for i, decision in enumerate(["confirmed", "dismissed", "needs_field_check"]):
        r = env.post("aid_in", f"/flags/{fid}/reviews", {"decision": decision, "comment": f"c{i}"})
        assert r.status_code == 201
    case = env.post("aid_in", "/cases", {"title": "t", "flag_ids": [fid]}).json()
    env.client.delete(f"/api/v1/cases/{case['id']}", headers=env.h("aid_in"))
    rows = env.get("admin", "/audit", params={"action": "review"}).json()["items"]
    assert len(rows) == 3
    assert [json.loads(r["detail"])["decision"] for r in reversed(rows)] == [
        "confirmed", "dismissed", "needs_field_check"
    ]  # fmt: skip
    assert {r["actor"] for r in rows} == {"aid_in"} and all(r["request_id"] for r in rows)
    actions = {
        r["action"] for r in env.get("admin", "/audit", params={"limit": 1000}).json()["items"]
    }
    assert {"review", "case_create", "case_delete"} <= actions
    state = env.get("aid_in", f"/flags/{fid}").json()
    assert state["status"] == "needs_field_check" and state["review_count"] == 3
    assert [r["decision"] for r in state["reviews"]] == [
        "confirmed",
        "dismissed",
        "needs_field_check",
    ]
    verify = env.get("admin", "/audit/verify").json()
    assert verify["ok"] and verify["rows"] > 5
    assert env.get("admin", "/flags", params={"status": "needs_field_check"}).json()["total"] == 1


def test_review_request_id_links_audit_row(memory_env):
    env = memory_env
    fid = env.flag_ids["aid_in"]
    r = env.client.post(
        f"/api/v1/flags/{fid}/reviews", json={"decision": "confirmed"},
        headers={**env.h("aid_in"), "X-Request-ID": "field-visit-2024-0001"},
    )  # fmt: skip
    assert r.headers["X-Request-ID"] == "field-visit-2024-0001"
    rows = env.get("admin", "/audit", params={"action": "review"}).json()["items"]
    assert rows[0]["request_id"] == "field-visit-2024-0001"


def _group_commit(url: str) -> None:
    """50 threads append at once: every row lands once, in one unbroken chain, in fewer
    transactions than rows; a failed batch raises in every caller and the writer carries on."""
    db = StateDB(url)
    _fill(db, 2)  # rows appended in another transaction come first in the same chain
    log = AuditWriter(db)
    n = 50
    start = threading.Barrier(n)

    def one(i: int) -> int:
        start.wait()
        return log.append(actor=f"u{i}", role="investigator", action="read_personal",
                          resource=f"GET /x/{i}", detail={"i": i}, request_id=f"r{i}")  # fmt: skip

    with ThreadPoolExecutor(n) as pool:
        seqs = list(pool.map(one, range(n)))
    assert sorted(seqs) == list(range(3, n + 3))
    assert log.transactions < n
    with db.read() as s:
        report = verify_chain(s)
        assert report.ok and report.rows == n + 2, report.describe()
        by_seq = {e.seq: e for e in s.scalars(select(AuditEntry))}
    for i, seq in enumerate(seqs):
        assert by_seq[seq].resource == f"GET /x/{i}" and json.loads(by_seq[seq].detail) == {"i": i}
    ats = [by_seq[k].at for k in sorted(by_seq)]
    assert ats == sorted(ats)  # time order is chain order

    # a head one behind its last row: the insert collides, the caller hears of it, nothing
    # is half-written, and the writer serves the next append once the head is right again
    with db.engine.begin() as c:
        c.execute(text("UPDATE audit_head SET seq = seq - 1"))
    with pytest.raises(RuntimeError, match="could not be written"):
        log.append(actor="x", role="admin", action="t", resource="r")
    with db.engine.begin() as c:
        c.execute(text("UPDATE audit_head SET seq = seq + 1"))
    with db.read() as s:
        assert verify_chain(s).ok
    log.close()  # stops the writer; a later append starts it again
    assert log.append(actor="after", role="admin", action="t", resource="r") > n + 2
    with db.read() as s:
        assert verify_chain(s).ok
    log.close()
    db.close()


def test_group_commit_sqlite(sqlite_url):
    _group_commit(sqlite_url)


@pytest.mark.postgres
def test_group_commit_postgres(postgres_url):
    _group_commit(postgres_url)


def test_async_appends_are_group_committed_and_hear_of_failures(state_db_url):
    """``append_async`` (the async endpoints' path: on SQLite committed on the event loop, on
    PostgreSQL by the writer thread): 50 coroutines on one event loop wait for their commit
    without a thread each; rows land once, chained; a failed batch raises in every waiting
    coroutine."""
    db = StateDB(state_db_url)
    log = AuditWriter(db)
    n = 50

    async def many() -> list[int]:
        return await asyncio.gather(
            *(
                log.append_async(
                    actor=f"u{i}",
                    role="investigator",
                    action="read_personal",
                    resource=f"GET /x/{i}",
                    request_id=f"r{i}",
                )
                for i in range(n)
            )
        )

    seqs = asyncio.run(many())
    assert sorted(seqs) == list(range(1, n + 1))
    assert log.transactions < n
    with db.read() as s:
        assert verify_chain(s).ok
        by_seq = {e.seq: e.resource for e in s.scalars(select(AuditEntry))}
    assert [by_seq[seq] for seq in seqs] == [f"GET /x/{i}" for i in range(n)]

    with db.engine.begin() as c:
        c.execute(text("UPDATE audit_head SET seq = seq - 1"))

    async def failing() -> list[BaseException | int]:
        return await asyncio.gather(
            *(log.append_async(actor="x", role="admin", action="t", resource="r") for _ in "ab"),
            return_exceptions=True,
        )

    errors = asyncio.run(failing())
    assert all(isinstance(e, RuntimeError) and "could not be written" in str(e) for e in errors)
    with db.engine.begin() as c:
        c.execute(text("UPDATE audit_head SET seq = seq + 1"))
    with db.read() as s:
        assert verify_chain(s).ok and verify_chain(s).rows == n
    log.close()
    db.close()


def test_an_event_loop_never_waits_for_the_sqlite_write_lock(sqlite_url):
    """While another writer holds the SQLite write lock, the loop's flush does not block the
    loop: it tries again shortly (a short hold), or hands its rows to the writer thread (a long
    one). Either way every row is committed once, in one chain, in time order."""
    db = StateDB(sqlite_url)
    log = AuditWriter(db)

    def hold_lock(seconds: float, held: threading.Event) -> None:
        with db._write_queue.hold():  # another writer's transaction
            held.set()
            time.sleep(seconds)

    async def appends_while_held(seconds: float, tag: str) -> tuple[list[int], float]:
        held = threading.Event()
        holder = threading.Thread(target=hold_lock, args=(seconds, held))
        holder.start()
        held.wait()
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:  # counts loop passes: a blocked loop would not count
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.001)

        t = asyncio.create_task(ticker())
        seqs = await asyncio.gather(
            *(log.append_async(actor=tag, role="admin", action="t", resource=f"{tag}/{i}")
              for i in range(10))
        )  # fmt: skip
        stop.set()
        await t
        holder.join()
        return list(seqs), ticks

    seqs, ticks = asyncio.run(appends_while_held(0.003, "short"))
    assert sorted(seqs) == list(range(1, 11))
    assert log.loop_retries >= 1 and log.handed_to_thread == 0
    seqs, ticks = asyncio.run(appends_while_held(0.3, "long"))
    assert sorted(seqs) == list(range(11, 21))
    assert log.handed_to_thread == 1
    assert ticks >= 20  # the loop went on running while the rows waited for the lock
    with db.read() as s:
        report = verify_chain(s)
        entries = list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    assert report.ok and report.rows == 20, report.describe()
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    log.close()
    db.close()


_APPENDER = """
import sys, threading
from api.server.state.audit import AuditWriter
from api.server.state.db import StateDB
db = StateDB(sys.argv[1]); log = AuditWriter(db); name = sys.argv[2]
def one(i):
    log.append(actor=name, role="investigator", action="read_personal", resource=f"{name}/{i}")
threads = [threading.Thread(target=one, args=(i,)) for i in range(60)]
[t.start() for t in threads]; [t.join() for t in threads]
log.close(); db.close()
"""


def test_worker_processes_share_one_sqlite_chain(sqlite_url, tmp_path):
    """Two processes (as ``serve --workers 2``) append at once to one SQLite file: they queue on
    its write lock file, every row lands once and the chain verifies."""
    StateDB(sqlite_url).close()  # migrated once, as the serving parent does before forking
    procs = [
        subprocess.Popen([sys.executable, "-c", _APPENDER, sqlite_url, name], cwd=ROOT)
        for name in ("w1", "w2")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    db = StateDB(sqlite_url)
    with db.read() as s:
        report = verify_chain(s)
        resources = sorted(e.resource for e in s.scalars(select(AuditEntry)))
    assert report.ok and report.rows == 120, report.describe()
    assert resources == sorted(f"{w}/{i}" for w in ("w1", "w2") for i in range(60))
    db.close()
