"""One request's view of the graph: region scope, role labels and masking on every read.

Every node :class:`ScopedGraph` returns is of a label the role may see and inside the user's
regions, every relationship joins two such nodes, and a node reached only through a hidden node
is not returned (neighbourhoods are re-walked over visible nodes; paths through a hidden node
are dropped). What is returned is masked for the role.

A visible node may still name a hidden one in its properties (an account in the user's county
whose ``holder_id`` is a person of another county, a payment's ``approver_id``): such a property
is removed and listed in the record's ``hidden`` keys (:data:`REFERENCES` says which properties
name which labels). A node's ``regions`` list only the regions inside the user's scope (or
above it: a county's province is no secret to it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from api.access.masking import Masker
from api.server.auth.principals import Principal
from api.server.graph.access import GraphAccess
from graph_models.schema import SCHEMA, Schema
from graph_models.store import NEIGHBOURHOOD_HUB_DEGREE

__all__ = ["FLAG_GRAPH_ENTITIES", "FLAG_GRAPH_NEIGHBOURS", "REFERENCES", "ScopedGraph"]

#: A flag's subgraph expands at most this many of its entities ...
FLAG_GRAPH_ENTITIES = 12
#: ... each to at most this many neighbours.
FLAG_GRAPH_NEIGHBOURS = 25

T = TypeVar("T")

#: Value types of properties that hold another node's id, and the labels that id may be of.
_REFERENCE_TYPES = {
    "person_id": ("Person",), "account_no": ("Account",), "phone": ("Phone",),
    "uscc": ("Enterprise", "GovUnit"),
}  # fmt: skip
#: Properties of type ``text`` that hold another node's id.
_REFERENCE_NAMES = {
    "household_id": ("Household",),
    "loan_id": ("Loan",),
    "project_id": ("Project",),
}


def _references(schema: Schema) -> dict[str, dict[str, tuple[str, ...]]]:
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    owners = [*schema.nodes.items(), *schema.relationships.items()]
    for owner, spec in owners:
        for name, prop in spec.properties.items():
            labels = _REFERENCE_TYPES.get(prop.type) or _REFERENCE_NAMES.get(name)
            if labels:
                out.setdefault(owner, {})[name] = labels
    return out


#: label or relationship type -> property -> the labels whose ids it holds (from the schema)
REFERENCES = _references(SCHEMA)


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
        #: whether anything can be out of this user's sight (else every check is skipped)
        self.scoped = not principal.scope.national or principal.policy.labels is not None
        self._references = (
            REFERENCES if self.store.schema is SCHEMA else _references(self.store.schema)
        )
        self._ref_visible: dict[tuple[tuple[str, ...], str], bool] = {}

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
        """The node's regions the user may know of: inside their scope, or above it."""
        found = self._node_regions(label, node_id, props)
        if self.principal.scope.national:
            return sorted(found)
        return sorted(r for r in found if self.in_sight(r))

    def in_sight(self, region_code: str) -> bool:
        """A region inside the user's scope, or one above it (their city, their province)."""
        return self.principal.scope.in_sight(region_code)

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

    def reveals(self, label: str, node_id: str, props: dict[str, Any] | None = None) -> bool:
        """Whether a flag may name this node to the user: a visible node, or a region above
        the user's own (a county inspector knows their province)."""
        if self.visible(label, node_id, props):
            return True
        return (
            label == "Region"
            and self.principal.policy.sees_label(label)
            and (self.in_sight(node_id))
        )

    def reference_visible(self, labels: tuple[str, ...], value: str) -> bool:
        """Whether the node a property names (by id, of one of ``labels``) is visible."""
        key = (labels, value)
        seen = self._ref_visible.get(key)
        if seen is not None:
            return seen
        seen = False
        policy, scope = self.principal.policy, self.principal.scope
        for label in labels:
            regions = self.index.regions_of_id(label, value)
            if regions is None:  # the index cannot tell: read the node
                rec = self.store.get_entity(value, label)
                seen = rec is not None and self.visible(label, value, rec["properties"])
            else:
                seen = policy.sees_label(label) and scope.covers_any(regions)
            if seen:
                break
        self._ref_visible[key] = seen
        return seen

    def _cut_references(self, owner: str, props: dict[str, Any]) -> tuple[dict, list[str]]:
        """The properties without those naming a hidden node, and the names of those cut."""
        refs = self._references.get(owner)
        if not self.scoped or not refs or not props:
            return props, []
        cut = [
            k
            for k, labels in refs.items()
            if isinstance(props.get(k), str)
            and props[k]
            and not self.reference_visible(labels, props[k])
        ]
        if not cut:
            return props, []
        return {k: v for k, v in props.items() if k not in cut}, cut

    def public_node(self, rec: dict[str, Any]) -> dict[str, Any]:
        props, cut = self._cut_references(rec["label"], rec.get("properties") or {})
        out = self.masker.node({**rec, "properties": props} if cut else rec)
        if cut:
            out["hidden"] = [*out["hidden"], *cut]
        out["regions"] = self.regions(rec["label"], str(rec["id"]), rec.get("properties"))
        return out

    def public_edge(self, rec: dict[str, Any]) -> dict[str, Any]:
        """A relationship between two visible nodes, its references cut and masked."""
        props, cut = self._cut_references(rec["type"], rec.get("properties") or {})
        out = self.masker.edge({**rec, "properties": props} if cut else rec)
        if cut:
            out["hidden"] = [*out["hidden"], *cut]
        return out

    # -- reads -----------------------------------------------------------------------------
    def entity(self, node_id: str, label: str | None = None) -> dict[str, Any] | None:
        """The raw record of a visible node, else None (unknown and hidden look the same).

        Without personal-data clearance a node whose id is personal (a resident ID, an account
        or phone number, a plate) cannot be looked up by that id at all: whether such a person
        exists is itself personal data, so a real and a made-up resident ID both get None
        (the role sees such nodes, masked, in neighbourhoods and paths of what it may open).
        """
        rec = self.store.get_entity(node_id, label)
        if rec is None or not self.visible(rec["label"], str(rec["id"]), rec["properties"]):
            return None
        if not self.masker.clear and self._personal_id(rec["label"]):
            return None
        return rec

    def _personal_id(self, label: str) -> bool:
        spec = self.store.schema.nodes.get(label)
        return spec is not None and spec.id_sensitivity == "personal"

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
            "edges": [self.public_edge(e) for e in edges],
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
                    "edges": [self.public_edge(e) for e in path.edges],
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
