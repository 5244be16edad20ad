"""Who controls which company: the ultimate controllers and direct holders of every company, from
the HOLDS_SHARES relationships, computed once per graph and shared by every request (each
request then keeps the chains it may see: ``ScopedGraph.control``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graph_models.store import GraphStore

__all__ = ["OwnershipView", "build_ownership"]


@dataclass
class OwnershipView:
    """Ultimate controllers by company and the direct holdings, from the HOLDS_SHARES frame."""

    controllers: dict[str, list[dict[str, Any]]]
    holders: dict[str, list[dict[str, Any]]]
    labels: dict[str, str]
    chains_truncated: bool


def build_ownership(store: GraphStore) -> OwnershipView | None:
    """The ownership view of ``store``'s HOLDS_SHARES relationships (None without the engine)."""
    try:
        from engine.ownership import OwnershipGraph
    except ImportError:  # the ownership engine is optional for the API
        return None
    rel = store.relationships(
        "HOLDS_SHARES", ["src", "src_label", "dst", "dst_label", "share_pct", "voting_pct"]
    )
    holdings = rel.rename(columns={"src": "holder_id", "dst": "company_id"})
    if not len(holdings):
        return OwnershipView({}, {}, {}, False)
    graph = OwnershipGraph(holdings)
    gov_ids = set(store.nodes("GovUnit", ["id"])["id"])
    by_company: dict[str, list[dict[str, Any]]] = {}
    for row in graph.controllers(gov_ids).to_dict("records"):
        by_company.setdefault(str(row["company_id"]), []).append(row)
    holders: dict[str, list[dict[str, Any]]] = {}
    labels: dict[str, str] = {}
    for row in holdings.to_dict("records"):
        holders.setdefault(str(row["company_id"]), []).append(row)
        labels[str(row["holder_id"])] = row["src_label"]
        labels[str(row["company_id"])] = row["dst_label"]
    return OwnershipView(by_company, holders, labels, graph.chains_truncated)
