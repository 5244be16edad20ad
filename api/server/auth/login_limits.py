"""Failed sign-ins, counted per user name and per client address, in the state DB.

A sign-in is a presented API token: a bearer token the server has not already accepted in the
last few seconds, or the web sign-in form. Its user name is the token's selector (the part
before the secret, ``rg_<selector>_...``), whether or not such a user exists, so a limit reached
says nothing about which names exist. A malformed token counts for its client address only.

After ``per_user`` failures of one name, or ``per_client`` failures from one address, within
``window`` seconds, every sign-in of that name or from that address is refused with 429 (and a
``Retry-After``) until the window ends -- a right token as well, or the guessing would simply
go on. A success clears its name's count (not its address's: one valid token must not buy an
address a fresh budget). The counts live in the state DB (``login_failures``), so every worker
process of ``riskgraph serve --workers N`` shares them.

Settings: ``RISKGRAPH_LOGIN_FAILURES_PER_USER`` (default 10), ``..._PER_CLIENT`` (default 100;
behind a reverse proxy every user has the proxy's address, so keep it generous or 0 = off),
``RISKGRAPH_LOGIN_WINDOW_SECONDS`` (default 900).

Examples
--------
>>> import tempfile
>>> from api.server.state.db import StateDB
>>> limits = LoginLimits(StateDB(f"sqlite:///{tempfile.mkdtemp()}/s.sqlite"), per_user=2)
>>> keys = login_keys("rg_0123456789ab_" + "A" * 43, "10.0.0.1")
>>> limits.blocked(keys) is None
True
>>> limits.failed(keys); limits.failed(keys); limits.blocked(keys) > 0
True
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select

from api.server.state.models import LoginFailure

__all__ = ["LoginLimits", "login_keys"]


def login_keys(token: str | None, client: str | None) -> list[str]:
    """The counters a sign-in with ``token`` from ``client`` counts against."""
    keys = []
    parts = (token or "").strip().split("_", 2)
    if len(parts) == 3 and parts[0] == "rg" and len(parts[1]) == 12:
        keys.append(f"user:{parts[1][:12]}")
    keys.append(f"client:{(client or '-')[:150]}")
    return keys


def _setting(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None


class LoginLimits:
    """Counts failed sign-ins and says when a name or an address must wait (module docstring).

    Parameters
    ----------
    db : StateDB
    per_user, per_client : int
        Failures allowed per window (0 = no limit of that kind).
    window : float
        Seconds.
    """

    def __init__(
        self,
        db: Any,
        per_user: int | None = None,
        per_client: int | None = None,
        window: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.per_user = int(
            per_user if per_user is not None else _setting("RISKGRAPH_LOGIN_FAILURES_PER_USER", 10)
        )
        self.per_client = int(
            per_client
            if per_client is not None
            else _setting("RISKGRAPH_LOGIN_FAILURES_PER_CLIENT", 100)
        )
        self.window = float(
            window if window is not None else _setting("RISKGRAPH_LOGIN_WINDOW_SECONDS", 900)
        )
        self.clock = clock

    def _limit(self, key: str) -> int:
        return self.per_user if key.startswith("user:") else self.per_client

    def check(self, keys: list[str]) -> tuple[int | None, list[str]]:
        """``(seconds to wait or None, the keys that have failures counted)``: a wait when
        one of ``keys`` has used up its failures in the current window."""
        keys = [k for k in keys if self._limit(k) > 0]
        if not keys:
            return None, []
        now = self.clock()
        with self.db.read() as session:
            rows = session.scalars(select(LoginFailure).where(LoginFailure.key.in_(keys))).all()
        waits = [
            r.window_start + self.window - now
            for r in rows
            if r.failures >= self._limit(r.key) and now - r.window_start < self.window
        ]
        wait = max(1, math.ceil(max(waits))) if waits else None
        return wait, [r.key for r in rows]

    def blocked(self, keys: list[str]) -> int | None:
        """Seconds to wait when one of ``keys`` has used up its failures, else None."""
        return self.check(keys)[0]

    def failed(self, keys: list[str]) -> None:
        """Count one failed sign-in against each of ``keys``."""
        keys = [k for k in keys if self._limit(k) > 0]
        if not keys:
            return
        now = self.clock()
        with self.db.write() as session:
            rows = {
                r.key: r
                for r in session.scalars(
                    select(LoginFailure).where(LoginFailure.key.in_(keys)).with_for_update()
                )
            }
            for key in keys:
                row = rows.get(key)
                if row is None:
                    session.add(LoginFailure(key=key, window_start=now, failures=1))
                elif now - row.window_start >= self.window:
                    row.window_start, row.failures = now, 1
                else:
                    row.failures += 1
            # forget windows long over, a few at a time (the table stays small)
            stale = select(LoginFailure.key).where(LoginFailure.window_start < now - self.window)
            old = session.scalars(stale.limit(100)).all()
            if old:
                session.execute(delete(LoginFailure).where(LoginFailure.key.in_(old)))

    def succeeded(self, keys: list[str]) -> None:
        """A right token: its name's count starts afresh (its address's does not). ``keys``
        as :meth:`check` returned them (those with failures counted)."""
        users = [k for k in keys if k.startswith("user:")]
        if users:
            with self.db.write() as session:
                session.execute(delete(LoginFailure).where(LoginFailure.key.in_(users)))
