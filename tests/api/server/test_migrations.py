"""The state DB migrations of issue 15 (0004 keyed audit chain, 0005 sign-ins, 0006 flag
fingerprints) go up and down on SQLite and PostgreSQL, keeping what is there."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from api.server.state.audit import append_audit, verify_chain
from api.server.state.db import StateDB


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite'}"
    return request.getfixturevalue("postgres_url")


def _downgrade(db: StateDB, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from api.server.state.db import _MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _columns(db: StateDB, table: str) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns(table)}


def test_up_down_and_up_again(url):
    db = StateDB(url, migrate=False)
    db.upgrade("0003")
    db.upgrade()
    assert db.current_revision() == "0008"
    assert {"chain_id", "keyed_from"} <= _columns(db, "audit_head")
    assert "expires_at" in _columns(db, "users")
    assert "fingerprint" in _columns(db, "flags")
    assert {"prior_status", "changed_at"} <= _columns(db, "flag_states")
    with db.write() as s:
        append_audit(s, actor="a", role="admin", action="t", resource="r")
    _downgrade(db, "0003")
    assert "flag_changes" not in inspect(db.engine).get_table_names()
    assert "chain_id" not in _columns(db, "audit_head")
    db.upgrade()
    with db.read() as s:
        head = s.execute(text("SELECT seq, keyed_from FROM audit_head")).one()
        # the row written under the key is now before the keyed part: its HMAC is not
        # re-checked as SHA-256 by accident -- verify says so rather than "intact"
        assert head.seq == 1 and head.keyed_from == 2
        assert not verify_chain(s).ok
    db.close()
