"""The append-only audit trail, hash-chained so that editing, inserting or deleting a row shows,
and keyed so that someone who can write the database cannot recompute the chain.

Every row stores ``hash = HMAC-SHA256(key, chain_id + prev_hash + canonical_json(row))`` where
the row is everything but its own hash (sequence number, time, actor, role, action, resource,
detail, request id and the previous row's hash), canonical JSON is sorted keys, no spaces,
UTF-8, and the key lives outside the database (``api.server.state.audit_seal``). The first row's
``prev_hash`` is 64 zeros. Rows written before the key was introduced (``audit_head.keyed_from``)
keep their plain ``sha256(prev_hash + canonical_json(row))``; the first keyed row's HMAC covers
the last of them, so they cannot be rewritten either.

A one-row head table holds the last sequence number and hash, the chain's id and where keyed
rows start; every append locks it, so appends are serialised. After each commit the head is
also appended to a log outside the database (at most once a second per process), so a tail cut
off together with the head set back is caught. Appends that are not part of another transaction
go through :class:`AuditWriter`, which commits concurrent rows together (group commit) and
answers each caller only once its row is committed.

Examples
--------
>>> row = {"seq": 1, "at": "2025-01-01T00:00:00.000000Z", "actor": "li", "role": "admin",
...        "action": "login", "resource": "/", "detail": "{}", "request_id": "r1",
...        "prev_hash": GENESIS_HASH}
>>> len(chain_hash(GENESIS_HASH, row)), len(chain_hash(GENESIS_HASH, row, b"k" * 32, "c1"))
(64, 64)
>>> chain_hash(GENESIS_HASH, row) != chain_hash(GENESIS_HASH, row, b"k" * 32, "c1")
True
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from api.server.state.audit_seal import HEAD_INFO, SEAL_INFO, AuditSeal, default_seal
from api.server.state.models import AuditEntry, AuditHead

__all__ = [
    "GENESIS_HASH",
    "HEAD_INFO",
    "SEAL_INFO",
    "AuditWriter",
    "ChainReport",
    "append_audit",
    "append_audit_rows",
    "canonical_json",
    "chain_hash",
    "lock_chain",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
_HASHED = ("seq", "at", "actor", "role", "action", "resource", "detail", "request_id", "prev_hash")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, non-ASCII kept: one text per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(
    prev_hash: str, row: dict[str, Any], key: bytes | None = None, chain_id: str = ""
) -> str:
    """``HMAC-SHA256(key, chain_id + prev_hash + canonical_json(row fields))`` as hex; without
    a key the plain ``sha256(prev_hash + canonical_json(row fields))`` of rows written before
    the key was introduced."""
    body = canonical_json({k: row[k] for k in _HASHED})
    if key is None:
        return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()
    return hmac.new(key, (chain_id + prev_hash + body).encode("utf-8"), hashlib.sha256).hexdigest()


def _seal_of(session: Session | Connection) -> AuditSeal:
    seal = session.info.get(SEAL_INFO)
    return seal if isinstance(seal, AuditSeal) else default_seal()


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def append_audit(session: Session, **fields: Any) -> int:
    """Append one row in the caller's write transaction (``StateDB.write``) and return its
    sequence number. ``fields``: ``actor``, ``role``, ``action``, ``resource``, optional
    ``detail`` (a dict) and ``request_id``."""
    return append_audit_rows(session, [{"at": _now(), **fields}])[0]


_ENTRIES = AuditEntry.__table__
_HEAD = AuditHead.__table__
_READ_HEAD = (
    select(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.chain_id, _HEAD.c.keyed_from)
    .where(_HEAD.c.id == 1)
    .with_for_update()
)
_INSERT = insert(_ENTRIES)


def lock_chain(session: Session | Connection) -> None:
    """Take the chain head's row lock now, until the transaction ends.

    Every append takes it anyway; a transaction that checks something and then writes with an
    audit row (one scan at a time) takes it first, so on PostgreSQL a second such transaction
    waits and then sees what the first committed. (SQLite writers are serialised already.)
    """
    session.execute(_READ_HEAD).one()


def append_audit_rows(session: Session | Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Append many rows (``at``, ``actor``, ``role``, ``action``, ``resource``, ``detail`` as a
    dict, ``request_id``) in the caller's write transaction: the head is locked once and the rows
    inserted in one statement. Returns their sequence numbers, in order.

    The statements are SQLAlchemy Core on the tables (an ORM session runs them as they are):
    the head is read as plain columns, so a second append in the same transaction never reuses
    a number, and none of the ORM's bulk bookkeeping is paid for (about half of a one-row
    transaction's CPU).
    """
    if not rows:
        return []
    seq, prev, chain_id, keyed_from = session.execute(_READ_HEAD).one()
    seal = _seal_of(session)
    # a new key only while no keyed row exists: a lost key is an error, never replaced
    key = seal.key(create=seq < keyed_from)
    out: list[dict[str, Any]] = []
    for r in rows:
        seq += 1
        row = {
            "seq": seq, "at": r["at"], "actor": r["actor"], "role": r["role"],
            "action": r["action"], "resource": r["resource"],
            "detail": canonical_json(r.get("detail") or {}),
            "request_id": r.get("request_id", ""), "prev_hash": prev,
        }  # fmt: skip
        row["hash"] = prev = chain_hash(prev, row, key, chain_id)
        out.append(row)
    session.execute(_INSERT, out)
    session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=seq, hash=prev))
    session.info[HEAD_INFO] = (chain_id, seq, prev, keyed_from)
    return [row["seq"] for row in out]


def _row(
    actor: str,
    role: str,
    action: str,
    resource: str,
    detail: dict[str, Any] | None,
    request_id: str,
) -> dict[str, Any]:
    return {"actor": actor, "role": role, "action": action, "resource": resource,
            "detail": detail, "request_id": request_id}  # fmt: skip


class _Pending:
    """One row waiting for its commit: a sync caller waits on ``done``, an async one on
    ``future`` (only the one it needs is made: an ``Event`` is a lock and a condition)."""

    __slots__ = ("done", "error", "future", "row", "seq")

    def __init__(self, row: dict[str, Any], future: asyncio.Future[int] | None = None) -> None:
        self.row = row
        self.done = threading.Event() if future is None else None
        self.error: BaseException | None = None
        self.seq = 0
        #: set for :meth:`AuditWriter.append_async` callers (resolved on their event loop)
        self.future = future


def _finish(batch: list[_Pending]) -> None:
    """Tell a committed (or failed) batch's callers: sync ones now, async ones with one wake-up
    of each event loop for the whole batch (not one per row: each is a write to the loop's
    self-pipe and a context switch)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
    for p in batch:
        if p.done is not None:
            p.done.set()
        elif p.future is not None:
            by_loop.setdefault(p.future.get_loop(), []).append(p)
    for loop, waiting in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
            loop.call_soon_threadsafe(_resolve_all, waiting)


def _resolve_all(waiting: list[_Pending]) -> None:
    for p in waiting:
        fut = p.future
        if fut is None or fut.cancelled():  # the request went away; the row is committed
            continue
        if p.error is not None:
            err = RuntimeError("the audit row could not be written")
            err.__cause__ = p.error
            fut.set_exception(err)
        else:
            fut.set_result(p.seq)


#: An event loop's flush that finds the SQLite write lock taken tries again this often (uvloop's
#: timers have millisecond resolution: a shorter delay would be no delay) ...
_LOOP_RETRY_SECONDS = 0.001
#: ... this many times, then hands its rows to the writer thread.
_LOOP_TRIES = 20


class AuditWriter:
    """Group commit for audit rows written in their own transaction (reads, logins, exports).

    :meth:`append` returns only after the row is committed, so nothing is lost and nothing is
    answered unaudited; but concurrent appends share one transaction: a writer thread takes
    every row waiting, locks the chain head once, inserts them in chain order and commits. Under
    load this turns N write transactions (each a BEGIN IMMEDIATE, a head lookup, an insert, an
    update and a commit, serialised on the database's write lock) into one per batch.

    :meth:`append_async` on a SQLite state DB skips the thread: the rows appended during one
    pass of the event loop are committed together by a callback on that loop, right after it
    (a local SQLite commit is a fraction of a millisecond). Handing each row to a thread cost
    more than the write: the thread and the event loop took turns at the interpreter lock a
    dozen times per transaction (measured: 0.5 ms of the loop's CPU per audited request against
    0.2 ms for the whole write on the loop). The loop never waits for another writer: if another
    process or thread holds the SQLite write lock, that batch goes to the writer thread. On
    PostgreSQL (a round trip per statement) every row goes to the writer thread.

    Each row's time is taken when its transaction holds the write lock, so time order is chain
    order.

    Parameters
    ----------
    db : StateDB
        Where the rows go (a StateDB: rows are written through ``write_connection()``).
    max_batch : int
        Rows per transaction at most.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from api.server.state.audit_seal import AuditSeal
    >>> from api.server.state.db import StateDB
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> db = StateDB(f"sqlite:///{tmp / 's.sqlite'}", seal=AuditSeal(tmp / "audit.key"))
    >>> log = AuditWriter(db)
    >>> log.append(actor="li", role="admin", action="login", resource="/")
    1
    >>> log.close(); db.close()
    """

    def __init__(self, db: Any, max_batch: int = 500) -> None:
        self._db = db
        self._max_batch = max_batch
        self._cv = threading.Condition()
        self._queue: list[_Pending] = []
        self._stopping = False
        self._thread: threading.Thread | None = None
        #: rows appended on each event loop, waiting for that loop's flush (SQLite only)
        self._loop_batches: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
        self._on_loop = bool(getattr(db, "local_writes", False))
        #: write transactions committed so far (rows / transactions = the group-commit factor)
        self.transactions = 0
        #: loop flushes that found the write lock taken and tried again / gave up to the thread
        self.loop_retries = 0
        self.handed_to_thread = 0

    def append(
        self,
        *,
        actor: str,
        role: str,
        action: str,
        resource: str,
        detail: dict[str, Any] | None = None,
        request_id: str = "",
    ) -> int:
        """Append one row; return its sequence number once committed (raise if it was not)."""
        pending = _Pending(_row(actor, role, action, resource, detail, request_id))
        self._enqueue(pending)
        assert pending.done is not None
        pending.done.wait()
        if pending.error is not None:
            raise RuntimeError("the audit row could not be written") from pending.error
        return pending.seq

    async def append_async(
        self,
        *,
        actor: str,
        role: str,
        action: str,
        resource: str,
        detail: dict[str, Any] | None = None,
        request_id: str = "",
    ) -> int:
        """:meth:`append` for an event loop: wait for the commit without holding a thread."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        row = _row(actor, role, action, resource, detail, request_id)
        if not self._on_loop:
            self._enqueue(_Pending(row, future))
            return await future
        batch = self._loop_batches.get(loop)
        if batch is None:
            batch = self._loop_batches[loop] = []
            loop.call_soon(self._flush_on_loop, loop, 0)
        batch.append(_Pending(row, future))
        return await future

    def _flush_on_loop(self, loop: asyncio.AbstractEventLoop, tries: int) -> None:
        """Commit the rows this loop gathered since its last flush (never waiting for a lock:
        while another writer holds it, try again shortly, with the rows gathered meanwhile;
        after ``_LOOP_TRIES`` the batch goes to the writer thread, which waits its turn)."""
        batch = self._loop_batches.get(loop)
        if not batch:
            self._loop_batches.pop(loop, None)
            return
        busy = False
        try:
            with self._db.try_write_connection() as conn:
                if conn is None:
                    busy = True
                else:
                    self._write(conn, batch)
        except Exception as exc:  # every waiter hears of it
            for p in batch:
                p.error = exc
        if busy and tries + 1 < _LOOP_TRIES:
            self.loop_retries += 1
            loop.call_later(_LOOP_RETRY_SECONDS, self._flush_on_loop, loop, tries + 1)
            return
        del self._loop_batches[loop]
        if busy:
            self.handed_to_thread += 1
            queued = 0
            try:
                for p in batch:
                    self._enqueue(p)
                    queued += 1
            except Exception as exc:  # no writer thread: the rows not queued hear of it now
                for p in batch[queued:]:
                    p.error = exc
                _resolve_all(batch[queued:])
            return
        _resolve_all(batch)

    def _write(self, conn: Connection, batch: list[_Pending]) -> None:
        """Append the batch's rows in ``conn``'s transaction (it holds the write lock)."""
        at = _now()  # under the lock: time order is chain order
        seqs = append_audit_rows(conn, [{**p.row, "at": at} for p in batch])
        for p, seq in zip(batch, seqs, strict=True):
            p.seq = seq
        self.transactions += 1

    def _enqueue(self, pending: _Pending) -> None:
        """Queue a row for the writer thread (started on first use)."""
        with self._cv:
            self._queue.append(pending)
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="riskgraph-audit", daemon=True)
                try:
                    thread.start()
                except BaseException:  # not queued after all: the caller hears of it
                    self._queue.remove(pending)
                    raise
                self._thread = thread
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._stopping:
                    self._cv.wait()
                if not self._queue:
                    self._thread = None  # a later append starts a new one
                    return
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
            try:
                with self._db.write_connection() as conn:
                    self._write(conn, batch)
            except BaseException as exc:  # every waiter hears of it; the thread carries on
                for p in batch:
                    p.error = exc
            finally:
                _finish(batch)

    def close(self) -> None:
        """Write what is queued and stop the writer thread (a later append starts it again)."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()
        with self._cv:
            self._stopping = False


@dataclass
class ChainReport:
    """Outcome of :func:`verify_chain`: ``ok``, rows checked and the first bad row with why."""

    ok: bool
    rows: int
    first_bad_seq: int | None = None
    reason: str = ""
    #: rows committed after the last head the log recorded (at most a second's worth)
    unlogged_rows: int = 0

    def describe(self) -> str:
        if self.ok:
            tail = (
                f" ({self.unlogged_rows} after the last logged head)" if self.unlogged_rows else ""
            )
            return f"audit trail intact: {self.rows} rows{tail}"
        if self.first_bad_seq is None:
            return f"audit trail not verified: {self.reason}"
        return f"audit row {self.first_bad_seq}: {self.reason}"


def verify_chain(session: Session, batch: int = 5000, seal: AuditSeal | None = None) -> ChainReport:
    """Recompute every hash in order (keyed rows with the key); check the chain's head against
    the database's head row and against the head log outside the database. Reports the first
    row that does not fit; a missing key or head log is a failure with the reason."""
    from api.server.state.audit_seal import AuditKeyError

    seal = seal or default_seal()
    head = session.get(AuditHead, 1)
    if head is None:
        return ChainReport(False, 0, 1, "the chain head row is missing")
    chain_id, keyed_from = head.chain_id, head.keyed_from
    keyed_rows = head.seq >= keyed_from
    key = None
    if keyed_rows:
        try:
            key = seal.key()
        except AuditKeyError as e:
            return ChainReport(False, 0, None, e.message)
    logged = seal.heads(chain_id)
    if logged is None and keyed_rows:
        return ChainReport(
            False, 0, None,
            f"head log {seal.head_file(chain_id)} not found: the chain's head cannot be checked "
            f"against it (set RISKGRAPH_AUDIT_HEAD_FILE to where it is kept)",
        )  # fmt: skip
    logged_at = {}
    for seq_, hash_, keyed in logged or []:
        if keyed != keyed_from:
            return ChainReport(
                False, 0, seq_, f"the head log says keyed rows start at {keyed}, the database "
                f"says {keyed_from}",
            )  # fmt: skip
        logged_at.setdefault(seq_, set()).add(hash_)
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
            keyed = e.seq >= keyed_from
            if chain_hash(prev_hash, row, key if keyed else None, chain_id) != e.hash:
                return ChainReport(False, rows, e.seq, "hash mismatch: the row was edited")
            if e.seq in logged_at and e.hash not in logged_at[e.seq]:
                return ChainReport(False, rows, e.seq, "the row's hash differs from the head log's")
            prev_hash, expected_seq, rows = e.hash, expected_seq + 1, rows + 1
            last_seq = e.seq
    if head.seq != rows or head.hash != prev_hash:
        seq = rows + 1 if head.seq > rows else head.seq
        return ChainReport(
            False, rows, seq, "chain head does not match the last row (rows removed)"
        )
    newest_logged = max(logged_at, default=0)
    if newest_logged > rows:
        return ChainReport(
            False, rows, rows + 1,
            f"rows removed: the head log recorded row {newest_logged}, the database ends at "
            f"row {rows}",
        )  # fmt: skip
    return ChainReport(True, rows, unlogged_rows=rows - newest_logged if keyed_rows else 0)
