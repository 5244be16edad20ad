"""The state DB: users, roles, region scopes, flags and reviews, cases, scans, audit trail."""

from api.server.state.audit import append_audit, verify_chain
from api.server.state.db import StateDB, resolve_state_db_url

__all__ = ["StateDB", "append_audit", "resolve_state_db_url", "verify_chain"]
