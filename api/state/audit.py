"""The append-only audit trail, hash-chained so that editing, inserting or deleting a row shows.

Every row stores ``hash = sha256(prev_hash + canonical_json(row))`` where the row is everything
but its own hash (sequence number, time, actor, role, action, resource, detail, request id and
the previous row's hash) and canonical JSON is sorted keys, no spaces, UTF-8. The first row's
``prev_hash`` is 64 zeros. A one-row head table holds the last sequence number and hash; every
append locks it, so appends are serialised and a truncated tail is caught as well.

Examples
--------
>>> row = {"seq": 1, "at": "2025-01-01T00:00:00.000000Z", "actor": "li", "role": "admin",
...        "action": "login", "resource": "/", "detail": "{}", "request_id": "r1",
...        "prev_hash": GENESIS_HASH}
>>> len(chain_hash(GENESIS_HASH, row))
64
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.state.models import AuditEntry, AuditHead

__all__ = [
    "GENESIS_HASH",
    "ChainReport",
    "append_audit",
    "canonical_json",
    "chain_hash",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
_HASHED = ("seq", "at", "actor", "role", "action", "resource", "detail", "request_id", "prev_hash")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, non-ASCII kept: one text per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """``sha256(prev_hash + canonical_json(row fields))`` as hex."""
    body = canonical_json({k: row[k] for k in _HASHED})
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def append_audit(
    session: Session,
    *,
    actor: str,
    role: str,
    action: str,
    resource: str,
    detail: dict[str, Any] | None = None,
    request_id: str = "",
) -> AuditEntry:
    """Append one row in the caller's write transaction (``StateDB.write``)."""
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one()
    row = {
        "seq": head.seq + 1,
        "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": actor,
        "role": role,
        "action": action,
        "resource": resource,
        "detail": canonical_json(detail or {}),
        "request_id": request_id,
        "prev_hash": head.hash,
    }
    entry = AuditEntry(**row, hash=chain_hash(head.hash, row))
    session.add(entry)
    head.seq = entry.seq
    head.hash = entry.hash
    session.flush()
    return entry


@dataclass
class ChainReport:
    """Outcome of :func:`verify_chain`: ``ok``, rows checked and the first bad row with why."""

    ok: bool
    rows: int
    first_bad_seq: int | None = None
    reason: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"audit trail intact: {self.rows} rows"
        return f"audit row {self.first_bad_seq}: {self.reason}"


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Recompute every hash in order; report the first row that does not fit the chain."""
    prev_hash, expected_seq, rows = GENESIS_HASH, 1, 0
    last_seq = 0
    while True:
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.seq > last_seq)
            .order_by(AuditEntry.seq)
            .limit(batch)
        ).all()
        if not entries:
            break
        for e in entries:
            if e.seq != expected_seq:
                return ChainReport(False, rows, expected_seq, f"missing (next row is {e.seq})")
            if e.prev_hash != prev_hash:
                return ChainReport(False, rows, e.seq, "prev_hash does not match the row before")
            row = {k: getattr(e, k) for k in _HASHED}
            if chain_hash(prev_hash, row) != e.hash:
                return ChainReport(False, rows, e.seq, "hash mismatch: the row was edited")
            prev_hash, expected_seq, rows = e.hash, expected_seq + 1, rows + 1
            last_seq = e.seq
    head = session.get(AuditHead, 1)
    if head is None or head.seq != rows or head.hash != prev_hash:
        seq = rows + 1 if head is None or head.seq > rows else head.seq
        return ChainReport(
            False, rows, seq, "chain head does not match the last row (rows removed)"
        )
    return ChainReport(True, rows)
