"""The mapped rows of a load, staged part by part, then resolved into the graph in one pass.

A **part** is what one source file of one table maps to (:func:`loaders.mapping.map_chunk`): its
own node rows per label, its relationship rows per type (with labels and local endpoints not yet
resolved), and its local references. Parts are kept in load order (tables in contract order,
files in name order) in memory, or in a directory (one Parquet file per label/type, written as
the chunks come: memory does not grow with the file), which is how a workspace keeps each file's
rows to rebuild the graph without reading the file again.

:meth:`GraphStage.write` resolves every part against the own node ids of the whole load (plus the
target store's, when it already holds a graph) and writes the graph label by label:

1. relationships of each type, part by part: ``org`` labels decided, rows whose local endpoint
   is unknown dropped (:func:`loaders.mapping.resolve_relationships`);
2. own node rows of each label (the store merges rows of one id: last non-null value wins);
3. bare nodes for endpoints no table defines: the first row that refers to each (by part, line,
   edge map, source before target), ``create_only``.

Rows with a local reference that resolves to nothing are counted per table
(:attr:`Resolution.dangling`).

Examples
--------
>>> import pandas as pd
>>> from graph_models.memory_store import MemoryStore
>>> from loaders.contract import CONTRACT
>>> from loaders.mapping import map_chunk
>>> stage = GraphStage()
>>> pay = pd.DataFrame({"payment_id": ["P1"], "program": ["x"], "recipient_id": ["R"],
...     "household_id": ["H9"], "account_no": ["A"], "amount": [1.0], "paid_date": ["2024-01-01"],
...     "region_code": ["410822"], "approver_id": [None], "_line": [2]})
>>> stage.part("aid_payments", "f1").add(map_chunk(pay, CONTRACT["aid_payments"], "f1"))
>>> store = MemoryStore()
>>> res = stage.write(store)
>>> res.dangling["aid_payments"], sorted(store.counts()["relationships"])
(1, ['PAID_INTO', 'PAID_TO'])
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from graph_models.memory_store import DTYPES_KEY
from graph_models.store import GraphStore
from loaders.mapping import (
    RESOLVING_LABELS,
    MappedChunk,
    bare_nodes,
    dangling,
    first_bare,
    resolve_relationships,
    strip_staging,
)

__all__ = ["GraphStage", "Part", "Resolution"]

_PART_META = "part.json"
#: parts are Arrow IPC files (LZ4): written and read back about ten times faster than Parquet,
#: about twice its size; they live only in the workspace (the graph itself is Parquet)
_SUFFIX = ".arrow"
_IPC_OPTIONS = ipc.IpcWriteOptions(compression="lz4")


def _storable(table: pa.Table) -> pa.Table:
    """Null-typed columns (a chunk where a column is all blank) as strings, so every chunk of a
    part has one schema."""
    for i, f in enumerate(table.schema):
        if pa.types.is_null(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.string()))
    return table


class Part:
    """The mapped rows of one file of one table (see the module docstring)."""

    def __init__(self, table: str, key: str, directory: Path | None = None) -> None:
        self.table = table
        self.key = key
        self.directory = directory
        self.local: dict[str, str] = {}
        self.rows = 0
        self.node_rows: Counter[str] = Counter()
        self.rel_rows: Counter[str] = Counter()
        self._mem: dict[str, list[pa.Table]] = {}
        self._writers: dict[str, tuple[pa.OSFile, ipc.RecordBatchStreamWriter, pa.Schema]] = {}
        self.closed = False

    # -- writing -------------------------------------------------------------------------------
    def _put(self, name: str, table: pa.Table) -> None:
        if not table.num_rows:
            return
        table = _storable(table)
        if self.directory is None:
            self._mem.setdefault(name, []).append(table)
            return
        entry = self._writers.get(name)
        if entry is None:
            path = self.directory / f"{name}{_SUFFIX}"
            path.parent.mkdir(parents=True, exist_ok=True)
            sink = pa.OSFile(str(path), "wb")
            # the stream format: a later chunk's dictionary-encoded column may bring another
            # dictionary, which the file format refuses ("dictionary replacement", seen at a
            # million households: a table read in several blocks)
            writer = ipc.new_stream(sink, table.schema, options=_IPC_OPTIONS)
            entry = self._writers[name] = (sink, writer, table.schema)
        _, writer, schema = entry
        if table.schema != schema:
            table = table.cast(schema)
        writer.write_table(table)

    def add(self, mapped: MappedChunk) -> None:
        """Stage one mapped chunk."""
        self.rows += mapped.rows
        self.local.update(mapped.local_columns)
        for label, rows in mapped.nodes:
            self.node_rows[label] += rows.num_rows
            self._put(f"nodes/{label}", rows)
        for rtype, rows in mapped.relationships:
            self._put(f"relationships/{rtype}", rows)
        if mapped.refs is not None:
            self._put("refs", mapped.refs)

    def add_nodes(self, label: str, rows: pa.Table) -> None:
        """Stage node rows made outside the mapping (the rows a load rejected)."""
        self.node_rows[label] += rows.num_rows
        self._put(f"nodes/{label}", rows)

    def close(self, meta: Mapping[str, Any] | None = None) -> None:
        """Finish the part (in a directory: ``part.json`` written last marks it complete)."""
        self._close_writers()
        self.closed = True
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            doc = {
                "table": self.table,
                "key": self.key,
                "rows": self.rows,
                "local": self.local,
                "nodes": dict(self.node_rows),
                "relationships": dict(self.rel_rows),
                **(meta or {}),
            }
            tmp = self.directory / f".{_PART_META}.tmp"
            tmp.write_text(json.dumps(doc, ensure_ascii=False, default=str), "utf-8")
            tmp.replace(self.directory / _PART_META)

    def _close_writers(self) -> None:
        for sink, writer, _ in self._writers.values():
            writer.close()
            sink.close()
        self._writers.clear()

    def abandon(self) -> None:
        self._close_writers()
        self._mem.clear()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)

    # -- reading -------------------------------------------------------------------------------
    @classmethod
    def open(cls, directory: Path) -> Part:
        """A complete part stored in ``directory`` (``FileNotFoundError`` when incomplete)."""
        doc = json.loads((directory / _PART_META).read_text("utf-8"))
        part = cls(doc["table"], doc["key"], directory)
        part.local = dict(doc.get("local", {}))
        part.rows = int(doc.get("rows", 0))
        part.node_rows.update(doc.get("nodes", {}))
        part.rel_rows.update(doc.get("relationships", {}))
        part.closed = True
        return part

    @staticmethod
    def meta(directory: Path) -> dict[str, Any] | None:
        """``part.json`` of a stored part, or None when the part is absent or incomplete."""
        try:
            return json.loads((directory / _PART_META).read_text("utf-8"))
        except (OSError, ValueError):
            return None

    def read(self, name: str, columns: list[str] | None = None) -> pa.Table | None:
        if self.directory is None:
            tables = self._mem.get(name)
            if not tables:
                return None
            out = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
            return out.select(columns) if columns is not None else out
        path = self.directory / f"{name}{_SUFFIX}"
        if not path.exists():
            return None
        table = _read_ipc(path)
        return table.select(columns) if columns is not None else table

    def names(self, kind: str) -> list[str]:
        """Labels (``nodes``) or types (``relationships``) this part holds rows of."""
        if self.directory is None:
            return sorted(k.split("/", 1)[1] for k in self._mem if k.startswith(kind + "/"))
        d = self.directory / kind
        return sorted(p.stem for p in d.glob(f"*{_SUFFIX}")) if d.is_dir() else []


@dataclass
class Resolution:
    """What resolving the staged parts found, per table."""

    dangling: dict[str, int] = field(default_factory=dict)
    dangling_refs: dict[str, dict[str, int]] = field(default_factory=dict)
    relationships: dict[str, Counter] = field(default_factory=dict)  # table -> type -> rows
    nodes: dict[str, Counter] = field(default_factory=dict)  # table -> label -> own rows


def _ids(tables: list[pa.Table]) -> pa.Array | None:
    cols = [t.column("id") for t in tables if t is not None and t.num_rows]
    if not cols:
        return None
    return pc.unique(pa.chunked_array([c for col in cols for c in col.chunks]))


def _read_ipc(path: Path) -> pa.Table:
    """A part's table: the IPC stream format, or the file format earlier versions wrote."""
    source = pa.memory_map(str(path))
    if source.read(6) == b"ARROW1":
        source.seek(0)
        return ipc.open_file(source).read_all()
    source.seek(0)
    return ipc.open_stream(source).read_all()


def _with_meta(tables: list[pa.Table]) -> pa.Table:
    dtypes: dict[str, str] = {}
    for t in tables:
        raw = (t.schema.metadata or {}).get(DTYPES_KEY)
        for c, d in (json.loads(raw) if raw else {}).items():
            dtypes.setdefault(c, d)
    kinds: dict[str, set[bool]] = {}
    for t in tables:
        for f in t.schema:
            kinds.setdefault(f.name, set()).add(pa.types.is_dictionary(f.type))
    mixed = {c for c, k in kinds.items() if len(k) > 1}
    if mixed:
        fixed = []
        for t in tables:
            for i, f in enumerate(t.schema):
                if f.name in mixed and pa.types.is_dictionary(f.type):
                    t = t.set_column(i, f.name, t.column(i).cast(f.type.value_type))
            fixed.append(t)
        tables = fixed
    out = pa.concat_tables([t.replace_schema_metadata(None) for t in tables],
                           promote_options="permissive")  # fmt: skip
    return out.replace_schema_metadata({DTYPES_KEY: json.dumps(dtypes).encode()})


class GraphStage:
    """Parts of one load in order (in memory, or under ``directory`` one sub-directory each)."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.parts: list[Part] = []

    def part(self, table: str, key: str) -> Part:
        """A new part, staged after the ones before it."""
        d = None if self.directory is None else self.directory / key
        if d is not None and d.exists():
            shutil.rmtree(d)
        p = Part(table, key, d)
        self.parts.append(p)
        return p

    def add(self, part: Part) -> None:
        """Stage a part stored earlier (a workspace's unchanged file)."""
        self.parts.append(part)

    def _labels(self, kind: str) -> list[str]:
        return sorted({n for p in self.parts for n in p.names(kind)})

    def _own_ids(self, label: str, existing: Mapping[str, pa.Array] | None) -> pa.Array | None:
        tables = [p.read(f"nodes/{label}", ["id"]) for p in self.parts]
        if existing and existing.get(label) is not None:
            tables.append(pa.table({"id": existing[label]}))
        return _ids([t for t in tables if t is not None])

    def resolve_ids(self, existing: Mapping[str, pa.Array] | None = None) -> dict[str, pa.Array]:
        """Own node ids of :data:`~loaders.mapping.RESOLVING_LABELS` over every part (and
        ``existing``: ids a target store already holds)."""
        out = {}
        for label in RESOLVING_LABELS:
            ids = self._own_ids(label, existing)
            if ids is not None:
                out[label] = ids
        return out

    def dangling(self, ids: Mapping[str, pa.Array]) -> Resolution:
        """Dangling local references per table (the rest of the resolution comes with
        :meth:`write`)."""
        res = Resolution()
        for p in self.parts:
            res.nodes.setdefault(p.table, Counter()).update(p.node_rows)
            if not p.local:
                continue
            n, per = dangling(p.read("refs"), p.local, ids)
            res.dangling[p.table] = res.dangling.get(p.table, 0) + n
            acc = res.dangling_refs.setdefault(p.table, dict.fromkeys(p.local, 0))
            for c, k in per.items():
                acc[c] = acc.get(c, 0) + k
        return res

    def relationships(
        self, rtype: str, ids: Mapping[str, pa.Array]
    ) -> Iterator[tuple[int, Part, pa.Table]]:
        """Resolved rows of ``rtype``, part by part (with staging columns)."""
        for order, p in enumerate(self.parts):
            rows = p.read(f"relationships/{rtype}")
            if rows is None or not rows.num_rows:
                continue
            yield order, p, resolve_relationships(rows, ids)

    def write(
        self,
        store: GraphStore,
        existing: Mapping[str, pa.Array] | None = None,
        resolution: Resolution | None = None,
        ids: Mapping[str, pa.Array] | None = None,
    ) -> Resolution:
        """Resolve every part and write the graph into ``store`` (see the module docstring).

        A store that wants its nodes first (``store.nodes_first``: Neo4j matches endpoints by
        key) gets every node before the first relationship, which costs a second resolution
        pass; others get each relationship type as soon as it is resolved. ``ids`` (from
        :meth:`resolve_ids`) and ``resolution`` (from :meth:`dangling`) are computed when not
        given.
        """
        ids = dict(ids) if ids is not None else self.resolve_ids(existing)
        res = resolution or self.dangling(ids)
        types = self._labels("relationships")
        candidates: dict[str, list[pa.Table]] = {}
        for rtype in types:
            kept: list[pa.Table] = []
            for order, p, rows in self.relationships(rtype, ids):
                for label, cand in bare_nodes(rows, order):
                    candidates.setdefault(label, []).append(cand)
                if not store.nodes_first:
                    res.relationships.setdefault(p.table, Counter())[rtype] += rows.num_rows
                    kept.append(strip_staging(rows))
            if kept:
                store.upsert_relationships(rtype, _with_meta(kept))
                del kept
                store.finished("relationships", rtype)
        for label in sorted(set(self._labels("nodes")) | set(candidates)):
            own = [t for p in self.parts if (t := p.read(f"nodes/{label}")) is not None]
            own = [t for t in own if t.num_rows]
            if own:
                store.upsert_nodes(label, _with_meta(own))
            cands = candidates.pop(label, [])
            # the own ids only for a label that has candidates (12.6 million payments have none)
            bare = first_bare(cands, _ids(own) if own and cands else None)
            if bare is not None and bare.num_rows:
                store.upsert_nodes(label, bare, create_only=True)
            del own, bare
            store.finished("nodes", label)
        if store.nodes_first:
            for rtype in types:
                kept = []
                for _order, p, rows in self.relationships(rtype, ids):
                    res.relationships.setdefault(p.table, Counter())[rtype] += rows.num_rows
                    kept.append(strip_staging(rows))
                if kept:
                    store.upsert_relationships(rtype, _with_meta(kept))
                del kept
                store.finished("relationships", rtype)
        return res
