"""One readable line for Neo4j connection failures (the driver's own messages are long)."""

from __future__ import annotations

import os

__all__ = ["describe_neo4j_error"]


def describe_neo4j_error(exc: BaseException) -> str | None:
    """A one-line description if ``exc`` is a Neo4j driver connectivity/auth error, else None."""
    try:
        from neo4j.exceptions import AuthError, ServiceUnavailable
    except ImportError:  # pragma: no cover
        return None
    from graph_models.neo4j_settings import bundled_uri

    uri = os.environ.get("NEO4J_URI") or bundled_uri()
    if isinstance(exc, ServiceUnavailable):
        return (
            f"cannot reach Neo4j at {uri}: is it running? "
            "(start the bundled server with 'make neo4j-up', or set NEO4J_URI)"
        )
    if isinstance(exc, AuthError):
        return f"Neo4j at {uri} rejected the credentials: check NEO4J_USER / NEO4J_PASSWORD"
    return None
