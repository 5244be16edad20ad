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

Sessions live in the state DB (table ``web_sessions``, :class:`SessionStore`), so every API
worker process behind one socket shares them and a restart signs nobody out. Only the SHA-256 of
a session id is stored: a copy of the table does not let anyone present a session cookie. A
request writes ``last_seen`` only when the stored value is more than ``touch_interval`` seconds
old (so a busy page costs a DB write a minute, not one per request); the idle timeout is judged
on that stored value, so an idle session ends at most ``touch_interval`` seconds early, never
late.

Examples
--------
>>> import tempfile
>>> db = StateDB(f"sqlite:///{tempfile.mkdtemp()}/s.sqlite")
>>> from api.server.auth.principals import create_user
>>> with db.write() as s:
...     _ = create_user(s, "alice", "admin", [])
...     uid = s.scalars(select(User.id).where(User.name == "alice")).one()
>>> store = SessionStore(db)
>>> sid, sess = store.create(user_id=uid, token_hash="ab" * 32)
>>> store.get(sid).user_id == uid, store.get("not-a-session"), len(store)
(True, None, 1)
>>> store.delete(sid); store.get(sid) is None
True
>>> db.close()
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
from sqlalchemy import ColumnElement, delete, func, not_, or_, select, update
from sqlalchemy.orm import Session

from api.server.auth.principals import Principal, authenticate, parse_token, principal_of
from api.server.errors import ApiError
from api.server.state.db import StateDB
from api.server.state.models import User, WebSessionRecord

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
    """Sessions by the SHA-256 of their id, in the state DB (shared by every worker process).

    Parameters
    ----------
    db : StateDB
        The state DB holding the ``web_sessions`` table.
    idle_timeout, absolute_timeout : float
        Seconds (defaults :data:`IDLE_TIMEOUT`, :data:`ABSOLUTE_TIMEOUT`).
    clock : callable
        Epoch seconds (default :func:`time.time`; every process must agree on it, so not a
        monotonic clock). Tests pass a fake clock.
    touch_interval : float
        :meth:`get` restarts the idle timer, but writes ``last_seen`` only when the stored value
        is more than this many seconds old. The idle check uses the stored value, so a session
        ends between ``idle_timeout - touch_interval`` and ``idle_timeout`` seconds after its
        last request: at most ``touch_interval`` early, never late. Must be below
        ``idle_timeout``.
    """

    def __init__(
        self,
        db: StateDB,
        idle_timeout: float = IDLE_TIMEOUT,
        absolute_timeout: float = ABSOLUTE_TIMEOUT,
        clock: Callable[[], float] = time.time,
        touch_interval: float = 60.0,
    ) -> None:
        if not 0 <= touch_interval < idle_timeout:
            raise ValueError(
                f"touch_interval must be at least 0 and below idle_timeout ({idle_timeout} s), "
                f"not {touch_interval}"
            )
        self.db = db
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self.clock = clock
        self.touch_interval = touch_interval

    def _expired(self, sess: WebSession, now: float) -> bool:
        return (
            now - sess.last_seen > self.idle_timeout or now - sess.created > self.absolute_timeout
        )

    def _expired_where(self, now: float) -> ColumnElement[bool]:
        """SQL for :meth:`_expired` (rows idle too long or signed in too long ago)."""
        return or_(
            WebSessionRecord.last_seen < now - self.idle_timeout,
            WebSessionRecord.created < now - self.absolute_timeout,
        )

    def create(self, user_id: int, token_hash: str) -> tuple[str, WebSession]:
        """A new session; returns ``(session id for the cookie, session)``.

        Expired sessions of every user are deleted in the same transaction, so the table does
        not grow without bound.
        """
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        sess = WebSession(user_id, token_hash, new_csrf_token(), now, now)
        with self.db.write() as s:
            s.execute(delete(WebSessionRecord).where(self._expired_where(now)))
            s.add(
                WebSessionRecord(
                    id_hash=_digest(session_id), user_id=user_id, token_hash=token_hash,
                    csrf_token=sess.csrf_token, created=now, last_seen=now,
                )
            )  # fmt: skip
        return session_id, sess

    def get(self, session_id: str) -> WebSession | None:
        """The live session behind a cookie value (its idle timer restarts), else None.

        An expired session is deleted. ``last_seen`` is written only when the stored value is
        more than ``touch_interval`` seconds old (see the class docstring).
        """
        found = self._lookup(session_id, with_principal=False)
        return found[0] if found is not None else None

    def get_with_principal(self, session_id: str) -> tuple[WebSession, Principal | None] | None:
        """Like :meth:`get`, and the session's user as a principal (None when the user is
        disabled, deleted or has a re-issued token), read in the same transaction."""
        return self._lookup(session_id, with_principal=True)

    def _lookup(
        self, session_id: str, *, with_principal: bool
    ) -> tuple[WebSession, Principal | None] | None:
        key = _digest(session_id)
        now = self.clock()
        principal = None
        with self.db.read() as s:
            row = s.get(WebSessionRecord, key)
            if row is None:
                return None
            sess = WebSession(
                row.user_id, row.token_hash, row.csrf_token, row.created, row.last_seen
            )
            expired = self._expired(sess, now)
            if with_principal and not expired:
                principal = principal_for_user(s, sess.user_id, sess.token_hash)
        if expired:
            with self.db.write() as s:
                # only if still expired: another worker may have seen a request meanwhile
                s.execute(
                    delete(WebSessionRecord).where(
                        WebSessionRecord.id_hash == key, self._expired_where(now)
                    )
                )
            return None
        if now - sess.last_seen > self.touch_interval and not (
            with_principal and principal is None
        ):
            with self.db.write() as s:
                # never move last_seen back (a worker whose clock lags, a concurrent touch)
                s.execute(
                    update(WebSessionRecord)
                    .where(WebSessionRecord.id_hash == key, WebSessionRecord.last_seen < now)
                    .values(last_seen=now)
                )
            sess.last_seen = now
        return sess, principal

    def delete(self, session_id: str) -> None:
        """End a session (nothing happens for an unknown id)."""
        with self.db.write() as s:
            s.execute(
                delete(WebSessionRecord).where(WebSessionRecord.id_hash == _digest(session_id))
            )

    def __len__(self) -> int:
        """The number of live (unexpired) sessions of all users."""
        now = self.clock()
        live = select(func.count()).select_from(WebSessionRecord)
        with self.db.read() as s:
            return s.scalar(live.where(not_(self._expired_where(now)))) or 0

    def __bool__(self) -> bool:
        # a store is always there, even with no sessions (and truth must not query the DB)
        return True


_STORE_LOCK = threading.Lock()


def session_store(request: Request) -> SessionStore:
    """The app's session store on its state DB (created on first use, one per app)."""
    state = request.app.state
    store = getattr(state, "web_sessions", None)
    if store is None:
        with _STORE_LOCK:
            store = getattr(state, "web_sessions", None)
            if store is None:
                store = state.web_sessions = SessionStore(state.services.db)
    return store


def principal_for_user(session: Session, user_id: int, token_hash: str) -> Principal | None:
    """The principal of an enabled, unexpired user whose token is still ``token_hash``."""
    return principal_of(session.get(User, user_id), token_hash)


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
    403 when a state-changing request lacks the session's CSRF token. ``db`` is the app's state
    DB, which also holds its sessions; the call blocks on it, so make it from a worker thread.
    """
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    store = session_store(request)
    # the session row and its user in one read (a blocking call: this runs in a worker thread)
    found = store.get_with_principal(session_id)
    if found is None:
        raise ApiError(401, "unauthorized", "session expired; sign in again")
    sess, principal = found
    if request.method in UNSAFE_METHODS:
        check_csrf(request, sess.csrf_token, request.headers.get(CSRF_HEADER))
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
