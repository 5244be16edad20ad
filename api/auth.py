"""Who may do what: roles, API tokens, the authenticated principal.

Roles (the ``roles`` table mirrors :data:`ROLES`):

==============  ==================  =====================  =========  ======  ========
role            flag families       graph labels           personal   Cypher  audit,
                                                           clearance          scans
==============  ==================  =====================  =========  ======  ========
debt_analyst    debt, guarantee,    Region, GovUnit,       no         no      no
                ownership           Enterprise, Loan,
                                    Bond, Project, Person
aid_inspector   aid                 aid data + GovUnit,    yes        no      no
                                    Enterprise, Region
investigator    all                 all                    yes        yes     no
admin           all                 all                    yes        yes     yes
==============  ==================  =====================  =========  ======  ========

Every role but admin is limited to its region scopes (admin sees every region). Personal
properties are masked for roles without clearance; confidential properties are hidden outside
the role's own domain (``confidential``: an aid inspector does not see an enterprise's balance
sheet, a debt analyst does not see payment amounts).

Tokens are ``rg_<selector>_<secret>``: the selector (12 hex chars) finds the user row, the
secret (32 random bytes, base64url) is never stored -- only its SHA-256, compared in constant
time.

Examples
--------
>>> token, selector, digest = new_token()
>>> parse_token(token) == (selector, digest)
True
>>> ROLES["debt_analyst"].sees_flag_family("aid")
False
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.scopes import NATIONAL, RegionScope, is_region_code
from api.state.models import User, UserRegion
from graph_models.errors import DataError

__all__ = [
    "ROLES",
    "Principal",
    "PrincipalCache",
    "RolePolicy",
    "authenticate",
    "create_user",
    "new_token",
    "parse_token",
]

_DEBT_LABELS = frozenset({"GovUnit", "Enterprise", "Loan", "Bond", "Project"})
_DEBT_TYPES = frozenset(
    {"GUARANTEES", "FUND_FLOW", "HOLDS_SHARES", "BORROWED", "LENT", "FINANCES", "ISSUED",
     "OWNS_PROJECT"}
)  # fmt: skip
_AID_LABELS = frozenset(
    {"Household", "Person", "Payment", "Account", "Phone", "Vehicle", "Property", "DeathRecord",
     "PayrollRecord", "PrisonTerm"}
)  # fmt: skip
_AID_TYPES = frozenset(
    {"MEMBER_OF", "HEADED_BY", "PAID_TO", "PAID_INTO", "PAID_FOR", "APPROVED_BY",
     "HOLDS_ACCOUNT", "ACCOUNT_AT", "HAS_PHONE", "DIED", "ON_PAYROLL", "IMPRISONED",
     "EMPLOYED_BY", "OWNS_VEHICLE", "OWNS_PROPERTY", "REGISTERED_BUSINESS", "INSURED",
     "HOLDS_OFFICE", "KIN"}
)  # fmt: skip


@dataclass(frozen=True)
class RolePolicy:
    """What a role may see and do. ``None`` for a set means "everything"."""

    name: str
    flag_families: frozenset[str] | None
    labels: frozenset[str] | None
    confidential: frozenset[str] | None  # labels and relationship types with need-to-know
    personal_clearance: bool
    cypher: bool = False
    admin: bool = False

    def sees_flag_family(self, family: str) -> bool:
        return self.flag_families is None or family in self.flag_families

    def sees_label(self, label: str) -> bool:
        return self.labels is None or label in self.labels

    def needs_confidential(self, label_or_type: str) -> bool:
        return self.confidential is None or label_or_type in self.confidential


ROLES: dict[str, RolePolicy] = {
    "debt_analyst": RolePolicy(
        "debt_analyst",
        flag_families=frozenset({"debt", "guarantee", "ownership"}),
        labels=_DEBT_LABELS | {"Region", "Person"},
        confidential=_DEBT_LABELS | _DEBT_TYPES,
        personal_clearance=False,
    ),
    "aid_inspector": RolePolicy(
        "aid_inspector",
        flag_families=frozenset({"aid"}),
        labels=_AID_LABELS | {"Region", "GovUnit", "Enterprise"},
        confidential=_AID_LABELS | _AID_TYPES,
        personal_clearance=True,
    ),
    "investigator": RolePolicy(
        "investigator", None, None, None, personal_clearance=True, cypher=True
    ),
    "admin": RolePolicy(
        "admin", None, None, None, personal_clearance=True, cypher=True, admin=True
    ),
}


@dataclass(frozen=True)
class Principal:
    """The authenticated user of a request."""

    user_id: int
    name: str
    policy: RolePolicy
    scope: RegionScope

    @property
    def role(self) -> str:
        return self.policy.name


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
    if user is None or user.disabled:
        return None
    if not hmac.compare_digest(user.token_hash, digest):
        return None
    policy = ROLES[user.role]
    codes = [NATIONAL] if policy.admin else [r.region_code for r in user.regions]
    return Principal(user.id, user.name, policy, RegionScope(codes))


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
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

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


def create_user(session: Session, name: str, role: str, regions: list[str]) -> str:
    """Add a user and return their token (shown once; only its hash is kept).

    Every role but admin needs at least one region (``000000`` for the whole country).
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
    user = User(name=name, role=role, token_selector=selector, token_hash=digest, disabled=False)
    user.regions = [UserRegion(region_code=r) for r in sorted(set(regions))]
    session.add(user)
    session.flush()
    return token
