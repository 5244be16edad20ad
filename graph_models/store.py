"""The ``GraphStore`` interface: one contract, two implementations (memory, neo4j).

Everything downstream of the loaders talks to a store only through this interface, so every
store test runs against both implementations (``tests/graph_models/test_store.py`` is parametrised over stores).
:func:`graph_models.stores.open_store` opens one by its kind; no code outside ``graph_models``
needs to know which one it has. What differs between stores is said by capabilities:
``in_process`` (reads never wait on I/O), ``supports_cypher`` (:meth:`GraphStore.read_cypher`
runs), ``supports_bulk_import`` (:func:`graph_models.stores.bulk_import` replaces the database).

Frames
------
Node frames have a column ``id`` plus the label's properties and the provenance columns
``_table``, ``_line`` and ``_batch``. Relationship frames have ``id``, ``src``, ``src_label``,
``dst``, ``dst_label`` plus the type's properties and provenance. Missing values are ``None``/NaN.
Dates are ISO strings (``YYYY-MM-DD``) inside stores so both stores return identical frames.

Upsert semantics
----------------
``upsert_nodes`` merges by ``id``: non-null incoming values overwrite, nulls never erase.
With ``create_only=True`` existing nodes are left untouched (used for bare entities created by a
reference, so a reference never overwrites a node's own provenance). ``upsert_relationships``
merges by (type, ``id``). Upserting the same rows twice leaves the store unchanged (idempotence).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from pathlib import Path as FsPath

    import pyarrow as pa

from graph_models.errors import QueryError
from graph_models.schema import SCHEMA, Schema

__all__ = [
    "EDGE_COLUMNS",
    "NEIGHBOURHOOD_HUB_DEGREE",
    "PATH_HUB_DEGREE",
    "GraphNode",
    "GraphPath",
    "GraphRelationship",
    "GraphStore",
    "Path",
    "Projection",
    "QueryResult",
    "Subgraph",
]

EDGE_COLUMNS = ("id", "src", "src_label", "dst", "dst_label")


#: Default for ``neighborhood(hub_degree=...)``: nodes with more relationships are not expanded.
NEIGHBOURHOOD_HUB_DEGREE = 200
#: Nodes with more neighbours than this are not walked through by :meth:`GraphStore.paths` (a
#: county's Region node links to every household in it; "both live in the same county" is not a
#: path worth showing).
PATH_HUB_DEGREE = 10_000


NODE_RECORD_COLUMNS = ("id", "label", "properties")
EDGE_RECORD_COLUMNS = ("id", "type", "src", "src_label", "dst", "dst_label", "properties")


class Subgraph:
    """Nodes and relationships around something: a neighbourhood, a path set, a flag's evidence.

    ``nodes`` has columns ``id``, ``label`` and ``properties`` (a dict); ``edges`` has
    ``id``, ``type``, ``src``, ``src_label``, ``dst``, ``dst_label`` and ``properties``.
    Either can be given as a DataFrame or as a list of such records: the other form is built
    on first use, so a caller that wants records (the API) never pays for a DataFrame.

    Examples
    --------
    >>> sub = Subgraph([{"id": "h1", "label": "Household", "properties": {}}], [])
    >>> len(sub.nodes), sub.edge_rows()
    (1, [])
    """

    __slots__ = ("_edge_rows", "_edges", "_node_rows", "_nodes", "hubs", "truncated")

    def __init__(
        self,
        nodes: pd.DataFrame | list[dict[str, Any]],
        edges: pd.DataFrame | list[dict[str, Any]],
        truncated: bool = False,
        hubs: list[tuple[str, str]] | None = None,
    ) -> None:
        self._nodes, self._node_rows = _frame_or_rows(nodes)
        self._edges, self._edge_rows = _frame_or_rows(edges)
        self.truncated = truncated
        #: (label, id) of nodes that were reached but not expanded because they have more than
        #: ``hub_degree`` relationships (a county's Region node, a clerk who approved every payment)
        self.hubs: list[tuple[str, str]] = list(hubs or [])

    @property
    def nodes(self) -> pd.DataFrame:
        if self._nodes is None:
            self._nodes = pd.DataFrame(self._node_rows, columns=list(NODE_RECORD_COLUMNS))
        return self._nodes

    @property
    def edges(self) -> pd.DataFrame:
        if self._edges is None:
            self._edges = pd.DataFrame(self._edge_rows, columns=list(EDGE_RECORD_COLUMNS))
        return self._edges

    def node_rows(self) -> list[dict[str, Any]]:
        """The nodes as a list of dicts (the records given, or the frame's rows)."""
        if self._node_rows is None:
            self._node_rows = _frame_rows(self._nodes)
        return self._node_rows

    def edge_rows(self) -> list[dict[str, Any]]:
        """The relationships as a list of dicts (the records given, or the frame's rows)."""
        if self._edge_rows is None:
            self._edge_rows = _frame_rows(self._edges)
        return self._edge_rows

    def __repr__(self) -> str:
        return (
            f"Subgraph({len(self.node_rows())} nodes, {len(self.edge_rows())} edges, "
            f"truncated={self.truncated}, hubs={len(self.hubs)})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": self.node_rows(),
            "edges": self.edge_rows(),
            "truncated": self.truncated,
            "hubs": [list(h) for h in self.hubs],
        }


def _frame_or_rows(
    value: pd.DataFrame | list[dict[str, Any]],
) -> tuple[pd.DataFrame | None, list[dict[str, Any]] | None]:
    if isinstance(value, pd.DataFrame):
        return value, None
    return None, list(value)


def _frame_rows(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    """Rows of ``frame`` as dicts of Python values, column by column (no per-row Series)."""
    if frame is None or not len(frame):
        return []
    cols = list(frame.columns)
    return [
        dict(zip(cols, row, strict=True))
        for row in zip(*(frame[c].tolist() for c in cols), strict=True)
    ]


@dataclass
class Path:
    """One path: node ids in order and the relationships between them (``type``, ``id``, direction)."""

    nodes: list[tuple[str, str]]  # (label, id)
    edges: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.edges)


@dataclass
class Projection:
    """An igraph projection of part of the store with stable ids.

    ``graph`` vertices carry attributes ``id`` and ``label``; ``index`` maps (label, id) to the
    vertex index; edges carry ``type`` and ``eid`` (the relationship id) plus requested properties.
    """

    graph: Any  # igraph.Graph
    index: dict[tuple[str, str], int] = field(default_factory=dict)

    def vertex(self, label: str, node_id: str) -> int:
        return self.index[(label, node_id)]


@dataclass(frozen=True)
class GraphNode:
    """A node in the answer of a query (:meth:`GraphStore.read_cypher`), as plain values.

    ``label`` is its label in the schema (None when none of its labels is), ``id`` its ``id``
    property (None when it has none), ``properties`` the others.
    """

    label: str | None
    id: Any
    properties: dict[str, Any]


@dataclass(frozen=True)
class GraphRelationship:
    """A relationship in the answer of a query: ``id`` is its ``id`` property (else the store's
    own id for it), ``start`` and ``end`` its endpoints."""

    id: Any
    type: str
    start: GraphNode
    end: GraphNode
    properties: dict[str, Any]


@dataclass(frozen=True)
class GraphPath:
    """A path in the answer of a query: its nodes in order and the relationships between them."""

    nodes: list[GraphNode]
    relationships: list[GraphRelationship]


@dataclass
class QueryResult:
    """What :meth:`GraphStore.read_cypher` returns.

    ``rows`` hold plain values only: None, str, int, float, bool, lists and dicts of them,
    :class:`GraphNode`, :class:`GraphRelationship` and :class:`GraphPath`; temporal values come
    as ISO text. ``truncated``: more rows were there than ``limit``; ``dropped``: rows the
    caller's ``keep`` refused.
    """

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool = False
    dropped: int = 0


class GraphStore(ABC):
    """Where the entity graph lives. See the module docstring for frames and upsert semantics."""

    #: the store's kind, as :func:`graph_models.stores.open_store` knows it (for display)
    name: str = "abstract"
    #: reads are computed in this process and never wait on I/O (so an event loop may run them
    #: directly, as it would any short computation, and a forked process may share them); False
    #: for a store behind a network
    in_process: bool = False
    #: :meth:`read_cypher` runs read-only Cypher
    supports_cypher: bool = False
    #: :func:`graph_models.stores.bulk_import` can replace its whole database at once (offline)
    supports_bulk_import: bool = False
    #: relationships are cheaper to write once their endpoint nodes exist (Neo4j matches them
    #: by key); the loaders then write every node before the first relationship
    nodes_first: bool = False

    def __init__(self, schema: Schema = SCHEMA) -> None:
        self.schema = schema

    @classmethod
    @abstractmethod
    def from_settings(cls, workspace: str | os.PathLike[str] | None = None) -> GraphStore:
        """Open this kind of store from its settings (the environment) and a workspace directory
        (where an embedded store keeps its files; a server store ignores it)."""

    # -- writing ---------------------------------------------------------------------------
    @abstractmethod
    def ensure_schema(self) -> None:
        """Create constraints/indexes (a no-op where the store has none)."""

    @abstractmethod
    def upsert_nodes(
        self, label: str, rows: pd.DataFrame | pa.Table, *, create_only: bool = False
    ) -> int:
        """Merge node rows (must have ``id``) into ``label``; returns the number of rows sent.

        ``rows`` is a pandas frame or an Arrow table (what the loaders produce)."""

    @abstractmethod
    def upsert_relationships(self, rtype: str, rows: pd.DataFrame | pa.Table) -> int:
        """Merge relationship rows (``EDGE_COLUMNS`` + properties) into ``rtype``."""

    def finished(self, kind: str, name: str) -> None:  # noqa: B027 - optional hook
        """Nothing more will be written to label (``kind="nodes"``) or type
        (``"relationships"``) ``name`` in this load: a store may consolidate and persist it now
        (the embedded store building a generation does, to keep one label in memory at a
        time)."""

    @abstractmethod
    def clear(self) -> None:
        """Delete everything."""

    def flush(  # noqa: B027 - optional hook
        self,
        *,
        meta: Mapping[str, Any] | None = None,
        attach: Mapping[str, FsPath] | None = None,
    ) -> None:
        """Persist buffered writes (the memory store writes Parquet here). A store that keeps
        generations (:meth:`generations_root`) records ``meta`` with the new generation and
        copies the ``attach`` files (name -> path) into its ``scan/`` directory, so the graph
        and, e.g., the flags of the scan that made it become current together."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    # -- reading ---------------------------------------------------------------------------
    @abstractmethod
    def nodes(self, label: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """All nodes of ``label`` as a frame (empty frame with ``id`` if none)."""

    @abstractmethod
    def relationships(self, rtype: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """All relationships of ``rtype`` as a frame (empty frame with EDGE_COLUMNS if none)."""

    @abstractmethod
    def counts(self) -> dict[str, dict[str, int]]:
        """``{"nodes": {label: n}, "relationships": {type: n}}`` for non-empty labels/types."""

    @abstractmethod
    def get_entity(self, node_id: str, label: str | None = None) -> dict[str, Any] | None:
        """One node as ``{"id", "label", "properties"}`` or None. Without ``label`` every label is
        searched, entity labels first."""

    def get_entities(self, node_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """:meth:`get_entity` (label unknown) for many ids: ``{id: record}``, unknown ids left
        out. A store behind a network answers in one round trip."""
        out: dict[str, dict[str, Any]] = {}
        for node_id in dict.fromkeys(node_ids):
            rec = self.get_entity(node_id)
            if rec is not None:
                out[node_id] = rec
        return out

    def neighborhoods(self, starts: Sequence[tuple[str, str]], limit: int = 500) -> list[Subgraph]:
        """The 1-hop :meth:`neighborhood` of each ``(label, id)`` in ``starts`` (``limit`` nodes
        each, the start included), one Subgraph per start in order. A store behind a network
        answers all of them in one transaction."""
        return [self.neighborhood(node_id, label, hops=1, limit=limit) for label, node_id in starts]

    @abstractmethod
    def neighborhood(
        self,
        node_id: str,
        label: str | None = None,
        hops: int = 1,
        types: Iterable[str] | None = None,
        limit: int = 500,
        hub_degree: int = NEIGHBOURHOOD_HUB_DEGREE,
    ) -> Subgraph:
        """Nodes within ``hops`` (either direction) of a node, over ``types`` (all if None),
        at most ``limit`` nodes (``truncated`` says when the limit cut). A node other than the
        start with more than ``hub_degree`` relationships is returned but not walked through
        (listed in ``hubs``): "same county" is not a relationship worth 500 nodes."""

    @abstractmethod
    def paths(
        self,
        source: str,
        target: str,
        max_hops: int = 4,
        types: Iterable[str] | None = None,
        limit: int = 10,
        directed: bool = False,
    ) -> list[Path]:
        """Shortest paths (up to ``limit``, all of the minimum length) between two nodes."""

    def generations_root(self) -> FsPath | None:
        """The workspace whose generations this store reads (``graph_models.generations``):
        a scan may then build a new generation beside it and switch to it atomically with its
        flags. None for a store that keeps no generations (a database server, an embedded store
        in memory only)."""
        return None

    def arrow(self, name: str) -> pa.Table | None:
        """The rows of node label or relationship type ``name`` as an Arrow table, when the
        store holds them so (a SQL engine then scans them in place, without a pandas frame of
        Python strings); None when it does not: read :meth:`nodes` / :meth:`relationships`."""
        return None

    def table_token(self, name: str) -> str | None:
        """A token that changes whenever the rows of node label or relationship type ``name``
        may have changed (``"absent"`` when the store holds none), so results computed from them
        can be reused while it stays the same (:mod:`engine.reuse`); None when the store cannot
        vouch for them (the default: a database server others may write to)."""
        return None

    def reopen(self) -> GraphStore | None:
        """The same store opened afresh, seeing what another process has written since this one
        was opened; None when this store already sees it (a database server) or keeps nothing
        another process could have written (an embedded store without a workspace)."""
        return None

    def search(
        self, label: str, text: str, *, by_id: bool = True, by_name: bool = True, limit: int = 100
    ) -> list[str]:
        """Ids of ``label``'s nodes whose id starts with ``text`` (``by_id``) or whose ``name``
        contains it (``by_name``), at most ``limit``, in no promised order.

        Examples
        --------
        >>> from graph_models.memory_store import MemoryStore
        >>> s = MemoryStore()
        >>> s.upsert_nodes("Region", pd.DataFrame({"id": ["410000", "410800"],
        ...                                       "name": ["河南省", "焦作市"]}))
        2
        >>> s.search("Region", "4108"), s.search("Region", "河南", by_id=False)
        (['410800'], ['410000'])
        """
        if label not in self.schema.nodes or not (by_id or by_name) or limit < 1:
            return []
        by_name = by_name and "name" in self.schema.nodes[label].properties
        frame = self.nodes(label, ["id"] + (["name"] if by_name else []))
        if not len(frame):
            return []
        ids = frame["id"].astype(str)
        hit = ids.str.startswith(text) if by_id else pd.Series(False, index=frame.index)
        if by_name:
            hit |= frame["name"].astype(str).str.contains(text, regex=False, na=False)
        return ids[hit].head(limit).tolist()

    def read_cypher(
        self,
        query: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        timeout_s: float,
        limit: int,
        keep: Callable[[list[Any]], list[Any] | None] | None = None,
    ) -> QueryResult:
        """Run one Cypher statement in a read-only transaction of at most ``timeout_s`` seconds
        and return at most ``limit`` rows of plain values (see :class:`QueryResult`).

        ``keep`` sees each row first and returns it (possibly changed) or None to drop it; a
        dropped row does not count against ``limit``, and an exception it raises ends the query.

        Raises
        ------
        graph_models.errors.QueryError
            ``cypher_unavailable`` on a store without Cypher (``supports_cypher`` False);
            ``cypher_rejected``, ``cypher_timeout`` or ``cypher_error`` from the server.
        """
        raise QueryError("cypher_unavailable", "cypher needs the neo4j store")

    def projection(
        self,
        rtypes: Iterable[str],
        properties: Iterable[str] = (),
        directed: bool = True,
    ) -> Projection:
        """An igraph graph of the given relationship types (vertices = their endpoints).

        Built from the relationship frames, so both stores give identical projections.
        """
        import igraph as ig

        frames = []
        props = list(properties)
        for rtype in rtypes:
            cols = [
                *EDGE_COLUMNS,
                *[p for p in props if p in self.schema.relationships[rtype].properties],
            ]
            f = self.relationships(rtype, cols)
            if len(f):
                f = f.assign(type=rtype)
                frames.append(f)
        if not frames:
            return Projection(ig.Graph(directed=directed), {})
        edges = pd.concat(frames, ignore_index=True)
        src_keys = list(zip(edges["src_label"], edges["src"], strict=True))
        dst_keys = list(zip(edges["dst_label"], edges["dst"], strict=True))
        index: dict[tuple[str, str], int] = {}
        for key in sorted(set(src_keys) | set(dst_keys)):
            index[key] = len(index)
        g = ig.Graph(
            n=len(index),
            edges=[(index[s], index[d]) for s, d in zip(src_keys, dst_keys, strict=True)],
            directed=directed,
        )
        keys = list(index)
        g.vs["label"] = [k[0] for k in keys]
        g.vs["id"] = [k[1] for k in keys]
        g.es["type"] = edges["type"].tolist()
        g.es["eid"] = edges["id"].tolist()
        for p in props:
            if p in edges.columns:
                g.es[p] = edges[p].tolist()
        return Projection(g, index)
