"""Alembic migrations of the state DB (run by ``api.server.state.db.StateDB.upgrade``)."""
