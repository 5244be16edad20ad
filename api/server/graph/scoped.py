"""One request's view of the graph: region scope, role labels and masking on every read.

Every node :class:`ScopedGraph` returns is of a label the role may see and inside the user's
regions, every relationship joins two such nodes, and a node reached only through a hidden node
is not returned (neighbourhoods are re-walked over visible nodes; paths through a hidden node
are dropped). What is returned is masked for the role.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from api.access.masking import Masker
from api.server.auth.principals import Principal
from api.server.graph.access import GraphAccess
from graph_models.store import NEIGHBOURHOOD_HUB_DEGREE

__all__ = ["FLAG_GRAPH_ENTITIES", "FLAG_GRAPH_NEIGHBOURS", "ScopedGraph"]

#: A flag's subgraph expands at most this many of its entities ...
FLAG_GRAPH_ENTITIES = 12
#: ... each to at most this many neighbours.
FLAG_GRAPH_NEIGHBOURS = 25

T = TypeVar("T")


class ScopedGraph:
    """One request's view of the graph for one principal (see the module docstring)."""

    def __init__(self, access: GraphAccess, principal: Principal) -> None:
        self.access = access
        self.store = access.store
        self.principal = principal
        self.masker = Masker(principal.policy, self.store.schema)
        self.index = access.region_index()  # built at startup (GraphAccess.warm)
        self._visible: dict[tuple[str, str], bool] = {}
        # a node's regions decide its visibility and are shown with it: computed once
        self._regions: dict[tuple[str, str], set[str]] = {}

    async def run(self, read: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a read of this graph from an ``async`` endpoint.

        On an in-process store (memory) the read is a few milliseconds of CPU at most
        (neighbourhoods are bounded by ``limit`` and hubs are not expanded): it runs right here
        on the event loop, which costs less than handing it to a thread and having 40 threads
        take turns at one interpreter lock. A store behind a network (Neo4j) waits on I/O, so
        the read goes to the thread pool.
        """
        if self.store.in_process:
            return read(*args, **kwargs)
        return await run_in_threadpool(read, *args, **kwargs)

    # -- visibility ------------------------------------------------------------------------
    def _node_regions(self, label: str, node_id: str, props: dict[str, Any] | None) -> set[str]:
        key = (label, node_id)
        found = self._regions.get(key)
        if found is None:
            found = self._regions[key] = self.index.regions(label, node_id, props)
        return found

    def regions(self, label: str, node_id: str, props: dict[str, Any] | None) -> list[str]:
        return sorted(self._node_regions(label, node_id, props))

    def visible(self, label: str, node_id: str, props: dict[str, Any] | None = None) -> bool:
        key = (label, node_id)
        seen = self._visible.get(key)
        if seen is None:
            seen = self._visible[key] = self.principal.policy.sees_label(
                label
            ) and self.principal.scope.covers_any(self._node_regions(label, node_id, props))
        return seen

    def _visible_key(self, label: str, node_id: str) -> bool:
        """Visibility of a node known only by (label, id): fetch its properties if needed."""
        key = (label, node_id)
        if key in self._visible:
            return self._visible[key]
        if not self.principal.policy.sees_label(label):
            self._visible[key] = False
            return False
        rec = self.store.get_entity(node_id, label)
        return self.visible(label, node_id, rec["properties"] if rec else {})

    def public_node(self, rec: dict[str, Any]) -> dict[str, Any]:
        out = self.masker.node(rec)
        out["regions"] = self.regions(rec["label"], str(rec["id"]), rec.get("properties"))
        return out

    # -- reads -----------------------------------------------------------------------------
    def entity(self, node_id: str, label: str | None = None) -> dict[str, Any] | None:
        """The raw record of a visible node, else None (unknown and hidden look the same)."""
        rec = self.store.get_entity(node_id, label)
        if rec is None or not self.visible(rec["label"], str(rec["id"]), rec["properties"]):
            return None
        return rec

    def _walk_visible(
        self,
        nodes: list[dict[str, Any]],
        edges: list[dict[str, Any]],
        starts: Iterable[tuple[str, str]],
        hops: int,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Nodes reachable from ``starts`` within ``hops`` over visible nodes only."""
        keep = {
            (n["label"], str(n["id"])): n
            for n in nodes
            if self.visible(n["label"], str(n["id"]), n.get("properties"))
        }
        usable = [
            e
            for e in edges
            if (e["src_label"], str(e["src"])) in keep and (e["dst_label"], str(e["dst"])) in keep
        ]
        if len(keep) == len(nodes):
            # every node is visible: all were reached within ``hops`` by the store's own walk, so
            # the walk below would keep them all
            return nodes, usable
        adjacency: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for e in usable:
            a, b = (e["src_label"], str(e["src"])), (e["dst_label"], str(e["dst"]))
            adjacency.setdefault(a, []).append(b)
            adjacency.setdefault(b, []).append(a)
        reached = {s for s in starts if s in keep}
        frontier = list(reached)
        for _ in range(hops):
            nxt = []
            for u in frontier:
                for v in adjacency.get(u, ()):
                    if v not in reached:
                        reached.add(v)
                        nxt.append(v)
            frontier = nxt
        kept_edges = [
            e
            for e in usable
            if (e["src_label"], str(e["src"])) in reached
            and (e["dst_label"], str(e["dst"])) in reached
        ]
        return [keep[k] for k in keep if k in reached], kept_edges

    def _public_subgraph(
        self,
        nodes: list[dict[str, Any]],
        edges: list[dict[str, Any]],
        truncated: bool,
        hubs: Iterable[tuple[str, str]] = (),
    ) -> dict[str, Any]:
        returned = {(n["label"], str(n["id"])) for n in nodes}
        return {
            "nodes": [self.public_node(n) for n in nodes],
            "edges": [self.masker.edge(e) for e in edges],
            "truncated": truncated,
            "hubs": [
                {"label": label, "id": self.masker.node_id(label, str(nid))}
                for label, nid in hubs
                if (label, str(nid)) in returned  # visible and reached over visible nodes
            ],
        }

    def neighborhood(
        self,
        rec: dict[str, Any],
        hops: int,
        types: list[str] | None,
        limit: int,
        hub_degree: int = NEIGHBOURHOOD_HUB_DEGREE,
    ) -> dict[str, Any]:
        """The visible neighbourhood of a visible node (``rec`` from :meth:`entity`)."""
        sub = self.store.neighborhood(
            str(rec["id"]), rec["label"], hops=hops, types=types or None, limit=limit,
            hub_degree=hub_degree,
        )  # fmt: skip
        nodes, edges = self._walk_visible(
            sub.node_rows(), sub.edge_rows(), [(rec["label"], str(rec["id"]))], hops
        )
        return self._public_subgraph(nodes, edges, bool(sub.truncated), sub.hubs)

    def paths(
        self,
        source: dict[str, Any],
        target: dict[str, Any],
        max_hops: int,
        types: list[str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Shortest paths between two visible nodes that pass through visible nodes only."""
        found = self.store.paths(
            str(source["id"]), str(target["id"]), max_hops=max_hops, types=types or None,
            limit=limit,
        )  # fmt: skip
        out = []
        for path in found:
            if not all(self._visible_key(label, str(nid)) for label, nid in path.nodes):
                continue
            out.append(
                {
                    "nodes": [
                        {"label": label, "id": self.masker.node_id(label, str(nid))}
                        for label, nid in path.nodes
                    ],
                    "edges": [self.masker.edge(e) for e in path.edges],
                    "length": len(path.edges),
                }
            )
        return out

    def around(
        self,
        entity_ids: Iterable[str],
        max_entities: int = FLAG_GRAPH_ENTITIES,
        per_entity_limit: int = FLAG_GRAPH_NEIGHBOURS,
    ) -> dict[str, Any]:
        """The visible entities among ``entity_ids`` and their visible 1-hop neighbours.

        At most ``max_entities`` entities are expanded, each to at most ``per_entity_limit``
        neighbours (a fraud ring can name hundreds); ``truncated`` says when either cut.
        """
        nodes: dict[tuple[str, str], dict[str, Any]] = {}
        edges: dict[tuple[str, str], dict[str, Any]] = {}
        wanted = list(dict.fromkeys(str(e) for e in entity_ids))
        truncated = len(wanted) > max_entities
        # all entities, then all their neighbourhoods, each in one call: on Neo4j two round
        # trips for the flag instead of six per entity
        found = self.store.get_entities(wanted[:max_entities])
        starts = [
            (rec["label"], str(rec["id"]))
            for eid in wanted[:max_entities]
            if (rec := found.get(eid)) is not None
            and self.visible(rec["label"], str(rec["id"]), rec["properties"])
        ]
        for sub in self.store.neighborhoods(starts, per_entity_limit):
            truncated = truncated or bool(sub.truncated)
            for n in sub.node_rows():
                nodes[(n["label"], str(n["id"]))] = n
            for e in sub.edge_rows():
                edges[(e["type"], str(e["id"]))] = e
        kept_nodes, kept_edges = self._walk_visible(
            list(nodes.values()), list(edges.values()), starts, 1
        )
        return self._public_subgraph(kept_nodes, kept_edges, truncated)

    def control(self, rec: dict[str, Any]) -> dict[str, Any]:
        """Direct holders and ultimate controllers of a company, chains through visible nodes."""
        view = self.access.ownership()
        company = str(rec["id"])
        if view is None:
            return {"available": False, "direct_holders": [], "controllers": []}
        holders = []
        for row in view.holders.get(company, []):
            if not self._visible_key(row["src_label"], str(row["holder_id"])):
                continue
            holders.append(
                {
                    "holder_id": self.masker.node_id(row["src_label"], str(row["holder_id"])),
                    "holder_label": row["src_label"],
                    "share_pct": _num(row.get("share_pct")),
                    "voting_pct": _num(row.get("voting_pct")),
                }
            )
        labels = view.labels
        controllers = []
        for row in view.controllers.get(company, []):
            chain = [str(x) for x in row["chain"]]
            chain_labels = [labels.get(x, "Enterprise") for x in chain]
            if not all(self._visible_key(lb, x) for lb, x in zip(chain_labels, chain, strict=True)):
                continue
            controllers.append(
                {
                    "controller_id": self.masker.node_id(chain_labels[0], chain[0]),
                    "controller_label": chain_labels[0],
                    "test": row["test"],
                    "control_pct": _num(row["control_pct"]),
                    "cash_flow_pct": _num(row["cash_flow_pct"]),
                    "gov_linked": bool(row["gov_linked"]),
                    "chain": [
                        self.masker.node_id(lb, x)
                        for lb, x in zip(chain_labels, chain, strict=True)
                    ],
                    "chain_pcts": [_num(p) for p in row["chain_pcts"]],
                }
            )
        return {
            "available": True,
            "direct_holders": holders,
            "controllers": controllers,
            "chains_truncated": view.chains_truncated,
        }


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if f != f else round(f, 6)
