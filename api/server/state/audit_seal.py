"""What keeps the audit trail honest against someone who can write the state DB: a key and a
head log, both outside the database.

* **The key** (``RISKGRAPH_AUDIT_KEY_FILE``, default ``$XDG_CONFIG_HOME/riskgraph/audit.key``,
  i.e. ``~/.config/riskgraph/audit.key``): 32 random bytes, hex, in a file of mode 0600 (its
  directory 0700) created on first use. Every row's hash is an HMAC-SHA256 under it, so a
  database writer who edits a row cannot recompute a chain that verifies. A key file readable
  by group or others is refused (as ssh does), and a missing key is never silently replaced
  once the trail holds keyed rows: writing and verifying stop with a clear error instead.
* **The head log** (``RISKGRAPH_AUDIT_HEAD_FILE``, default ``audit-head-<chain id>.log`` beside
  the key): every process appends the chain's head (sequence number, hash) after it commits
  audit rows, at most once per ``RISKGRAPH_AUDIT_HEAD_INTERVAL`` seconds (default 1) and when it
  closes. A database writer who deletes the newest rows and sets the head back to an older row
  (whose keyed hashes are genuine) is caught: the log names rows the database no longer holds.

Neither protects against someone who can also read the key or write the log: keep them where
the database's writers cannot reach (another account, ``chattr +a`` on the log, a host the DB
server does not mount). ``riskgraph audit verify`` checks both.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> seal = AuditSeal(d / "k" / "audit.key", head_interval=0)
>>> len(seal.key(create=True)), oct(seal.key_path.stat().st_mode & 0o777)
(32, '0o600')
>>> seal.note_head("c1", 5, "ab" * 32, 1); seal.heads("c1")
[(5, 'abababababababababababababababababababababababababababababababab', 1)]
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import stat
import threading
import time
import weakref
from pathlib import Path

from graph_models.errors import DataError

__all__ = [
    "HEAD_INFO",
    "SEAL_INFO",
    "AuditKeyError",
    "AuditSeal",
    "default_key_file",
    "default_seal",
]

#: ``session.info`` / ``connection.info`` keys: the seal a StateDB writes with, and the head a
#: transaction committed (noted in the head log by ``StateDB`` once the commit succeeded)
SEAL_INFO = "riskgraph_audit_seal"
HEAD_INFO = "riskgraph_audit_head"

KEY_ENV = "RISKGRAPH_AUDIT_KEY_FILE"
HEAD_ENV = "RISKGRAPH_AUDIT_HEAD_FILE"
INTERVAL_ENV = "RISKGRAPH_AUDIT_HEAD_INTERVAL"


class AuditKeyError(DataError):
    """The audit key is missing, unreadable or exposed."""

    def __init__(self, message: str) -> None:
        super().__init__("audit_key", message)


def default_key_file() -> Path:
    """``$RISKGRAPH_AUDIT_KEY_FILE``, else ``$XDG_CONFIG_HOME/riskgraph/audit.key`` (with
    ``~/.config`` when ``XDG_CONFIG_HOME`` is not set)."""
    given = os.environ.get(KEY_ENV)
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "riskgraph" / "audit.key"


class AuditSeal:
    """The audit key and the head log of one deployment (see the module docstring).

    Parameters
    ----------
    key_path : path
        The key file.
    head_path : path, optional
        The head log; by default ``audit-head-<chain id>.log`` beside the key (one per chain,
        so state DBs sharing a key keep separate logs).
    head_interval : float
        Seconds between two head lines of this process (0: a line per commit).
    """

    def __init__(
        self, key_path: str | Path, head_path: str | Path | None = None, head_interval: float = 1.0
    ) -> None:
        self.key_path = Path(key_path)
        self.head_path = Path(head_path) if head_path else None
        self.head_interval = head_interval
        self._key: bytes | None = None
        self._lock = threading.Lock()
        self._pending: tuple[str, int, str, int] | None = None
        self._last_write = 0.0
        self._timer: threading.Timer | None = None
        _OPEN_SEALS.add(self)

    # -- the key -----------------------------------------------------------------------------
    def key(self, create: bool = False) -> bytes:
        """The key; with ``create`` a new one is made if there is no key file yet."""
        if self._key is not None:
            return self._key
        with self._lock:
            if self._key is None:
                self._key = self._read_or_create(create)
        return self._key

    def has_key(self) -> bool:
        return self._key is not None or self.key_path.exists()

    def _read_or_create(self, create: bool) -> bytes:
        path = self.key_path
        if not path.exists():
            if not create:
                raise AuditKeyError(
                    f"audit key file {path} not found: the audit trail's HMAC chain cannot be "
                    f"checked without it (set {KEY_ENV} to where it is kept)"
                )
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first: use theirs
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_hex(32) + "\n")
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise AuditKeyError(
                f"audit key file {path} is open to other users (mode {oct(mode & 0o777)}): "
                f"chmod 600 {path}"
            )
        text = path.read_text("ascii").strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) < 32:
            raise AuditKeyError(f"audit key file {path} does not hold a 64-hex-digit key")
        return key

    # -- the head log ------------------------------------------------------------------------
    def head_file(self, chain_id: str) -> Path:
        if self.head_path is not None:
            return self.head_path
        return self.key_path.parent / f"audit-head-{chain_id}.log"

    def note_head(self, chain_id: str, seq: int, hash_: str, keyed_from: int) -> None:
        """Record a committed head: written now, or within ``head_interval`` seconds."""
        with self._lock:
            if (
                self._pending is not None
                and self._pending[1] > seq
                and self._pending[0] == chain_id
            ):
                return  # an older head committed late: the newer one covers it
            self._pending = (chain_id, seq, hash_, keyed_from)
            wait = self._last_write + self.head_interval - time.monotonic()
            if wait > 0:
                if self._timer is None:
                    self._timer = threading.Timer(wait, self.flush)
                    self._timer.daemon = True
                    self._timer.start()
                return
        self.flush()

    def flush(self) -> None:
        """Write the pending head line, if any."""
        with self._lock:
            pending, self._pending = self._pending, None
            self._timer = None
            if pending is None:
                return
            chain_id, seq, hash_, keyed_from = pending
            path = self.head_file(chain_id)
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            line = f"{seq} {hash_} {keyed_from} {int(time.time())}\n".encode("ascii")
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)  # one write of a short line: atomic with O_APPEND
            finally:
                os.close(fd)
            self._last_write = time.monotonic()

    def heads(self, chain_id: str) -> list[tuple[int, str, int]] | None:
        """Every head line of the chain ``(seq, hash, keyed_from)``; None without a log."""
        path = self.head_file(chain_id)
        if not path.exists():
            return None
        out = []
        for raw in path.read_text("ascii").splitlines():
            parts = raw.split()
            if len(parts) >= 3 and parts[0].isdigit() and parts[2].isdigit():
                out.append((int(parts[0]), parts[1], int(parts[2])))
        return out


_OPEN_SEALS: weakref.WeakSet[AuditSeal] = weakref.WeakSet()
_DEFAULT: dict[tuple[str, str, str], AuditSeal] = {}
_DEFAULT_LOCK = threading.Lock()


def default_seal() -> AuditSeal:
    """The seal the settings describe (one per distinct setting, shared by the process)."""
    key = default_key_file()
    head = os.environ.get(HEAD_ENV, "")
    interval = os.environ.get(INTERVAL_ENV, "1")
    with _DEFAULT_LOCK:
        seal = _DEFAULT.get((str(key), head, interval))
        if seal is None:
            try:
                seconds = max(0.0, float(interval))
            except ValueError:
                raise DataError(
                    "bad_setting", f"{INTERVAL_ENV} must be a number of seconds, not {interval!r}"
                ) from None
            seal = _DEFAULT[(str(key), head, interval)] = AuditSeal(key, head or None, seconds)
    return seal


@atexit.register
def _flush_all() -> None:
    for seal in list(_OPEN_SEALS):
        with contextlib.suppress(OSError):  # at exit: nothing left to tell
            seal.flush()
