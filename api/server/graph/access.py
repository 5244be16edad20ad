"""The graph as one user may see it: region scope, role labels and masking on every read.

:class:`GraphAccess` wraps the app's store (a readers-writer lock so a scan can rewrite the store
while requests wait, and the caches every request shares: the region index and the ownership
analysis). :class:`ScopedGraph` is one request's view: every node it returns is of a label the
role may see and inside the user's regions, every relationship joins two such nodes, and a node
reached only through a hidden node is not returned (neighbourhoods are re-walked over visible
nodes; paths through a hidden node are dropped). What is returned is masked for the role.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd
from starlette.concurrency import run_in_threadpool

from api.access.masking import Masker
from api.server.auth.principals import Principal
from api.server.graph.regions import RegionIndex
from graph_models.store import NEIGHBOURHOOD_HUB_DEGREE, GraphStore

__all__ = [
    "SEARCH_CANDIDATES",
    "GraphAccess",
    "OwnershipView",
    "ReadWriteLock",
    "ScopedGraph",
    "neo4j_driver",
]

#: A flag's subgraph expands at most this many of its entities ...
FLAG_GRAPH_ENTITIES = 12
#: ... each to at most this many neighbours.
FLAG_GRAPH_NEIGHBOURS = 25
#: Matches per label a search examines for visibility before giving up (``truncated``).
SEARCH_CANDIDATES = 2000


log = logging.getLogger("riskgraph.api")

T = TypeVar("T")


class ReadWriteLock:
    """Many readers or one writer; a waiting writer stops new readers (no writer starvation)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    def acquire_read(self, blocking: bool = True) -> bool:
        """Become a reader; with ``blocking=False`` return False at once if a writer holds or
        waits for the lock (an event loop tries this before handing the wait to a thread)."""
        with self._cond:
            while self._writer or self._waiting_writers:
                if not blocking:
                    return False
                self._cond.wait()
            self._readers += 1
            return True

    def release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            if not self._readers:
                self._cond.notify_all()

    @contextmanager
    def reading(self) -> Iterator[None]:
        self.acquire_read()
        try:
            yield
        finally:
            self.release_read()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._waiting_writers += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


@dataclass
class OwnershipView:
    """Ultimate controllers by company and the direct holdings, from the HOLDS_SHARES frame."""

    controllers: dict[str, list[dict[str, Any]]]
    holders: dict[str, list[dict[str, Any]]]
    labels: dict[str, str]
    chains_truncated: bool


def _build_ownership(store: GraphStore) -> OwnershipView | None:
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


class GraphAccess:
    """The app's store with its lock and shared caches (invalidated when a scan rewrites it).

    Parameters
    ----------
    store : GraphStore
        The graph every request reads.
    freeze_gc : bool
        ``gc.freeze()`` the heap once the caches are built (see :func:`_freeze_long_lived`).
    generation : int
        Id of the last API scan whose graph ``store`` holds (0: none). With several worker
        processes, a worker whose generation is behind the state DB's reloads (:meth:`refresh`).
    reopen : callable, optional
        Opens the store afresh from where a scan left it (the memory store re-reads its
        workspace); without it :meth:`refresh` keeps the store and rebuilds the caches (Neo4j:
        every process already reads the same database).
    """

    def __init__(
        self,
        store: GraphStore,
        freeze_gc: bool = False,
        *,
        generation: int = 0,
        reopen: Callable[[], GraphStore] | None = None,
    ) -> None:
        self.store = store
        self.lock = ReadWriteLock()
        self._build = threading.Lock()
        self._index: RegionIndex | None = None
        self._ownership: OwnershipView | None = None
        self._ownership_built = False
        #: set once :meth:`warm` has finished (whether it built the caches or failed)
        self.warmed = threading.Event()
        #: after warming, hide the long-lived heap from the garbage collector (a process-wide
        #: choice, so only the server process makes it: ``riskgraph serve``)
        self.freeze_gc = freeze_gc
        self.generation = generation
        self._reopen = reopen
        #: held by a scan of this process and by :meth:`refresh`, so neither reads a graph the
        #: other is half-way through rewriting
        self.updating = threading.RLock()

    def region_index(self) -> RegionIndex:
        if self._index is None:
            with self._build:
                if self._index is None:
                    self._index = _build_region_index(self.store)
        return self._index

    def ownership(self) -> OwnershipView | None:
        if not self._ownership_built:
            with self._build:
                if not self._ownership_built:
                    self._ownership = _build_ownership(self.store)
                    self._ownership_built = True
        return self._ownership

    def warm(self) -> None:
        """Build the shared caches now (the app does this in the background at startup).

        A failure here is logged and left to the first request, which builds them again.
        """
        try:
            with self.lock.reading():
                self.region_index()
                self.ownership()
            if self.freeze_gc:
                _freeze_long_lived()
        except Exception:
            log.exception("warming the graph caches failed; the first request will retry")
        finally:
            self.warmed.set()

    @property
    def ready(self) -> bool:
        """The region index is built: a ScopedGraph can be made without waiting."""
        return self._index is not None

    def invalidate(self) -> None:
        with self._build:
            self._index = None
            self._ownership = None
            self._ownership_built = False
        if self.freeze_gc:
            gc.unfreeze()  # the old graph's structures may be collected again (warm re-freezes)

    def refresh(self, generation: int) -> bool:
        """Serve the graph of scan ``generation``, written by another worker process.

        The new store (or, without ``reopen``, the same one) and its caches are built first,
        while requests go on reading the current graph; the swap then waits only for the
        requests in flight. Returns False (and does nothing) when this process is already at
        ``generation`` or later.
        """
        with self.updating:
            if generation <= self.generation:
                return False
            if self._reopen is not None:
                store = self._reopen()
                index, ownership = _build_region_index(store), _build_ownership(store)
            else:
                store = self.store
                with self.lock.reading():
                    index, ownership = _build_region_index(store), _build_ownership(store)
            with self.lock.writing(), self._build:
                old, self.store = self.store, store
                self._index, self._ownership, self._ownership_built = index, ownership, True
                self.generation = generation
            if old is not store:
                old.close()
            if self.freeze_gc:
                gc.unfreeze()  # let the old graph go, then hide the new one
                _freeze_long_lived()
        log.info("now serving the graph of scan %s", generation)
        return True


def _build_region_index(store: GraphStore) -> RegionIndex:
    # A store's first walk builds its lookup structures (the memory store's CSR adjacency, GBs
    # on a large graph); do it once here rather than in every concurrent first request.
    store.get_entity("\x00warm-up")
    return RegionIndex(store)


def _freeze_long_lived() -> None:
    """Move everything alive now (the loaded graph, the caches just built: about a million
    container objects at 100k households) out of the garbage collector's sight.

    They live until the graph is replaced, but a full collection walks them all: measured 217 ms
    at 100k households, a stall of every request in flight whenever the collector decided to
    run (the API's p99 at low load). ``gc.freeze`` is the standard remedy for a long-lived heap.
    """
    gc.collect()
    gc.freeze()


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

    def search(self, query: str, label: str | None, limit: int) -> tuple[list[dict], bool]:
        """Visible nodes whose id starts with ``query`` or whose name contains it.

        Roles without personal-data clearance cannot match on personal ids or names (a hit would
        confirm that a person exists). At most :data:`SEARCH_CANDIDATES` matches per label are
        examined; ``truncated`` says there may be more.
        """
        schema = self.store.schema
        labels = [label] if label else list(schema.nodes)
        clear = self.principal.policy.personal_clearance
        results: list[dict[str, Any]] = []
        truncated = False
        for lbl in labels:
            if not self.principal.policy.sees_label(lbl):
                continue
            spec = schema.nodes[lbl]
            by_id = clear or spec.id_sensitivity != "personal"
            by_name = "name" in spec.properties and (
                clear or spec.properties["name"].sensitivity != "personal"
            )
            if not (by_id or by_name):
                continue
            ids = self._candidate_ids(lbl, query, by_id, by_name)
            truncated = truncated or len(ids) >= SEARCH_CANDIDATES
            for node_id in ids:
                rec = self.store.get_entity(node_id, lbl)
                if rec is not None and self.visible(lbl, str(rec["id"]), rec["properties"]):
                    results.append(rec)
                    if len(results) > limit:
                        return results[:limit], True
        return results, truncated

    def _candidate_ids(self, label: str, query: str, by_id: bool, by_name: bool) -> list[str]:
        if self.store.name == "neo4j":
            return _neo4j_candidate_ids(self.store, label, query, by_id, by_name)
        cols = ["id"] + (["name"] if by_name else [])
        frame = self.store.nodes(label, cols)
        if not len(frame):
            return []
        ids = frame["id"].astype(str)
        hit = ids.str.startswith(query) if by_id else pd.Series(False, index=frame.index)
        if by_name:
            hit |= frame["name"].astype(str).str.contains(query, regex=False, na=False)
        return ids[hit].head(SEARCH_CANDIDATES).tolist()

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


def neo4j_driver(store: GraphStore) -> Any | None:
    """The driver behind a Neo4j store (None for other stores).

    ``Neo4jStore`` keeps it as ``_driver``; a public ``driver`` attribute is preferred when present.
    """
    return getattr(store, "driver", None) or getattr(store, "_driver", None)


def _neo4j_candidate_ids(
    store: GraphStore, label: str, query: str, by_id: bool, by_name: bool
) -> list[str]:
    """The same match on Neo4j, using its indexes instead of fetching every node."""
    from neo4j import READ_ACCESS

    driver = neo4j_driver(store)
    # the label comes from the validated schema, never from the request
    statement = (
        f"MATCH (n:`{label}`) WHERE ($by_id AND n.id STARTS WITH $q) "
        "OR ($by_name AND n.name CONTAINS $q) RETURN n.id AS id LIMIT $cap"
    )
    with driver.session(
        database=getattr(store, "database", None), default_access_mode=READ_ACCESS
    ) as session:
        result = session.run(
            statement, q=query, by_id=by_id, by_name=by_name, cap=SEARCH_CANDIDATES
        )
        return [str(r["id"]) for r in result]


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if f != f else round(f, 6)
