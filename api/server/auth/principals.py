"""Who is asking: API tokens and the authenticated principal (a user, their role and scopes).

Roles and what each may see are in :mod:`api.access.roles`.

Tokens are ``rg_<selector>_<secret>``: the selector (12 hex chars) finds the user row, the
secret (32 random bytes, base64url) is never stored -- only its SHA-256, compared in constant
time.

Examples
--------
>>> token, selector, digest = new_token()
>>> parse_token(token) == (selector, digest)
True
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.access.roles import ROLES, RolePolicy
from api.access.scopes import NATIONAL, RegionScope, is_region_code
from api.server.state.models import User, UserRegion
from graph_models.errors import DataError

__all__ = [
    "Principal",
    "PrincipalCache",
    "authenticate",
    "create_user",
    "new_token",
    "parse_token",
    "principal_of",
]


@dataclass(frozen=True)
class Principal:
    """The authenticated user of a request."""

    user_id: int
    name: str
    policy: RolePolicy
    scope: RegionScope
    #: when the token stops working (epoch seconds), None for never
    expires_at: float | None = None

    @property
    def role(self) -> str:
        return self.policy.name

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and (now or time.time()) >= self.expires_at


def principal_of(user: User | None, token_hash: str | None = None) -> Principal | None:
    """The principal of an enabled, unexpired user (whose token is still ``token_hash``, when
    given), else None. The one place that decides whether a user row may act."""
    if user is None or user.disabled:
        return None
    if token_hash is not None and not hmac.compare_digest(user.token_hash, token_hash):
        return None
    expires = user.expires_at.timestamp() if user.expires_at is not None else None
    if expires is not None and time.time() >= expires:
        return None
    policy = ROLES[user.role]
    codes = [NATIONAL] if policy.admin else [r.region_code for r in user.regions]
    return Principal(user.id, user.name, policy, RegionScope(codes), expires)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def new_token() -> tuple[str, str, str]:
    """A fresh token: ``(token, selector, sha256 hex of the secret bytes)``."""
    selector = secrets.token_hex(6)
    secret = secrets.token_bytes(32)
    return f"rg_{selector}_{_b64(secret)}", selector, hashlib.sha256(secret).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    """``(selector, sha256 hex of the secret)`` of a well-formed token, else None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "rg" or len(parts[1]) != 12 or len(parts[2]) != 43:
        return None
    try:
        secret = base64.urlsafe_b64decode(parts[2] + "=")
    except (binascii.Error, ValueError):
        return None
    if len(secret) != 32:
        return None
    return parts[1], hashlib.sha256(secret).hexdigest()


def authenticate(session: Session, token: str) -> Principal | None:
    """The principal a bearer token belongs to, or None (unknown, malformed, disabled)."""
    parsed = parse_token(token)
    if parsed is None:
        return None
    selector, digest = parsed
    user = session.scalars(select(User).where(User.token_selector == selector)).one_or_none()
    if user is None:
        hmac.compare_digest(digest, digest)  # the same work as for a known selector
        return None
    return principal_of(user, digest)


class PrincipalCache:
    """Tokens authenticated in the last ``ttl`` seconds, so a burst of requests costs one lookup.

    Only successes are kept (an unknown token always reaches the database), keyed by the
    token's selector and SHA-256 digest (what the database holds anyway, never the token).
    A disabled user or a re-issued token is refused at the latest ``ttl`` seconds later;
    ``ttl=0`` checks the database on every request.

    Examples
    --------
    >>> cache = PrincipalCache(ttl=0)
    >>> cache.authenticate(None, "not a token") is None
    True
    """

    def __init__(self, ttl: float = 5.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._hits: dict[tuple[str, str], tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def cached(self, token: str) -> Principal | None:
        """The principal if ``token`` was authenticated less than ``ttl`` seconds ago."""
        if self.ttl <= 0:
            return None
        parsed = parse_token(token)
        if parsed is None:
            return None
        with self._lock:
            hit = self._hits.get(parsed)
        if hit is None or hit[1] <= time.monotonic() or hit[0].expired():
            return None
        return hit[0]

    def authenticate(self, db: Any, token: str) -> Principal | None:
        """:func:`authenticate` against ``db`` (a ``StateDB``), through the cache."""
        parsed = parse_token(token)
        if parsed is None:
            return None
        hit = self.cached(token)
        if hit is not None:
            return hit
        now = time.monotonic()
        with db.read() as session:
            principal = authenticate(session, token)
        if principal is not None and self.ttl > 0:
            with self._lock:
                if len(self._hits) >= self.max_entries:
                    self._hits = {k: v for k, v in self._hits.items() if v[1] > now}
                    if len(self._hits) >= self.max_entries:
                        self._hits.clear()
                self._hits[parsed] = (principal, now + self.ttl)
        return principal

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


def create_user(
    session: Session,
    name: str,
    role: str,
    regions: list[str],
    expires_in: dt.timedelta | None = None,
) -> str:
    """Add a user and return their token (shown once; only its hash is kept).

    Every role but admin needs at least one region (``000000`` for the whole country). With
    ``expires_in`` the token is refused once that much time has passed.
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise DataError("bad_user", "a user name is 1 to 100 characters")
    if role not in ROLES:
        raise DataError("bad_role", f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    bad = [r for r in regions if not is_region_code(r)]
    if bad:
        raise DataError("bad_region", f"region codes are 6 digits: {', '.join(bad)}")
    if not regions and not ROLES[role].admin:
        raise DataError(
            "missing_region",
            f"role {role} needs --region CODE (a code covers everything under it; "
            f"{NATIONAL} is the whole country)",
        )
    if session.scalars(select(User).where(User.name == name)).first() is not None:
        raise DataError("duplicate_user", f"user {name!r} exists already")
    token, selector, digest = new_token()
    if expires_in is not None and expires_in.total_seconds() <= 0:
        raise DataError("bad_expiry", "a token's lifetime must be positive")
    expires_at = dt.datetime.now(dt.UTC) + expires_in if expires_in is not None else None
    user = User(
        name=name, role=role, token_selector=selector, token_hash=digest, disabled=False,
        expires_at=expires_at,
    )  # fmt: skip
    user.regions = [UserRegion(region_code=r) for r in sorted(set(regions))]
    session.add(user)
    session.flush()
    return token
