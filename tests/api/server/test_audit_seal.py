"""An audit trail someone who can write the state DB cannot rewrite unnoticed (issue 15, probe
5a): an HMAC key and a head log outside the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import stat

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text, update

from api.cli.main import main
from api.server.state.audit import append_audit, chain_hash, verify_chain
from api.server.state.audit_seal import AuditKeyError, AuditSeal
from api.server.state.db import StateDB
from api.server.state.models import AuditEntry, AuditHead
from tests.api.server.test_audit import _drop_triggers

FIELDS = ("seq", "at", "actor", "role", "action", "resource", "detail", "request_id", "prev_hash")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def seal(tmp_path):
    return AuditSeal(tmp_path / "keys" / "audit.key", head_interval=0)


def _fill(db: StateDB, n: int, start: int = 0) -> None:
    with db.write() as s:
        for i in range(start, start + n):
            append_audit(s, actor=f"u{i}", role="admin", action="test", resource=f"r{i}",
                         detail={"i": i}, request_id=f"req{i}")  # fmt: skip


def _verify(db: StateDB, seal: AuditSeal, env: dict | None = None) -> tuple[int, str]:
    env = {"RISKGRAPH_AUDIT_KEY_FILE": str(seal.key_path), **(env or {})}
    result = CliRunner().invoke(main, ["audit", "verify", "--state-db", db.url], env=env)
    return result.exit_code, result.output


def _forge(db: StateDB, seq: int, key: bytes | None = None, chain_id: str = "") -> None:
    """What the issue's probe did: edit row ``seq``, recompute every hash from there on (plain
    SHA-256, or under a guessed key) and set the head to the new last hash."""
    with db.read() as s:
        rows = [{k: getattr(e, k) for k in (*FIELDS, "hash")}
                for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]  # fmt: skip
    prev = rows[seq - 2]["hash"] if seq > 1 else "0" * 64
    with db.engine.begin() as c:
        for row in rows[seq - 1 :]:
            if row["seq"] == seq:
                row["actor"] = "someone-else"
            row["prev_hash"] = prev
            row["hash"] = prev = chain_hash(prev, row, key, chain_id)
            c.execute(
                text("UPDATE audit_log SET actor = :actor, prev_hash = :prev_hash, hash = :hash "
                     "WHERE seq = :seq"), row,
            )  # fmt: skip
        c.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=prev))


def test_a_recomputed_chain_no_longer_verifies(url, seal):
    db = StateDB(url, seal=seal)
    _fill(db, 6)
    assert _verify(db, seal) == (0, "audit trail intact: 6 rows\n")
    _drop_triggers(db)
    _forge(db, 3)  # the old, unkeyed recipe: verify used to say "intact"
    code, out = _verify(db, seal)
    assert code == 1 and "audit row 3" in out and "edited" in out, out
    with db.read() as s:
        chain_id = s.get(AuditHead, 1).chain_id
    _forge(db, 3, key=b"\x00" * 32, chain_id=chain_id)  # a guessed key fares no better
    code, out = _verify(db, seal)
    assert code == 1 and "audit row 3" in out, out
    db.close()


def test_a_cut_tail_with_its_head_set_back_is_caught_by_the_head_log(url, seal):
    db = StateDB(url, seal=seal)
    _fill(db, 5)
    _fill(db, 3, start=5)
    _drop_triggers(db)
    with db.read() as s:
        fifth = s.get(AuditEntry, 5).hash
    # every remaining row and the head are genuine: only the log outside the DB knows better
    with db.engine.begin() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq > 5"))
        c.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=5, hash=fifth))
    code, out = _verify(db, seal)
    assert code == 1 and "rows removed" in out and "row 8" in out, out
    db.close()


def test_moving_where_keyed_rows_start_is_caught(url, seal):
    db = StateDB(url, seal=seal)
    _fill(db, 4)
    _drop_triggers(db)
    with db.engine.begin() as c:
        c.execute(update(AuditHead).where(AuditHead.id == 1).values(keyed_from=100))
    _forge(db, 1)  # every row re-hashed the unkeyed way
    code, out = _verify(db, seal)
    assert code == 1 and "keyed rows start at 1" in out, out
    db.close()


def test_verify_fails_clearly_without_the_key_or_the_head_log(url, seal, tmp_path):
    db = StateDB(url, seal=seal)
    _fill(db, 2)
    with db.read() as s:
        chain_id = s.get(AuditHead, 1).chain_id
    elsewhere = tmp_path / "nowhere" / "audit.key"
    code, out = _verify(db, seal, {"RISKGRAPH_AUDIT_KEY_FILE": str(elsewhere)})
    assert code == 2 and "cannot verify" in out and "audit.key" in out and "not found" in out
    log = seal.head_file(chain_id)
    log.rename(log.with_suffix(".moved"))
    code, out = _verify(db, seal)
    assert code == 2 and "head log" in out and "not found" in out, out
    log.with_suffix(".moved").rename(log)
    assert _verify(db, seal)[0] == 0
    # a lost key is never silently replaced once keyed rows exist
    other = StateDB(url, seal=AuditSeal(elsewhere, head_interval=0), migrate=False)
    with pytest.raises(AuditKeyError, match="not found"), other.write() as s:
        append_audit(s, actor="x", role="admin", action="t", resource="r")
    assert not elsewhere.exists()
    other.close()
    db.close()


def test_the_key_file_is_private_and_an_exposed_one_refused(tmp_path):
    seal = AuditSeal(tmp_path / "k" / "audit.key", head_interval=0)
    seal.key(create=True)
    assert stat.S_IMODE(seal.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(seal.key_path.parent.stat().st_mode) == 0o700
    os.chmod(seal.key_path, 0o644)
    with pytest.raises(AuditKeyError, match="chmod 600"):
        AuditSeal(seal.key_path).key()


def test_head_lines_are_written_at_most_once_per_interval(tmp_path):
    import time

    seal = AuditSeal(tmp_path / "audit.key", head_interval=0.3)
    for seq in range(1, 6):
        seal.note_head("c", seq, f"{seq:064x}", 1)
    assert [h[0] for h in seal.heads("c")] == [1]  # the first at once, the rest pending
    time.sleep(0.5)  # the timer writes the newest pending head
    assert [h[0] for h in seal.heads("c")] == [1, 5]
    seal.note_head("c", 6, f"{6:064x}", 1)
    seal.flush()
    assert [h[0] for h in seal.heads("c")][-1] == 6


def test_a_trail_from_before_the_key_is_kept_and_protected(url, seal):
    """Rows written before the key (revision 0003) keep their SHA-256; the first keyed row's
    HMAC covers them, so rewriting them is caught as well."""
    db = StateDB(url, migrate=False, seal=seal)
    db.upgrade("0003")
    from api.server.state.audit import GENESIS_HASH, canonical_json

    prev = GENESIS_HASH
    with db.engine.begin() as c:
        for seq in (1, 2, 3):
            row = {"seq": seq, "at": f"2025-01-0{seq}T00:00:00.000000Z", "actor": "old",
                   "role": "admin", "action": "legacy", "resource": "-",
                   "detail": canonical_json({"n": seq}), "request_id": "", "prev_hash": prev}  # fmt: skip
            row["hash"] = prev = chain_hash(prev, row)
            c.execute(text("INSERT INTO audit_log (seq, at, actor, role, action, resource, detail, "
                           "request_id, prev_hash, hash) VALUES (:seq, :at, :actor, :role, "
                           ":action, :resource, :detail, :request_id, :prev_hash, :hash)"), row)  # fmt: skip
        c.execute(text("UPDATE audit_head SET seq = 3, hash = :h WHERE id = 1"), {"h": prev})
    db.upgrade()
    with db.read() as s:
        head = s.get(AuditHead, 1)
        assert head.keyed_from == 4 and len(head.chain_id) == 32
    _fill(db, 2)
    assert _verify(db, seal)[0] == 0
    with db.read() as s:
        report = verify_chain(s, seal=seal)
    assert report.ok and report.rows == 5
    _drop_triggers(db)
    _forge(db, 2)  # rewrite a legacy row and re-chain from there, the unkeyed way
    code, out = _verify(db, seal)
    assert code == 1 and ("audit row 4" in out or "audit row 2" in out), out
    db.close()
