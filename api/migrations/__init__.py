"""Alembic migrations of the state DB (run by ``api.state.db.StateDB.upgrade``)."""
