"""Entity search as one user may run it: by id prefix or by name, within their role and regions.

Roles without personal-data clearance cannot match on personal ids or names (a hit would confirm
that a person exists). Each label's matches come from the store (:meth:`GraphStore.search`, on
the server's indexes where there is one) and are then checked for visibility one by one.
"""

from __future__ import annotations

from typing import Any

from api.server.graph.scoped import ScopedGraph

__all__ = ["SEARCH_CANDIDATES", "search_visible"]

#: Matches per label a search examines for visibility before giving up (``truncated``).
SEARCH_CANDIDATES = 2000


def search_visible(
    graph: ScopedGraph, query: str, label: str | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """Visible nodes whose id starts with ``query`` or whose name contains it, as raw records
    (at most ``limit``), and whether there may be more (``truncated``: at most
    :data:`SEARCH_CANDIDATES` matches per label are examined)."""
    store, policy = graph.store, graph.principal.policy
    labels = [label] if label else list(store.schema.nodes)
    clear = policy.personal_clearance
    results: list[dict[str, Any]] = []
    truncated = False
    for lbl in labels:
        if not policy.sees_label(lbl):
            continue
        spec = store.schema.nodes[lbl]
        by_id = clear or spec.id_sensitivity != "personal"
        by_name = "name" in spec.properties and (
            clear or spec.properties["name"].sensitivity != "personal"
        )
        if not (by_id or by_name):
            continue
        ids = store.search(lbl, query, by_id=by_id, by_name=by_name, limit=SEARCH_CANDIDATES)
        truncated = truncated or len(ids) >= SEARCH_CANDIDATES
        for node_id in ids:
            rec = store.get_entity(node_id, lbl)
            if rec is not None and graph.visible(lbl, str(rec["id"]), rec["properties"]):
                results.append(rec)
                if len(results) > limit:
                    return results[:limit], True
    return results, truncated
