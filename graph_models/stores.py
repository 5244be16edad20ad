"""Opening a store by its kind: the one module that knows every implementation.

=========  ==================================================================================
kind       store
=========  ==================================================================================
memory     :class:`~graph_models.memory_store.MemoryStore`: pandas frames, persisted as Parquet
           in a workspace (the default; no server)
neo4j      :class:`~graph_models.neo4j_store.Neo4jStore`: a Neo4j 5 server (settings in
           :mod:`graph_models.neo4j_settings`)
=========  ==================================================================================

The kind defaults to ``$RISKGRAPH_STORE`` or ``memory``. A store's capabilities are class
attributes (``store_class(kind).in_process``), so a caller can ask before connecting.

Examples
--------
>>> store = open_store("memory")
>>> store.name, store.in_process, store.supports_cypher
('memory', True, False)
>>> store_class("neo4j").supports_cypher
True
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from graph_models.errors import DataError

if TYPE_CHECKING:  # the stores themselves are imported when asked for (pandas, the driver)
    from graph_models.store import GraphStore

__all__ = ["STORE_KINDS", "bulk_import", "describe_store_error", "open_store", "store_class"]

#: The kinds :func:`open_store` knows, the default first.
STORE_KINDS = ("memory", "neo4j")


def store_class(kind: str | None = None) -> type[GraphStore]:
    """The class of a store kind (imported only when asked for: the Neo4j driver is large)."""
    kind = kind or os.environ.get("RISKGRAPH_STORE", "memory")
    if kind == "memory":
        from graph_models.memory_store import MemoryStore

        return MemoryStore
    if kind == "neo4j":
        from graph_models.neo4j_store import Neo4jStore

        return Neo4jStore
    raise DataError("unknown_store", f"unknown store {kind!r}: use 'memory' or 'neo4j'")


def open_store(
    kind: str | None = None, workspace: str | os.PathLike[str] | None = None
) -> GraphStore:
    """Open a store by kind: ``memory`` (Parquet in ``workspace``; nothing persisted without
    one) or ``neo4j`` (connection settings from the environment, see
    :func:`graph_models.neo4j_settings.connection_settings`)."""
    cls = store_class(kind)
    return cls.from_settings(workspace)


def bulk_import(
    kind: str, graph: GraphStore, directory: str | os.PathLike[str]
) -> tuple[Any, GraphStore]:
    """Replace the whole database of a ``kind`` store with ``graph`` in one offline import
    (files written into ``directory``): ``(files written, the store open on the result)``.

    Only for kinds that ``supports_bulk_import`` (Neo4j's bundled server:
    :func:`graph_models.neo4j_bulk.bulk_import`).
    """
    if not store_class(kind).supports_bulk_import:
        raise DataError("no_bulk_import", f"the {kind} store has no bulk import")
    from graph_models.neo4j_bulk import bulk_import as neo4j_bulk_import

    return neo4j_bulk_import(graph, directory)


def describe_store_error(exc: BaseException) -> str | None:
    """One line for a store's connection or credential failure (the drivers' own messages are
    long), else None."""
    from graph_models.neo4j_errors import describe_neo4j_error

    return describe_neo4j_error(exc)
