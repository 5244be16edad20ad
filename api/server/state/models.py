"""The state DB: what people did with the data (users, reviews, cases, scans, the audit trail).

The graph store holds the data; this database holds the workflow around it. The tables are
created by the Alembic migrations in ``api/migrations`` (never by ``create_all``), so the schema a
deployment runs is always a migrated one. These models mirror those migrations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "DECISIONS",
    "FLAG_STATUSES",
    "UNSUPPORTED",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Case",
    "CaseFlag",
    "FlagChange",
    "FlagRecord",
    "FlagState",
    "LoginFailure",
    "ReviewDecision",
    "Role",
    "Scan",
    "User",
    "UserRegion",
    "WebSessionRecord",
    "utcnow",
]

#: A reviewer's decision on a flag.
DECISIONS = ("confirmed", "dismissed", "needs_field_check")
#: A flag the latest scan of its detector no longer raises: out of the active queue, its
#: history kept (数据已不再支持, "no longer supported by the data").
UNSUPPORTED = "unsupported"
#: A flag's review status: ``open`` until the first decision (and again when its evidence
#: changes after one), then the latest decision; ``unsupported`` once the data no longer
#: supports it.
FLAG_STATUSES = ("open", *DECISIONS, UNSUPPORTED)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone; we restore UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class Role(Base):
    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    personal_clearance: Mapped[bool] = mapped_column(Boolean)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(ForeignKey("roles.name"))
    #: Public half of the API token, used to find the row; the secret half is only hashed.
    token_selector: Mapped[str] = mapped_column(String(16), unique=True)
    #: SHA-256 (hex) of the secret half of the token.
    token_hash: Mapped[str] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: the token is refused from then on (``riskgraph users add --expires-in``); None: never
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    regions: Mapped[list[UserRegion]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="UserRegion.region_code"
    )


class UserRegion(Base):
    """One region scope of a user: the code and everything under it."""

    __tablename__ = "user_regions"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    region_code: Mapped[str] = mapped_column(String(6), primary_key=True)


class Scan(Base):
    """A scan job (POST /scans) or a CLI import of a scan directory."""

    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # api | import
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued/running/succeeded/failed
    dataset_dir: Mapped[str | None] = mapped_column(Text, nullable=True)
    out_dir: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requested_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: written by the process running the job (api.server.scan_jobs): a queued or running scan whose
    #: heartbeat stops was abandoned by a process that died, and is marked failed
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: the process that took the job (``api.server.scan_jobs.process_identity``): one on this
    #: host that is gone abandoned it, and the scan is marked failed at once
    owner_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    owner_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    owner_started: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    flags_imported: Mapped[int | None] = mapped_column(Integer, nullable=True)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: what a running scan is doing (stage, detectors done of all, the current one), written by
    #: the job as it goes so the web pages can show it
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class FlagRecord(Base):
    """A flag as the engine wrote it (flags.jsonl); replaced on re-import, never reviewed here."""

    __tablename__ = "flags"

    flag_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    detector: Mapped[str] = mapped_column(String(64), index=True)
    family: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(8), index=True)
    score: Mapped[float] = mapped_column(Float, index=True)
    region_code: Mapped[str | None] = mapped_column(String(6), index=True, nullable=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(Text)
    entities: Mapped[list[str]] = mapped_column(JSON)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    explanation: Mapped[dict[str, str]] = mapped_column(JSON)
    settings_digest: Mapped[str] = mapped_column(String(64))
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("scans.id"), nullable=True)
    imported_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: ``engine.flags.evidence_fingerprint`` of the evidence last imported (None before 0006)
    fingerprint: Mapped[str | None] = mapped_column(String(32), nullable=True)
    state: Mapped[FlagState] = relationship(lazy="joined", uselist=False)


class FlagState(Base):
    """A flag's review state; kept apart from ``flags`` so a re-import never touches it."""

    __tablename__ = "flag_states"

    flag_id: Mapped[str] = mapped_column(
        ForeignKey("flags.flag_id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(24), index=True, default="open")
    review_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: the decision a change of the data set aside (the flag was reopened, or is no longer
    #: supported); cleared by the next decision
    prior_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    #: when an import last changed the status (evidence changed, unsupported, raised again)
    changed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class FlagChange(Base):
    """What an import changed about a flag: its evidence changed (the decision reopened), the
    scan no longer raises it, or raises it again; with the differences."""

    __tablename__ = "flag_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_id: Mapped[str] = mapped_column(
        ForeignKey("flags.flag_id", ondelete="CASCADE"), index=True
    )
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("scans.id"), nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: evidence_changed | no_longer_supported | raised_again
    kind: Mapped[str] = mapped_column(String(24))
    status_before: Mapped[str] = mapped_column(String(24))
    status_after: Mapped[str] = mapped_column(String(24))
    fingerprint_before: Mapped[str | None] = mapped_column(String(32), nullable=True)
    fingerprint_after: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: ``api.server.state.flag_import.evidence_differences``
    differences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ReviewDecision(Base):
    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_id: Mapped[str] = mapped_column(ForeignKey("flags.flag_id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user_name: Mapped[str] = mapped_column(String(100))
    decision: Mapped[str] = mapped_column(String(24))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), index=True, default="open")
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: Optimistic concurrency: a PATCH naming an older version is refused with 409.
    version: Mapped[int] = mapped_column(Integer, default=1)
    flags: Mapped[list[CaseFlag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="CaseFlag.added_at"
    )


class CaseFlag(Base):
    __tablename__ = "case_flags"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    flag_id: Mapped[str] = mapped_column(ForeignKey("flags.flag_id"), primary_key=True)
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class CaseComment(Base):
    """One comment in a case's thread (append-only)."""

    __tablename__ = "case_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class AuditEntry(Base):
    """One row of the append-only, hash-chained audit trail (see ``api.server.state.audit``)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32), index=True)  # ISO-8601 UTC, part of the hash
    actor: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), index=True)
    resource: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON, hashed as stored
    request_id: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's head (one row): locked by every append, so appends are serialised."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    #: random id of this chain, inside every keyed row's HMAC (and naming its head log)
    chain_id: Mapped[str] = mapped_column(String(32))
    #: the first row hashed with the key (rows before it predate the key: plain SHA-256)
    keyed_from: Mapped[int] = mapped_column(Integer)


class LoginFailure(Base):
    """Failed sign-ins of one user name (``user:<token selector>``) or one client address
    (``client:<address>``) in the current window (``api.server.auth.login_limits``)."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: epoch seconds when the window of these failures began
    window_start: Mapped[float] = mapped_column(Float)
    failures: Mapped[int] = mapped_column(Integer)


class WebSessionRecord(Base):
    """A signed-in browser (``api.server.auth.sessions``), shared by every API worker process.

    Only the SHA-256 of the session id (the cookie value) is stored, never the id itself.
    Times are epoch seconds (``time.time()``) so every process compares them alike.
    """

    __tablename__ = "web_sessions"

    #: SHA-256 (hex) of the session id.
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: The user's token hash at sign-in: a re-issued token ends the session.
    token_hash: Mapped[str] = mapped_column(String(64))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created: Mapped[float] = mapped_column(Float)
    #: The last request, written at most every ``touch_interval`` seconds (see SessionStore).
    last_seen: Mapped[float] = mapped_column(Float)
