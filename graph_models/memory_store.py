"""The embedded store: pandas node/relationship tables, persisted as Parquet in a workspace.

No server needed: this is what ``riskgraph demo`` and a first-time user run. Writes are buffered
per label/type and consolidated on the first read (one ``groupby().last()`` per label rather than
one per batch), so a load of N batches costs O(N) rather than O(N^2). Graph walks
(neighbourhood, paths) use a CSR adjacency built once per store version from the relationship
frames with numpy/scipy.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path as FsPath
from typing import Any

import numpy as np
import pandas as pd

from graph_models.schema import SCHEMA, Schema
from graph_models.store import (
    EDGE_COLUMNS,
    NEIGHBOURHOOD_HUB_DEGREE,
    PATH_HUB_DEGREE,
    GraphStore,
    Path,
    Subgraph,
)

__all__ = ["MemoryStore"]


class _Table:
    """One label's or type's rows: a consolidated frame plus pending batches."""

    def __init__(self, frame: pd.DataFrame | None = None) -> None:
        self.frame = frame
        self.pending: list[tuple[pd.DataFrame, bool]] = []

    def add(self, rows: pd.DataFrame, create_only: bool) -> None:
        self.pending.append((rows, create_only))

    def consolidate(self) -> pd.DataFrame | None:
        if not self.pending:
            return self.frame
        merges = [f for f, c in self.pending if not c]
        creates = [f for f, c in self.pending if c]
        parts = ([self.frame] if self.frame is not None else []) + merges
        full = _concat(parts)
        if creates:
            bare = _concat(creates)
            if full is not None:
                bare = bare[~bare["id"].isin(full["id"])]
            bare = bare.drop_duplicates("id", keep="first")
            full = _concat([full, bare] if full is not None else [bare])
        if full is not None and not full["id"].is_unique:
            # last non-null value per column wins: nulls never erase
            full = full.groupby("id", sort=False, as_index=False, dropna=False).last()
        self.frame = _normalise_missing(full.reset_index(drop=True)) if full is not None else None
        self.pending = []
        return self.frame


def _from_parquet(path: FsPath) -> pd.DataFrame:
    """Read a persisted table with the dtypes writes produce (text as object, missing as None)."""
    return _normalise_missing(pd.read_parquet(path))


def _normalise_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as ``object`` holding one shared ``str`` per distinct value, missing as None.

    Whatever the frame was assembled from (Arrow strings from the loaders or Parquet, object
    arrays with NaN), each text column comes out the same way: Python strings and None, the
    convention both stores share. Repeated values (region codes, household ids in payments,
    provenance) then point at one string object each instead of one per cell, which roughly
    halves the store's memory on the aid registers.
    """
    for col in frame.columns:
        values = frame[col]
        if col == "id" and values.dtype == object:
            continue  # ids are present and distinct (consolidated): nothing to share or fill
        if pd.api.types.is_string_dtype(values) or (
            values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) == "string"
        ):
            frame[col] = _shared_strings(values)
        elif values.dtype == object and values.isna().any():
            frame[col] = values.astype(object).where(values.notna(), None)
    return frame


def _shared_strings(values: pd.Series) -> pd.Series:
    """``values`` (all strings or missing) as an object column with one object per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if values.dtype == object and len(uniques) == len(values):
        return values  # all distinct and present: nothing to share, nothing to fill
    table = np.empty(len(uniques) + 1, dtype=object)
    table[:-1] = np.asarray(uniques, dtype=object)
    table[-1] = None  # code -1 (missing) indexes the last slot
    return pd.Series(table[codes], index=values.index, dtype=object, name=values.name, copy=False)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame | None:
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return None
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True, sort=False)


class MemoryStore(GraphStore):
    """In-memory graph store persisted as Parquet under ``workspace/graph``.

    Examples
    --------
    >>> import pandas as pd
    >>> s = MemoryStore()
    >>> s.upsert_nodes("Region", pd.DataFrame({"id": ["410000"], "name": ["河南省"]}))
    1
    >>> s.get_entity("410000")["properties"]["name"]
    '河南省'
    """

    name = "memory"
    in_process = True

    def __init__(self, workspace: str | os.PathLike[str] | None = None, schema: Schema = SCHEMA):
        super().__init__(schema)
        self.workspace = FsPath(workspace) if workspace else None
        self._nodes: dict[str, _Table] = {}
        self._rels: dict[str, _Table] = {}
        self._version = 0
        self._adj: _Adjacency | None = None
        self._adj_lock = threading.Lock()
        if self.workspace is not None:
            self._open()

    @classmethod
    def from_settings(cls, workspace: str | os.PathLike[str] | None = None) -> MemoryStore:
        """The store persisted in ``workspace`` (an empty one in memory without it)."""
        return cls(workspace)

    def reopen(self) -> MemoryStore | None:
        """The workspace read afresh (what another process flushed since); None without one."""
        return None if self.workspace is None else type(self)(self.workspace, self.schema)

    # -- persistence -------------------------------------------------------------------------
    def _dir(self, kind: str) -> FsPath:
        assert self.workspace is not None
        return self.workspace / "graph" / kind

    def _open(self) -> None:
        for kind, tables, known in (
            ("nodes", self._nodes, self.schema.nodes),
            ("relationships", self._rels, self.schema.relationships),
        ):
            d = self._dir(kind)
            if not d.exists():
                continue
            for f in sorted(d.glob("*.parquet")):
                if f.stem in known:
                    tables[f.stem] = _Table(_from_parquet(f))

    def flush(self) -> None:
        if self.workspace is None:
            return
        for kind, tables in (("nodes", self._nodes), ("relationships", self._rels)):
            d = self._dir(kind)
            d.mkdir(parents=True, exist_ok=True)
            for name, table in tables.items():
                frame = table.consolidate()
                if frame is None or not len(frame):
                    continue
                tmp = d / f".{name}.parquet.tmp"
                frame.to_parquet(tmp, index=False)
                os.replace(tmp, d / f"{name}.parquet")

    # -- writing -----------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        return None

    def _touch(self) -> None:
        self._version += 1
        self._adj = None

    def upsert_nodes(self, label: str, rows: pd.DataFrame, *, create_only: bool = False) -> int:
        if label not in self.schema.nodes:
            raise KeyError(f"unknown node label {label!r}")
        if not len(rows):
            return 0
        if "id" not in rows.columns:
            raise ValueError("node rows need an 'id' column")
        self._nodes.setdefault(label, _Table()).add(rows.reset_index(drop=True), create_only)
        self._touch()
        return len(rows)

    def upsert_relationships(self, rtype: str, rows: pd.DataFrame) -> int:
        if rtype not in self.schema.relationships:
            raise KeyError(f"unknown relationship type {rtype!r}")
        if not len(rows):
            return 0
        missing = set(EDGE_COLUMNS) - set(rows.columns)
        if missing:
            raise ValueError(f"relationship rows need columns {sorted(missing)}")
        self._rels.setdefault(rtype, _Table()).add(rows.reset_index(drop=True), False)
        self._touch()
        return len(rows)

    def clear(self) -> None:
        self._nodes.clear()
        self._rels.clear()
        self._touch()
        if self.workspace is not None and (self.workspace / "graph").exists():
            shutil.rmtree(self.workspace / "graph")

    # -- reading -----------------------------------------------------------------------------
    @staticmethod
    def _select(frame: pd.DataFrame | None, base: Sequence[str], columns: Sequence[str] | None):
        if frame is None:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in (columns or base)})
        if columns is None:
            return frame.copy(deep=False)  # copy-on-write (pandas >= 3): callers cannot mutate ours
        out = frame.reindex(columns=list(columns))
        return out

    def nodes(self, label: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        if label not in self.schema.nodes:
            raise KeyError(f"unknown node label {label!r}")
        t = self._nodes.get(label)
        return self._select(t.consolidate() if t else None, ["id"], columns)

    def relationships(self, rtype: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        if rtype not in self.schema.relationships:
            raise KeyError(f"unknown relationship type {rtype!r}")
        t = self._rels.get(rtype)
        return self._select(t.consolidate() if t else None, EDGE_COLUMNS, columns)

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {"nodes": {}, "relationships": {}}
        for key, tables in (("nodes", self._nodes), ("relationships", self._rels)):
            for name in sorted(tables):
                frame = tables[name].consolidate()
                if frame is not None and len(frame):
                    out[key][name] = len(frame)
        return out

    def _labels_for_lookup(self, label: str | None) -> list[str]:
        if label is not None:
            return [label]
        entity = list(self.schema.entity_labels)
        return entity + [lbl for lbl in self.schema.nodes if lbl not in entity]

    def get_entity(self, node_id: str, label: str | None = None) -> dict[str, Any] | None:
        adj = self._adjacency()
        for lbl in self._labels_for_lookup(label):
            pos = adj.position(lbl, node_id)
            if pos is not None:
                return adj.node_record(pos)
        return None

    def get_entities(self, node_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """:meth:`get_entity` for many ids: one vectorised index lookup per label (in lookup
        order, the first label holding an id wins) and one row selection per label. A flag
        cut to a reader's scope looks up a few thousand ids per page: one ``get_loc`` each took
        a quarter of a second."""
        ids = list(dict.fromkeys(str(i) for i in node_ids))
        if not ids:
            return {}
        adj = self._adjacency()
        todo = np.asarray(ids, dtype=object)
        found_ids: list[str] = []
        positions: list[int] = []
        for lbl in self._labels_for_lookup(None):
            idx = adj.index.get(lbl)
            if idx is None or not len(todo):
                continue
            loc = idx.get_indexer(todo)
            hit = loc >= 0
            if hit.any():
                found_ids.extend(todo[hit].tolist())
                positions.extend((loc[hit] + adj.offsets[lbl]).tolist())
                todo = todo[~hit]
        records = adj.node_records(positions)
        return dict(zip(found_ids, records, strict=True))

    def _adjacency(self) -> _Adjacency:
        adj = self._adj
        if adj is not None:
            return adj
        with self._adj_lock:  # concurrent API requests build it once, not once each
            if self._adj is None:
                nodes = {lbl: t.consolidate() for lbl, t in self._nodes.items()}
                rels = {rt: t.consolidate() for rt, t in self._rels.items()}
                self._adj = _Adjacency(nodes, rels)
            return self._adj

    def neighborhood(
        self,
        node_id: str,
        label: str | None = None,
        hops: int = 1,
        types: Iterable[str] | None = None,
        limit: int = 500,
        hub_degree: int = NEIGHBOURHOOD_HUB_DEGREE,
    ) -> Subgraph:
        adj = self._adjacency()
        start = self._find(adj, node_id, label)
        if start is None:
            return Subgraph([], [])
        return adj.neighborhood(start, hops, _type_filter(types), limit, hub_degree)

    def _find(self, adj: _Adjacency, node_id: str, label: str | None) -> int | None:
        for lbl in self._labels_for_lookup(label):
            pos = adj.position(lbl, node_id)
            if pos is not None:
                return pos
        return None

    def paths(
        self,
        source: str,
        target: str,
        max_hops: int = 4,
        types: Iterable[str] | None = None,
        limit: int = 10,
        directed: bool = False,
    ) -> list[Path]:
        adj = self._adjacency()
        s, t = self._find(adj, source, None), self._find(adj, target, None)
        if s is None or t is None:
            return []
        return adj.shortest_paths(s, t, max_hops, _type_filter(types), limit, directed)


def _type_filter(types: Iterable[str] | None) -> set[str] | None:
    return set(types) if types else None


class _Columns:
    """A frame's columns as arrays to index directly (zero-copy numpy or extension arrays): the
    fixed ones (``id``, or ``EDGE_COLUMNS``) and the properties, and which property columns can
    hold a value that records leave out (None, NaN, NA) or convert (numpy scalars).

    :meth:`rows` gives selected rows as (fixed values per column, property dicts): a dict per
    row built in C from all property columns, then only the columns that need it are checked,
    cell by cell. Integer and boolean numpy columns never do (about a third of the columns).
    """

    def __init__(self, frame: pd.DataFrame, fixed: tuple[str, ...]) -> None:
        arrays = {}
        for c in frame.columns:
            col = frame[c]
            # plain numpy for bool/int/float/object; pandas arrays otherwise (extension types,
            # and datetimes, whose numpy tolist() would give integers)
            plain = col.dtype.kind in "biufO" and isinstance(col.dtype, np.dtype)
            arrays[c] = col.to_numpy() if plain else col.array
        self.fixed = [arrays[c] for c in fixed]
        self.names = [c for c in arrays if c not in fixed]
        self.props = [arrays[c] for c in self.names]
        self.checked = [
            (name, i)
            for i, name in enumerate(self.names)
            if not (isinstance(arrays[name], np.ndarray) and arrays[name].dtype.kind in "biu")
        ]

    def rows(self, rows: np.ndarray) -> tuple[list[list[Any]], list[dict[str, Any]]]:
        fixed = [a[rows].tolist() for a in self.fixed]
        values = [a[rows].tolist() for a in self.props]
        names = self.names
        if names:
            records = [dict(zip(names, vals, strict=True)) for vals in zip(*values, strict=True)]
        else:
            records = [{} for _ in range(len(rows))]
        for name, i in self.checked:
            for rec, v in zip(records, values[i], strict=True):
                t = type(v)
                if t is str or t is int or t is bool:  # the common cases first
                    continue
                if v is None or v is pd.NA or (t is float and v != v):
                    del rec[name]
                elif isinstance(v, np.generic):
                    v = v.item()
                    if isinstance(v, float) and v != v:
                        del rec[name]
                    else:
                        rec[name] = v
                elif isinstance(v, float) and v != v:
                    del rec[name]
        return fixed, records


class _Adjacency:
    """CSR adjacency over every node, both directions, with edge type and row per entry."""

    def __init__(self, nodes: dict[str, pd.DataFrame | None], rels: dict[str, pd.DataFrame | None]):
        self._column_cache: dict[tuple[str, str], _Columns] = {}
        self.labels = [lbl for lbl, f in nodes.items() if f is not None and len(f)]
        self.frames = {lbl: nodes[lbl] for lbl in self.labels}
        self.index = {lbl: pd.Index(self.frames[lbl]["id"]) for lbl in self.labels}
        self.offsets: dict[str, int] = {}
        total = 0
        for lbl in self.labels:
            self.offsets[lbl] = total
            total += len(self.frames[lbl])
        self.n = total
        self.label_of = np.empty(total, dtype=np.int16)
        for i, lbl in enumerate(self.labels):
            self.label_of[self.offsets[lbl] : self.offsets[lbl] + len(self.frames[lbl])] = i
        self.types = [t for t, f in rels.items() if f is not None and len(f)]
        self.rel_frames = {t: rels[t] for t in self.types}
        src_all, dst_all, type_all, row_all = [], [], [], []
        for ti, t in enumerate(self.types):
            f = self.rel_frames[t]
            s = self._positions(f["src_label"], f["src"])
            d = self._positions(f["dst_label"], f["dst"])
            ok = (s >= 0) & (d >= 0)
            rows = np.nonzero(ok)[0]
            src_all.append(s[ok])
            dst_all.append(d[ok])
            type_all.append(np.full(len(rows), ti, dtype=np.int16))
            row_all.append(rows.astype(np.int64))
        if src_all:
            s = np.concatenate(src_all)
            d = np.concatenate(dst_all)
            ty = np.concatenate(type_all)
            rw = np.concatenate(row_all)
        else:
            s = d = rw = np.empty(0, dtype=np.int64)
            ty = np.empty(0, dtype=np.int16)
        # both directions; `out` marks entries that follow the relationship's direction
        heads = np.concatenate([s, d])
        tails = np.concatenate([d, s])
        order = np.argsort(heads, kind="stable")
        self.nbr = tails[order]
        self.etype = np.concatenate([ty, ty])[order]
        self.erow = np.concatenate([rw, rw])[order]
        self.out = np.concatenate([np.ones(len(s), bool), np.zeros(len(s), bool)])[order]
        self.indptr = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(np.bincount(heads, minlength=self.n), out=self.indptr[1:])

    def _positions(self, labels: pd.Series, ids: pd.Series) -> np.ndarray:
        out = np.full(len(ids), -1, dtype=np.int64)
        lab = labels.to_numpy()
        for lbl in pd.unique(lab):
            if lbl not in self.index:
                continue
            mask = lab == lbl
            loc = self.index[lbl].get_indexer(ids[mask].to_numpy())
            loc = np.where(loc >= 0, loc + self.offsets[lbl], -1)
            out[mask] = loc
        return out

    def position(self, label: str, node_id: str) -> int | None:
        idx = self.index.get(label)
        if idx is None:
            return None
        try:  # ids are unique per label (consolidate): one hash lookup, no Index per call
            loc = idx.get_loc(node_id)
        except (KeyError, TypeError):
            return None
        return int(loc + self.offsets[label])

    def key(self, pos: int) -> tuple[str, str]:
        lbl = self.labels[self.label_of[pos]]
        return lbl, str(self.frames[lbl]["id"].iat[pos - self.offsets[lbl]])

    def node_record(self, pos: int) -> dict[str, Any]:
        return self.node_records([pos])[0]

    def edge_record(self, ti: int, row: int) -> dict[str, Any]:
        return self.edge_records([(ti, row)])[0]

    def _columns(self, name: str, relationships: bool = False) -> _Columns:
        key = ("r" if relationships else "n", name)
        cols = self._column_cache.get(key)
        if cols is None:
            if relationships:
                cols = _Columns(self.rel_frames[name], EDGE_COLUMNS)
            else:
                cols = _Columns(self.frames[name], ("id",))
            self._column_cache[key] = cols
        return cols

    def node_records(self, positions: list[int]) -> list[dict[str, Any]]:
        """``node_record`` for many nodes at once: one row selection per label, not per node."""
        if not positions:
            return []
        pos = np.asarray(positions, dtype=np.int64)
        labels = self.label_of[pos]
        out: list[dict[str, Any] | None] = [None] * len(pos)
        for li in np.unique(labels):
            lbl = self.labels[li]
            where = np.flatnonzero(labels == li)
            (ids,), props = self._columns(lbl).rows(pos[where] - self.offsets[lbl])
            for k, nid, p in zip(where.tolist(), ids, props, strict=True):
                out[k] = {"id": str(nid), "label": lbl, "properties": p}
        return out  # type: ignore[return-value]

    def edge_records(self, entries: list[tuple[int, int]]) -> list[dict[str, Any]]:
        """``edge_record`` for many (type index, row) pairs: one row selection per type."""
        if not entries:
            return []
        arr = np.asarray(entries, dtype=np.int64)
        out: list[dict[str, Any] | None] = [None] * len(arr)
        for ti in np.unique(arr[:, 0]):
            t = self.types[ti]
            where = np.flatnonzero(arr[:, 0] == ti)
            fixed, props = self._columns(t, relationships=True).rows(arr[where, 1])
            for k, eid, src, src_label, dst, dst_label, p in zip(
                where.tolist(), *fixed, props, strict=True
            ):
                out[k] = {
                    "id": eid, "type": t, "src": src, "src_label": src_label,
                    "dst": dst, "dst_label": dst_label, "properties": p,
                }  # fmt: skip
        return out  # type: ignore[return-value]

    def _type_ok(self, types: set[str] | None) -> np.ndarray | None:
        if types is None:
            return None
        return np.array([t in types for t in self.types] + [False], dtype=bool)

    def neighborhood(
        self, start: int, hops: int, types: set[str] | None, limit: int, hub_degree: int
    ) -> Subgraph:
        ok = self._type_ok(types)
        seen = {start: 0}
        frontier = [start]
        edges: dict[tuple[int, int], None] = {}
        hubs: list[int] = []
        truncated = False
        indptr = self.indptr
        for _ in range(max(0, hops)):
            nxt = []
            for u in frontier:
                lo, hi = int(indptr[u]), int(indptr[u + 1])
                if u != start and hi - lo > hub_degree:
                    hubs.append(u)
                    continue
                # one slice per node as Python ints: indexing numpy element by element costs
                # more than the walk itself
                nbrs, etypes, erows = self.nbr[lo:hi], self.etype[lo:hi], self.erow[lo:hi]
                if ok is not None:
                    keep = ok[etypes]
                    nbrs, etypes, erows = nbrs[keep], etypes[keep], erows[keep]
                for v, et, er in zip(nbrs.tolist(), etypes.tolist(), erows.tolist(), strict=True):
                    if v not in seen:
                        if len(seen) >= limit:
                            truncated = True
                            break
                        seen[v] = 1
                        nxt.append(v)
                    edges[(et, er)] = None
                if truncated:
                    break
            frontier = nxt
            if truncated or not frontier:
                break
        node_recs = self.node_records(list(seen))
        keep = {(r["label"], r["id"]) for r in node_recs}
        edge_recs = [
            e
            for e in self.edge_records(list(edges))
            if (e["src_label"], e["src"]) in keep and (e["dst_label"], e["dst"]) in keep
        ]
        return Subgraph(node_recs, edge_recs, truncated, [self.key(h) for h in hubs])

    def shortest_paths(
        self, s: int, t: int, max_hops: int, types: set[str] | None, limit: int, directed: bool
    ) -> list[Path]:
        if s == t:
            return [Path([self.key(s)], [])]
        ok = self._type_ok(types)
        parents: dict[int, list[tuple[int, int]]] = {s: []}  # node -> [(parent, adj entry)]
        depth = {s: 0}
        frontier = [s]
        found = False
        for d in range(1, max_hops + 1):
            nxt: list[int] = []
            for u in frontier:
                lo, hi = self.indptr[u], self.indptr[u + 1]
                if u != s and hi - lo > PATH_HUB_DEGREE:
                    continue
                sel = np.arange(lo, hi)
                if ok is not None:
                    sel = sel[ok[self.etype[sel]]]
                if directed:
                    sel = sel[self.out[sel]]
                for j in sel:
                    v = int(self.nbr[j])
                    if v not in depth:
                        depth[v] = d
                        parents[v] = [(u, int(j))]
                        nxt.append(v)
                    elif depth[v] == d:
                        parents[v].append((u, int(j)))
            if t in depth:
                found = True
                break
            frontier = nxt
            if not frontier:
                break
        if not found:
            return []
        out: list[Path] = []

        def walk(v: int, acc_nodes: list[int], acc_edges: list[int]) -> None:
            if len(out) >= limit:
                return
            if v == s:
                nodes = [self.key(p) for p in reversed(acc_nodes)]
                edges = [
                    self.edge_record(int(self.etype[j]), int(self.erow[j]))
                    for j in reversed(acc_edges)
                ]
                out.append(Path(nodes, edges))
                return
            for p, j in sorted(parents[v]):
                walk(p, [*acc_nodes, p], [*acc_edges, j])

        walk(t, [t], [])
        return out
