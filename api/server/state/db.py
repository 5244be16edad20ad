"""Connecting to the state DB: a SQLite file by default (WAL), PostgreSQL by URL.

Writes go through :meth:`StateDB.write`, which serialises writers where the database needs it: on
SQLite the transaction starts with ``BEGIN IMMEDIATE`` (so two writers never both read the audit
head and then both try to write it), on PostgreSQL the audit head row is locked ``FOR UPDATE``
by each append. Reads use :meth:`StateDB.read` and never block writers (WAL / MVCC).

SQLite writers of one file also queue on a lock file beside it (:class:`_SQLiteWriteQueue`), in
this process and in every other (API worker processes, the CLI). SQLite's own busy handler makes
a writer that finds the database locked sleep and retry, with sleeps growing to 100 ms: with two
API worker processes each committing audit rows, that polling put seconds on the 99th percentile.
A writer blocked on the lock file is woken the moment the previous one commits.

Examples
--------
>>> import tempfile, pathlib
>>> url = resolve_state_db_url(None, pathlib.Path(tempfile.mkdtemp()))
>>> url.startswith("sqlite:///") and url.endswith("riskgraph-state.sqlite")
True
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from api.server.state.audit_seal import HEAD_INFO, SEAL_INFO, AuditSeal, default_seal

__all__ = ["DEFAULT_STATE_DB_NAME", "StateDB", "resolve_state_db_url"]

log = logging.getLogger("riskgraph.state")

DEFAULT_STATE_DB_NAME = "riskgraph-state.sqlite"
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def resolve_state_db_url(value: str | None, workspace: str | os.PathLike[str] | None) -> str:
    """The state DB URL from ``--state-db``, else ``$RISKGRAPH_STATE_DB``, else a SQLite file
    ``riskgraph-state.sqlite`` in the workspace. A plain path means a SQLite file."""
    value = value or os.environ.get("RISKGRAPH_STATE_DB")
    if value and "://" in value:
        return value
    path = (
        Path(value) if value else Path(workspace or "riskgraph-workspace") / DEFAULT_STATE_DB_NAME
    )
    return f"sqlite:///{path.resolve()}"


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it)
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("riskgraph_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class _SQLiteWriteQueue:
    """Exclusive access for one SQLite file's writers: a thread lock, then ``flock`` on
    ``<database>-writelock`` (the kernel queues the waiting processes and wakes the next one at
    once). The lock file is opened per process, so a forked child never shares its parent's."""

    def __init__(self, database: str) -> None:
        self.path = f"{database}-writelock"
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def hold(self, wait: bool = True) -> Iterator[bool]:
        """This process's turn to write (yields True); with ``wait=False`` it yields False at
        once when another thread or process holds it."""
        if not self._threads.acquire(blocking=wait):
            yield False
            return
        try:
            if self._fd is None or self._pid != os.getpid():
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                self._pid = os.getpid()
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        with self._threads:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None


class StateDB:
    """The state database behind one URL, migrated to the newest revision on open.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL: ``sqlite:///path`` or ``postgresql+psycopg://user:pw@host:port/db``.
    migrate : bool
        Run the Alembic migrations up to ``head`` (default), as ``riskgraph db upgrade`` does.
    """

    def __init__(
        self, url: str, *, migrate: bool = True, pool_size: int = 20, seal: AuditSeal | None = None
    ) -> None:
        self.url = url
        self._seal = seal
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        self._write_queue: _SQLiteWriteQueue | None = None
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                self._write_queue = _SQLiteWriteQueue(str(Path(parsed.database).resolve()))
            self.engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 30},
                pool_size=pool_size, max_overflow=pool_size,
            )  # fmt: skip
            _sqlite_setup(self.engine)
        else:
            self.engine = create_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._write_engine = self.engine.execution_options(riskgraph_write=True)
        self._write_sessions = sessionmaker(bind=self._write_engine, expire_on_commit=False)
        if migrate:
            self.upgrade()

    def upgrade(self, revision: str = "head") -> None:
        """Apply the Alembic migrations up to ``revision``."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        # one migrator at a time (worker processes starting together); the next finds it done
        with self._writer_turn(), self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads (rolled back at the end)."""
        with self._sessions() as session:
            yield session

    def _writer_turn(self) -> Any:
        return self._write_queue.hold() if self._write_queue is not None else nullcontext()

    @property
    def seal(self) -> AuditSeal:
        """The audit trail's key and head log (``api.server.state.audit_seal``)."""
        return self._seal if self._seal is not None else default_seal()

    def _note_head(self, info: dict) -> None:
        """After a commit: the audit head it wrote goes to the head log outside the DB."""
        head = info.pop(HEAD_INFO, None)
        if head is not None:
            try:
                self.seal.note_head(*head)
            except OSError:  # the rows are committed; verify will report the log behind
                log.exception("writing the audit head log failed")

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A serialised write transaction: committed on success, rolled back on error."""
        with self._writer_turn(), self._write_sessions() as session:
            session.info[SEAL_INFO] = self.seal
            with session.begin():
                yield session
            self._note_head(session.info)

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """:meth:`write` without the ORM: a Core connection in a serialised transaction."""
        with self._writer_turn(), self._sealed_connection() as conn:
            yield conn

    @contextmanager
    def _sealed_connection(self) -> Iterator[Connection]:
        """A Core transaction on the write engine whose audit rows are sealed, noting the chain
        head it left once committed."""
        with self._write_engine.begin() as conn:
            info = conn.info  # the pooled DBAPI connection's: cleared of what we put there
            info[SEAL_INFO] = self.seal
            info.pop(HEAD_INFO, None)
            try:
                yield conn
            except BaseException:
                info.pop(HEAD_INFO, None)
                raise
            head = info.pop(HEAD_INFO, None)
        if head is not None:
            self._note_head({HEAD_INFO: head})

    @property
    def local_writes(self) -> bool:
        """Whether a write is local work (a SQLite file), not a round trip to a server."""
        return self.dialect == "sqlite"

    @contextmanager
    def try_write_connection(self) -> Iterator[Connection | None]:
        """:meth:`write_connection` if it is this process's turn now, else None at once (another
        writer holds the SQLite write lock): for callers that must not wait, an event loop."""
        turn = self._write_queue.hold(wait=False) if self._write_queue else nullcontext(True)
        with turn as mine:
            if not mine:
                yield None
                return
            with self._sealed_connection() as conn:
                yield conn

    def close(self) -> None:
        try:
            self.seal.flush()
        except OSError:
            log.exception("writing the audit head log failed")
        self.engine.dispose()
        if self._write_queue is not None:
            self._write_queue.close()
