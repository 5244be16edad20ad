"""Refused requests go to the audit trail too: probing another county's entities, opening
``/audit`` as a non-admin, guessing tokens all leave a trace.

:class:`DenialAuditMiddleware` watches every response of the API (``/api/v1/...``) and of the
web pages (``/web/...``, not their static files): a 401, 403 or 404 is written to the audit
trail (action ``denied``: who -- the user, or ``anonymous`` and the client address --, the
method and path, the status and error code) before the response leaves, so nothing is answered
unaudited.

A flood of denials must not fill the state DB, so they are rate-limited per process
(:class:`DenialLimiter`): at most ``per_key`` rows per minute for one user (or, unauthenticated,
one client address), and ``total`` rows per minute for everyone; denials beyond that are
counted, and the count is written with the key's next row after the minute, or in a
``denials_suppressed`` row when the minute ends without one (checked on the next denial of
anyone, and at shutdown). With N worker processes the bound is N times as high. Settings:
``RISKGRAPH_DENIAL_AUDIT_PER_MINUTE`` (default 30) and ``RISKGRAPH_DENIAL_AUDIT_MAX_PER_MINUTE``
(default 600).

A Cypher request is audited whatever its outcome (``api.server.routes.graph``); one whose body
does not even validate (422) is written here, as ``cypher_failed`` with outcome ``invalid``.

Examples
--------
>>> limiter = DenialLimiter(per_key=2, total=100, clock=lambda: 0.0)
>>> [limiter.admit("eve")[0] for _ in range(4)]
[True, True, False, False]
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DenialAuditMiddleware", "DenialLimiter", "drain_denials", "limiter_from_settings"]

log = logging.getLogger("riskgraph.api")

DENIED = frozenset({401, 403, 404})
WINDOW_SECONDS = 60.0


class DenialLimiter:
    """At most ``per_key`` audit rows per key and ``total`` overall per ``window`` seconds.

    :meth:`admit` says whether to write this denial, with how many of the key's denials were
    suppressed in its previous window; :meth:`expired` hands back the keys whose window ended
    with suppressed denials (to write as one row each).
    """

    def __init__(
        self,
        per_key: int = 30,
        total: int = 600,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.per_key, self.total, self.window, self.clock = per_key, total, window, clock
        self.max_keys = max_keys
        self._lock = threading.Lock()
        #: key -> [window start, rows written, denials suppressed]
        self._keys: dict[str, list[float]] = {}
        self._total_start = clock()
        self._total_rows = 0

    def admit(self, key: str) -> tuple[bool, int]:
        """``(write a row?, suppressed denials of this key to report with it)``."""
        now = self.clock()
        with self._lock:
            if now - self._total_start >= self.window:
                self._total_start, self._total_rows = now, 0
            entry = self._keys.get(key)
            carried = 0
            if entry is None or now - entry[0] >= self.window:
                carried = int(entry[2]) if entry is not None else 0
                if len(self._keys) >= self.max_keys:
                    self._prune(now)
                entry = self._keys[key] = [now, 0, 0]
            if entry[1] < self.per_key and self._total_rows < self.total:
                entry[1] += 1
                self._total_rows += 1
                return True, carried
            entry[2] += 1 + carried  # nothing is lost: carried over to the next row
            return False, 0

    def expired(self, everything: bool = False) -> list[tuple[str, int]]:
        """Keys whose window has ended (all of them with ``everything``) with denials
        suppressed: ``(key, count)``, each handed out once."""
        now = self.clock()
        out = []
        with self._lock:
            for key, entry in list(self._keys.items()):
                if (everything or now - entry[0] >= self.window) and entry[2]:
                    out.append((key, int(entry[2])))
                    entry[2] = 0
        return out

    def _prune(self, now: float) -> None:
        for key, entry in list(self._keys.items()):
            if now - entry[0] >= self.window and not entry[2]:
                del self._keys[key]


def _setting(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return max(0, int(raw))
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None


def _audited_path(path: str) -> bool:
    if path.startswith("/api/v1/"):
        return path != "/api/v1/healthz"
    return path.startswith("/web/") and not path.startswith("/web/static/")


class DenialAuditMiddleware:
    """Write an audit row for every 401/403/404 of the API and the web pages (rate-limited:
    see the module docstring), and for a Cypher request refused as invalid (422)."""

    def __init__(self, app: ASGIApp, limiter: DenialLimiter | None = None) -> None:
        self.app = app
        self.limiter = limiter or limiter_from_settings()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _audited_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return

        async def audited_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                try:
                    await self._audit(scope, status)
                except Exception:  # the response must not be sent unaudited
                    log.exception("auditing a denied request failed")
                    message = {
                        "type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"application/json")],
                    }  # fmt: skip
                    await send(message)
                    await send({"type": "http.response.body", "body": b'{"error": {"code": '
                                b'"unavailable", "message": "audit trail unavailable", '
                                b'"request_id": ""}}'})  # fmt: skip
                    raise
            await send(message)

        await self.app(scope, receive, audited_send)

    async def _audit(self, scope: Scope, status: int) -> None:
        state = scope.get("state") or {}
        path = scope.get("path", "")
        principal = state.get("principal")
        cypher = path == "/api/v1/cypher" and not state.get("cypher_audited")
        if status == 422 and cypher and principal is not None:
            await self._write(scope, principal, "cypher_failed", {"outcome": "invalid"})
            return
        if status not in DENIED or (path == "/api/v1/cypher" and state.get("cypher_audited")):
            return
        client = (scope.get("client") or ("", 0))[0]
        key = f"user:{principal.name}" if principal is not None else f"client:{client}"
        write, carried = self.limiter.admit(key)
        for other, count in self.limiter.expired():
            if other != key:
                await self._write(scope, None, "denials_suppressed", {"key": other, "count": count})
        if not write:
            return
        detail: dict[str, Any] = {"status": status, "client": client}
        query = scope.get("query_string", b"").decode("latin-1")
        if query:
            detail["query"] = query[:500]
        if carried:
            detail["suppressed_before"] = carried
        await self._write(scope, principal, "denied", detail)

    async def _write(self, scope: Scope, principal: Any, action: str, detail: dict) -> None:
        services = scope["app"].state.services
        state = scope.get("state") or {}
        await services.audit_log.append_async(
            actor=principal.name if principal is not None else "anonymous",
            role=principal.role if principal is not None else "none",
            action=action,
            resource=f"{scope.get('method', '')} {scope.get('path', '')}",
            detail=detail,
            request_id=str(state.get("request_id", "")),
        )


def limiter_from_settings() -> DenialLimiter:
    """A limiter with ``RISKGRAPH_DENIAL_AUDIT_PER_MINUTE`` / ``..._MAX_PER_MINUTE``."""
    return DenialLimiter(
        per_key=_setting("RISKGRAPH_DENIAL_AUDIT_PER_MINUTE", 30),
        total=_setting("RISKGRAPH_DENIAL_AUDIT_MAX_PER_MINUTE", 600),
    )


def drain_denials(limiter: DenialLimiter, audit_log: Any) -> None:
    """Write the suppressed counts still pending (at shutdown)."""
    for key, count in limiter.expired(everything=True):
        audit_log.append(
            actor="anonymous", role="none", action="denials_suppressed",
            resource="-", detail={"key": key, "count": count},
        )  # fmt: skip
