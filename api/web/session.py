"""Browser sessions: sign in once with an API token, then a session cookie.

The token is exchanged for a random session id (32 bytes) kept in an ``HttpOnly``,
``SameSite=Strict`` cookie (``Secure`` over HTTPS); the server maps the id (stored only as its
SHA-256) to the user. Every request re-reads the user from the state DB, so disabling a user or
re-issuing their token ends their sessions at once. Sessions end after :data:`IDLE_TIMEOUT`
without a request and :data:`ABSOLUTE_TIMEOUT` after sign-in.

CSRF: each session has its own random CSRF token, handed to the page (a ``<meta>`` tag and the
readable ``rg_csrf`` cookie, the double-submit pair). Every state-changing request
(POST/PUT/PATCH/DELETE) authenticated by the cookie must send it back in the ``X-CSRF-Token``
header, and it is compared with the server's copy, not just with the cookie; a cross-site
``Origin`` is refused as well. The sign-in form itself carries a pre-session token (cookie +
hidden field) so a third-party page cannot sign a browser into someone else's account.

Sessions live in process memory (:class:`SessionStore`): one API process per deployment, and a
restart signs everyone out.

Examples
--------
>>> store = SessionStore()
>>> sid, sess = store.create(user_id=7, token_hash="ab" * 32)
>>> store.get(sid).user_id, store.get("not-a-session")
(7, None)
>>> store.delete(sid); store.get(sid) is None
True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request, Response
from sqlalchemy.orm import Session

from api.auth import ROLES, Principal, authenticate, parse_token
from api.errors import ApiError
from api.scopes import NATIONAL, RegionScope
from api.state.db import StateDB
from api.state.models import User

__all__ = [
    "ABSOLUTE_TIMEOUT",
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "IDLE_TIMEOUT",
    "SESSION_COOKIE",
    "UNSAFE_METHODS",
    "SessionStore",
    "WebSession",
    "check_csrf",
    "clear_session_cookies",
    "new_csrf_token",
    "principal_for_user",
    "session_principal",
    "session_store",
    "set_session_cookies",
    "sign_in",
    "sign_out",
]

SESSION_COOKIE = "rg_session"
CSRF_COOKIE = "rg_csrf"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Seconds without a request after which a session ends.
IDLE_TIMEOUT = 30 * 60
#: Seconds after sign-in after which a session ends whatever its use.
ABSOLUTE_TIMEOUT = 8 * 60 * 60


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def new_csrf_token() -> str:
    """A fresh random token (32 bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


@dataclass
class WebSession:
    """One signed-in browser."""

    user_id: int
    #: The user's token hash at sign-in: a re-issued token ends the session.
    token_hash: str
    csrf_token: str
    created: float
    last_seen: float


class SessionStore:
    """Sessions by the SHA-256 of their id, in memory, thread-safe.

    Parameters
    ----------
    idle_timeout, absolute_timeout : float
        Seconds (defaults :data:`IDLE_TIMEOUT`, :data:`ABSOLUTE_TIMEOUT`).
    clock : callable
        Monotonic seconds (tests pass a fake clock).
    """

    def __init__(
        self,
        idle_timeout: float = IDLE_TIMEOUT,
        absolute_timeout: float = ABSOLUTE_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, WebSession] = {}

    def _expired(self, sess: WebSession, now: float) -> bool:
        return (
            now - sess.last_seen > self.idle_timeout or now - sess.created > self.absolute_timeout
        )

    def create(self, user_id: int, token_hash: str) -> tuple[str, WebSession]:
        """A new session; returns ``(session id for the cookie, session)``."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        sess = WebSession(user_id, token_hash, new_csrf_token(), now, now)
        with self._lock:
            # sweep expired sessions now and then so the dict does not grow without bound
            for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
                del self._sessions[key]
            self._sessions[_digest(session_id)] = sess
        return session_id, sess

    def get(self, session_id: str) -> WebSession | None:
        """The live session behind a cookie value (its idle timer restarts), else None."""
        key = _digest(session_id)
        now = self.clock()
        with self._lock:
            sess = self._sessions.get(key)
            if sess is None:
                return None
            if self._expired(sess, now):
                del self._sessions[key]
                return None
            sess.last_seen = now
            return sess

    def delete(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(_digest(session_id), None)

    def __len__(self) -> int:
        return len(self._sessions)


_STORE_LOCK = threading.Lock()


def session_store(request: Request) -> SessionStore:
    """The app's session store (created on first use, one per app)."""
    state = request.app.state
    store = getattr(state, "web_sessions", None)
    if store is None:
        with _STORE_LOCK:
            store = getattr(state, "web_sessions", None)
            if store is None:
                store = state.web_sessions = SessionStore()
    return store


def principal_for_user(session: Session, user_id: int, token_hash: str) -> Principal | None:
    """The principal of an enabled user whose token is still ``token_hash``, else None."""
    user = session.get(User, user_id)
    if user is None or user.disabled or not hmac.compare_digest(user.token_hash, token_hash):
        return None
    policy = ROLES[user.role]
    codes = [NATIONAL] if policy.admin else [r.region_code for r in user.regions]
    return Principal(user.id, user.name, policy, RegionScope(codes))


def _same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    parts = urlsplit(origin)
    return parts.scheme == request.url.scheme and parts.netloc == request.url.netloc


def check_csrf(request: Request, expected: str, given: str | None) -> None:
    """403 unless ``given`` equals the expected CSRF token and the origin is this site."""
    if not _same_origin(request):
        raise ApiError(403, "csrf_failed", "cross-site request refused")
    if not given or not hmac.compare_digest(given, expected):
        raise ApiError(403, "csrf_failed", f"missing or wrong {CSRF_HEADER} header")


def session_principal(request: Request, db: StateDB) -> Principal | None:
    """The user of the session cookie, or None when the request carries no session cookie.

    Raises 401 for an unknown or expired session (or a disabled user, a re-issued token) and
    403 when a state-changing request lacks the session's CSRF token.
    """
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    store = session_store(request)
    sess = store.get(session_id)
    if sess is None:
        raise ApiError(401, "unauthorized", "session expired; sign in again")
    if request.method in UNSAFE_METHODS:
        check_csrf(request, sess.csrf_token, request.headers.get(CSRF_HEADER))
    with db.read() as s:
        principal = principal_for_user(s, sess.user_id, sess.token_hash)
    if principal is None:
        store.delete(session_id)
        raise ApiError(401, "unauthorized", "session no longer valid; sign in again")
    request.state.principal = principal
    request.state.web_session = sess
    return principal


def sign_in(request: Request, db: StateDB, token: str) -> tuple[str, WebSession, Principal] | None:
    """Exchange an API token for a new session (an old session cookie is ended first)."""
    with db.read() as s:
        principal = authenticate(s, token.strip())
    parsed = parse_token(token.strip())
    if principal is None or parsed is None:
        return None
    store = session_store(request)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        store.delete(old)
    session_id, sess = store.create(principal.user_id, parsed[1])
    return session_id, sess, principal


def sign_out(request: Request) -> None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        session_store(request).delete(session_id)


def set_session_cookies(
    response: Response, request: Request, session_id: str | None, csrf_token: str
) -> None:
    """The session cookie (HttpOnly) and the CSRF cookie the page's script may read."""
    secure = request.url.scheme == "https"
    if session_id is not None:
        response.set_cookie(
            SESSION_COOKIE, session_id, httponly=True, samesite="strict", secure=secure, path="/"
        )
    response.set_cookie(
        CSRF_COOKIE, csrf_token, httponly=False, samesite="strict", secure=secure, path="/"
    )


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="strict")
