"""The embedded store: node/relationship tables in memory, persisted as Parquet in a workspace.

No server needed: this is what ``riskgraph demo`` and a first-time user run.

**Writes** are kept per label/type as Arrow tables and consolidated on the first read or flush
(one pass per label, not one per batch): rows of the same id merge, the last non-null value of
each column winning (``create_only`` rows only add ids not present). Ids that are already
distinct (the usual case: one table defines each label) cost one hash pass and no grouping.

**Reads** give pandas frames as both stores do: text as ``object`` columns of Python strings with
None for missing, one shared ``str`` per distinct value (region codes, household ids repeated on
payments, provenance), integers as ``int64`` (``Int64`` when the writer gave ``Int64``), booleans
as the writer gave them. A table is converted once, on its first read, and then held as pandas.

**Persistence**: :meth:`MemoryStore.flush` writes a new generation of the workspace
(:mod:`graph_models.generations`) and makes it current atomically; tables not changed since they
were read from the previous generation are hard-linked, not rewritten. Opening a workspace reads
nothing but the list of files: a table is read from Parquet when first asked for, so a scan that
reads a few labels never loads the others (the relationships of a million payments, say).

Graph walks (neighbourhood, paths) use a CSR adjacency built once per store version from the
relationship frames with numpy/scipy.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path as FsPath
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graph_models import generations
from graph_models.schema import SCHEMA, Schema
from graph_models.store import (
    EDGE_COLUMNS,
    NEIGHBOURHOOD_HUB_DEGREE,
    PATH_HUB_DEGREE,
    GraphStore,
    Path,
    Subgraph,
)

__all__ = ["DTYPES_KEY", "MemoryStore", "arrow_to_frame", "frame_to_arrow"]

#: schema metadata key holding the pandas dtype of each column (JSON), kept in Parquet files too
DTYPES_KEY = b"riskgraph.dtypes"
#: Parquet metadata key listing the dictionary-encoded columns (read back as dictionaries)
REPEATED_KEY = b"riskgraph.repeated"


def frame_to_arrow(frame: pd.DataFrame) -> pa.Table:
    """A pandas frame as an Arrow table that remembers its columns' pandas dtypes.

    Object columns become strings (or booleans, numbers: whatever their values are); a column
    holding nothing but missing values becomes Arrow's null type, which a later non-null column of
    the same name promotes.
    """
    table = pa.Table.from_pandas(frame, preserve_index=False)
    dtypes = {str(c): str(frame[c].dtype) for c in frame.columns}
    return table.replace_schema_metadata({DTYPES_KEY: json.dumps(dtypes).encode()})


def _dtypes(table: pa.Table) -> dict[str, str]:
    meta = table.schema.metadata or {}
    raw = meta.get(DTYPES_KEY)
    return json.loads(raw) if raw else {}


def _with_dtypes(table: pa.Table, dtypes: dict[str, str]) -> pa.Table:
    keep = {c: d for c, d in dtypes.items() if c in table.column_names}
    return table.replace_schema_metadata({DTYPES_KEY: json.dumps(keep).encode()})


def _is_text(typ: pa.DataType) -> bool:
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    return pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_null(typ)


def _shared_text(col: pa.ChunkedArray, distinct: bool) -> np.ndarray:
    """Text as an object array of Python strings and None, one object per distinct value.

    ``distinct`` (ids): every value is converted once anyway, so nothing is shared.
    """
    if pa.types.is_null(col.type):
        return np.full(len(col), None, dtype=object)
    if pa.types.is_dictionary(col.type) and not distinct and len(col):
        # read as Parquet stored it: the dictionary is converted, each row only indexes it
        col = pa.table({"c": col}).unify_dictionaries().column(0)
        values = col.chunks[0].dictionary if col.num_chunks else pa.array([], pa.string())
        codes = np.concatenate(
            [c.indices.fill_null(-1).to_numpy(zero_copy_only=False) for c in col.chunks]
        )
        table = np.empty(len(values) + 1, dtype=object)
        table[:-1] = values.to_numpy(zero_copy_only=False)
        table[-1] = None
        return table[codes]
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if distinct or len(col) == 0:
        return col.to_numpy(zero_copy_only=False).astype(object, copy=False)
    encoded = pc.dictionary_encode(col.combine_chunks())
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    table = np.empty(len(encoded.dictionary) + 1, dtype=object)
    table[:-1] = encoded.dictionary.to_numpy(zero_copy_only=False)
    table[-1] = None  # code -1 (missing) indexes the last slot
    return table[codes]


def arrow_to_frame(table: pa.Table, dtypes: dict[str, str] | None = None) -> pd.DataFrame:
    """An Arrow table as the pandas frame the stores give (see the module docstring).

    ``dtypes`` (default: the table's own metadata) names the pandas dtype a column was written
    with; without one, text is ``object``, integers are ``int64`` (``Int64`` with nulls),
    booleans ``bool`` (``object`` with None), floats ``float64``.
    """
    dtypes = {**_dtypes(table), **(dtypes or {})}
    cols: dict[str, Any] = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        want = dtypes.get(name)
        typ = col.type
        if _is_text(typ):
            cols[name] = pd.Series(
                _shared_text(col, name == "id"), dtype=object, name=name, copy=False
            )
        elif pa.types.is_boolean(typ):
            if want == "object" or (want is None and col.null_count):
                cols[name] = pd.Series(
                    np.asarray(col.to_pylist(), dtype=object), dtype=object, name=name
                )
            elif want == "boolean":
                cols[name] = pd.Series(pd.array(col.to_pylist(), dtype="boolean"), name=name)
            else:
                cols[name] = pd.Series(col.to_numpy(zero_copy_only=False), name=name)
        elif pa.types.is_integer(typ):
            if want == "Int64" or (want is None and col.null_count):
                cols[name] = pd.Series(
                    pd.array(col.to_numpy(zero_copy_only=False), dtype="Int64")
                    if not col.null_count
                    else pd.array(col.to_pylist(), dtype="Int64"),
                    name=name,
                )
            else:
                cols[name] = pd.Series(col.to_numpy(zero_copy_only=False), name=name)
        else:
            series = col.to_pandas()
            if want == "object" and series.dtype != object:
                series = series.astype(object).where(series.notna(), None)
            cols[name] = series.rename(name)
    return pd.DataFrame(cols, copy=False) if cols else pd.DataFrame()


def _concat(tables: list[pa.Table]) -> pa.Table | None:
    tables = [t for t in tables if t is not None and t.num_rows]
    if not tables:
        return None
    if len(tables) == 1:
        return tables[0]
    dtypes: dict[str, str] = {}
    for t in tables:
        for c, d in _dtypes(t).items():
            dtypes.setdefault(c, d)
    plain: set[str] = set()  # columns dictionary-encoded in some tables and not in others
    kinds: dict[str, set[bool]] = {}
    for t in tables:
        for f in t.schema:
            if not pa.types.is_null(f.type):
                kinds.setdefault(f.name, set()).add(pa.types.is_dictionary(f.type))
    plain = {c for c, k in kinds.items() if len(k) > 1}
    if plain:
        tables = [_decoded(t, plain) for t in tables]
    out = pa.concat_tables(
        [t.replace_schema_metadata(None) for t in tables], promote_options="permissive"
    )
    return _with_dtypes(out, dtypes)


def _decoded(table: pa.Table, columns: Iterable[str] | None = None) -> pa.Table:
    """``table`` with its dictionary-encoded columns (of ``columns``, default all) decoded."""
    for i, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type) and (columns is None or f.name in columns):
            table = table.set_column(i, f.name, table.column(i).cast(f.type.value_type))
    return table


def _first_rows(table: pa.Table) -> pa.Table:
    """The first row of each id, in the order of first appearance."""
    index = pa.table({"id": table.column("id"), "_i": pa.array(np.arange(table.num_rows))})
    first = index.group_by("id", use_threads=False).aggregate([("_i", "min")])
    return table.take(np.sort(first.column("_i_min").to_numpy()))


def _last_values(table: pa.Table) -> pa.Table:
    """One row per id (order of first appearance): the last non-null value of every column.

    Only the rows of ids that occur more than once (usually few: a payment delivered twice) are
    aggregated; the others are kept as they are (at a million households, aggregating all 12.7
    million payments cost about 18 s, most of it for rows with nothing to merge).

    Examples
    --------
    >>> t = pa.table({"id": ["a", "b", "a", "c"], "x": [1, 2, None, 4], "y": ["p", None, "q", "r"]})
    >>> _last_values(t).to_pydict()
    {'id': ['a', 'b', 'c'], 'x': [1, 2, 4], 'y': ['q', None, 'r']}
    """
    others = [c for c in table.column_names if c != "id"]
    if not others:
        return _first_rows(table)
    repeated = _repeated_ids(table.column("id"))
    mask = pc.is_in(table.column("id"), value_set=repeated).to_numpy(zero_copy_only=False)
    several = np.flatnonzero(mask)
    merged = _merge_rows(table.take(several).append_column("_i", pa.array(several)))
    single = np.flatnonzero(~mask)
    out = _concat([table.take(single), merged.drop_columns(["_i"])])
    assert out is not None
    order = np.argsort(np.concatenate([single, merged.column("_i").to_numpy()]), kind="stable")
    return _with_dtypes(out.take(order).select(table.column_names), _dtypes(table))


def _repeated_ids(ids: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The ids that occur more than once (DuckDB's hash aggregate, on every core)."""
    with _ids_in_duckdb(ids) as con:
        found = con.sql("SELECT id FROM ids GROUP BY id HAVING count(*) > 1").to_arrow_table()
        return found.column(0).combine_chunks()


@contextlib.contextmanager
def _ids_in_duckdb(ids: pa.ChunkedArray | pa.Array) -> Iterator[Any]:
    """A DuckDB connection of its own with ``ids`` as the table ``ids(id)``."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("ids", pa.table({"id": ids}))
        yield con
    finally:
        con.close()


def _merge_rows(table: pa.Table) -> pa.Table:
    """One row per id, in the order of first appearance: the last non-null value of every
    column but ``_i``, of which the first (the row's place in the whole table)."""
    others = [c for c in table.column_names if c not in ("id", "_i")]
    null_typed = [c for c in others if pa.types.is_null(table.schema.field(c).type)]
    encoded = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
    body = _decoded(table.drop_columns(null_typed) if null_typed else table)
    agg = body.group_by("id", use_threads=False).aggregate(
        [(c, "last") for c in others if c not in null_typed] + [("_i", "min")]
    )
    agg = agg.rename_columns([
        c[: -len("_last")] if c.endswith("_last") else "_i" if c == "_i_min" else c
        for c in agg.column_names
    ])  # fmt: skip
    for c in null_typed:
        agg = agg.append_column(c, pa.nulls(agg.num_rows))
    for c in encoded:  # repeated values (provenance, labels) stay compact
        i = agg.schema.get_field_index(c)
        agg = agg.set_column(i, c, pc.dictionary_encode(agg.column(c)))
    return agg.select(table.column_names)


def _take_sorted(col: pa.ChunkedArray | pa.Array, rows: np.ndarray) -> pa.Array:
    """``col.take(rows)`` for ascending ``rows``, chunk by chunk: Arrow's take on a chunked
    array may first concatenate every chunk (seconds for twelve million ids, where taking from
    each chunk costs only the rows taken).

    Examples
    --------
    >>> _take_sorted(pa.chunked_array([["a", "b"], ["c", "d"]]), np.array([1, 2])).to_pylist()
    ['b', 'c']
    """
    if isinstance(col, pa.Array):
        return col.take(pa.array(rows, pa.int64()))
    if not rows.size:
        return pa.array([], col.type)
    chunks = [c for c in col.chunks if len(c)]
    starts = np.cumsum([0] + [len(c) for c in chunks])
    which = np.searchsorted(starts, rows, side="right") - 1
    pieces = []
    for k in np.unique(which).tolist():
        local = rows[which == k] - starts[k]
        pieces.append(chunks[k].take(pa.array(local, pa.int64())))
    if len(pieces) > 1 and pa.types.is_dictionary(col.type):  # chunks may differ in dictionary
        pieces = [p.dictionary_decode() for p in pieces]
    return pa.concat_arrays(pieces) if len(pieces) > 1 else pieces[0]


def _repetitive(table: pa.Table, sample: int = 20_000) -> list[str]:
    """Columns worth Parquet's dictionary encoding: dictionary-typed ones, and others whose
    values repeat in a sample (ids and names do not: trying them costs more than it saves)."""
    out = []
    step = max(1, table.num_rows // sample)
    rows = np.arange(0, table.num_rows, step)[:sample]
    for f in table.schema:
        if pa.types.is_dictionary(f.type) or pa.types.is_boolean(f.type):
            out.append(f.name)
            continue
        if pa.types.is_null(f.type):  # all missing (a frame read back with an empty column)
            continue
        part = _take_sorted(table.column(f.name), rows)
        if len(part) and pc.count_distinct(part).as_py() <= len(part) // 4:
            out.append(f.name)
    return out


#: tables a building store consolidates and writes at once (:meth:`MemoryStore.finished`)
_BUILD_THREADS = 2


def _distinct(ids: pa.ChunkedArray) -> bool:
    """Whether every id occurs once.

    64-bit hashes of the ids (DuckDB's ``hash``, vectorised and parallel) sorted with numpy:
    distinct hashes prove distinct ids; only the ids whose hashes repeat (a repeated id, or a
    collision) are compared as strings. About 3x faster than an exact count alone and 10x faster
    than pyarrow's ``count_distinct`` on two cores; counting every id exactly when a few repeat
    cost 11 s of a million-household build.

    Examples
    --------
    >>> _distinct(pa.chunked_array([["a", "b"], ["c"]])), _distinct(pa.chunked_array([["a", "b", "a"]]))
    (True, False)
    """
    if ids.null_count:
        return False
    if len(ids) < 2:
        return True
    with _ids_in_duckdb(ids) as con:
        hashes = con.sql("SELECT hash(id) AS h FROM ids").to_arrow_table().column(0)
    h = hashes.to_numpy()
    ordered = np.sort(h)
    same = ordered[1:] == ordered[:-1]
    if not same.any():
        return True
    rows = np.flatnonzero(np.isin(h, np.unique(ordered[1:][same])))
    suspects = _take_sorted(ids, rows)
    return pc.count_distinct(suspects).as_py() == len(rows)


class _Table:
    """One label's or type's rows.

    The consolidated rows live in one of three forms: ``arrow`` (after writes), ``frame`` (after
    the first read: pandas, as readers get it) or ``path`` (a Parquet file of the generation the
    store was opened on, not read yet); ``pending`` holds writes not consolidated yet.
    """

    def __init__(self, path: FsPath | None = None) -> None:
        self.path = path
        self.arrow: pa.Table | None = None
        self.frame: pd.DataFrame | None = None
        self.pending: list[tuple[pa.Table, bool]] = []
        self.dtypes: dict[str, str] = {}
        self.changed = False  # differs from `path` (a new generation must write it)

    def add(self, rows: pa.Table, create_only: bool) -> None:
        for c, d in _dtypes(rows).items():
            self.dtypes.setdefault(c, d)
        self.pending.append((rows, create_only))
        self.changed = True

    def _base(self) -> pa.Table | None:
        if self.arrow is not None:
            return self.arrow
        if self.frame is not None:
            return frame_to_arrow(self.frame)
        if self.path is not None:
            meta = pq.read_schema(self.path).metadata or {}
            repeated = json.loads(meta.get(REPEATED_KEY, b"[]"))
            table = pq.read_table(self.path, read_dictionary=repeated or None)
            for c, d in _dtypes(table).items():
                self.dtypes.setdefault(c, d)
            return table
        return None

    def consolidated(self) -> pa.Table | None:
        """The rows as one Arrow table with distinct ids (pending writes merged in)."""
        if not self.pending:
            base = self._base()
            if self.frame is None:
                self.arrow = base
            return base
        base = self._base()
        merges = [t for t, c in self.pending if not c]
        creates = [t for t, c in self.pending if c]
        full = _concat(([base] if base is not None else []) + merges)
        if full is not None and merges and not _distinct(full.column("id")):
            full = _last_values(full)
        if creates:
            bare = _concat(creates)
            assert bare is not None
            if full is not None:
                bare = bare.filter(
                    pc.invert(
                        pc.is_in(bare.column("id"), value_set=full.column("id").combine_chunks())
                    )
                )
            if bare.num_rows and not _distinct(bare.column("id")):
                bare = _first_rows(bare)
            full = _concat([full, bare] if full is not None else [bare])
        self.pending = []
        self.arrow = _with_dtypes(full, self.dtypes) if full is not None else None
        self.frame = None
        return self.arrow

    def arrow_table(self) -> pa.Table | None:
        """The rows as Arrow (read once and kept) unless they are held as pandas already
        (then None: the frame serves, without a second copy)."""
        if self.pending:
            return self.consolidated()
        if self.arrow is not None:
            return self.arrow
        if self.frame is not None:
            return None
        self.arrow = self._base()
        return self.arrow

    def pandas(self) -> pd.DataFrame | None:
        """The rows as the pandas frame readers get (converted once, then kept)."""
        if self.frame is not None and not self.pending:
            return self.frame
        table = self.consolidated()
        if table is None:
            return None
        self.frame = arrow_to_frame(table, self.dtypes)
        self.arrow = None  # held once, as pandas
        return self.frame

    def num_rows(self) -> int:
        if self.pending:
            table = self.consolidated()
            return table.num_rows if table is not None else 0
        if self.frame is not None:
            return len(self.frame)
        if self.arrow is not None:
            return self.arrow.num_rows
        if self.path is not None:
            return pq.ParquetFile(self.path).metadata.num_rows
        return 0

    def write(self, dest: FsPath) -> int:
        """Persist into ``dest`` (a hard link when unchanged since read); the rows written."""
        if not self.changed and not self.pending and self.path is not None:
            if self.path == dest:
                return self.num_rows()
            try:
                os.link(self.path, dest)
            except OSError:
                import shutil

                shutil.copyfile(self.path, dest)
            return self.num_rows()
        table = self.consolidated()
        if table is None and self.frame is not None:
            table = frame_to_arrow(self.frame)
        if table is None or not table.num_rows:
            return 0
        table = _with_dtypes(table, {**_dtypes(table), **self.dtypes})
        repeated = _repetitive(table)
        meta = {**(table.schema.metadata or {}), REPEATED_KEY: json.dumps(repeated).encode()}
        pq.write_table(table.replace_schema_metadata(meta), dest, use_dictionary=repeated)
        return table.num_rows


#: file identity (device, inode, size, modified time) -> digest of its bytes
_DIGESTS: dict[tuple[int, int, int, int], str] = {}


def _file_digest(path: FsPath) -> str:
    """SHA-256 of a file's bytes (24 hex characters), computed once per file version."""
    st = os.stat(path)
    ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    if ident not in _DIGESTS:
        import hashlib

        with open(path, "rb") as f:
            _DIGESTS[ident] = hashlib.file_digest(f, "sha256").hexdigest()[:24]
    return _DIGESTS[ident]


def _rows(rows: pd.DataFrame | pa.Table) -> pa.Table:
    if isinstance(rows, pa.Table):
        return rows
    return frame_to_arrow(rows.reset_index(drop=True))


class MemoryStore(GraphStore):
    """In-memory graph store persisted as Parquet generations in ``workspace``.

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

    def __init__(
        self,
        workspace: str | os.PathLike[str] | None = None,
        schema: Schema = SCHEMA,
        generation: int | None = None,
    ):
        super().__init__(schema)
        self.workspace = FsPath(workspace) if workspace else None
        self._nodes: dict[str, _Table] = {}
        self._rels: dict[str, _Table] = {}
        self._version = 0
        self._adj: _Adjacency | None = None
        self._adj_lock = threading.Lock()
        #: the generation this store was opened on (None: nothing persisted yet)
        self.generation: generations.Generation | None = None
        self._build_dir: FsPath | None = None
        self._attached: FsPath | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._writes: list[Future[None]] = []
        if self.workspace is not None:
            self._open(generation)

    @classmethod
    def building(cls, graph_dir: str | os.PathLike[str], schema: Schema = SCHEMA) -> MemoryStore:
        """An empty store whose tables are written into ``graph_dir`` as each is
        :meth:`finished` and then read back lazily: a load builds a generation holding one label
        in memory at a time."""
        store = cls(None, schema)
        store._build_dir = FsPath(graph_dir)
        return store

    @classmethod
    def at(cls, graph_dir: str | os.PathLike[str], schema: Schema = SCHEMA) -> MemoryStore:
        """A store reading the graph in ``graph_dir`` (``nodes/``, ``relationships/``), e.g. a
        generation being written; not bound to a workspace (``flush`` persists nothing)."""
        store = cls(None, schema)
        store._attach(FsPath(graph_dir))
        return store

    def _attach(self, graph_dir: FsPath) -> None:
        self._attached = graph_dir
        for kind, tables, known in (
            ("nodes", self._nodes, self.schema.nodes),
            ("relationships", self._rels, self.schema.relationships),
        ):
            d = graph_dir / kind
            if not d.exists():
                continue
            for f in sorted(d.glob("*.parquet")):
                if f.stem in known:
                    tables[f.stem] = _Table(f)

    def finished(self, kind: str, name: str) -> None:
        """In a store made by :meth:`building`: consolidate ``name`` and write it now, keeping
        only its file (read again when asked for)."""
        if self._build_dir is None:
            return
        tables = self._nodes if kind == "nodes" else self._rels
        table = tables.get(name)
        if table is None:
            return
        d = self._build_dir / kind
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"{name}.parquet"

        # consolidating (merging repeated ids) and writing run in the background, mostly in
        # pyarrow and DuckDB without the interpreter lock: the loader resolves the next table
        # meanwhile. Nothing writes to a table once it is finished.
        def write() -> None:
            table.consolidated()
            if table.write(path):
                table.path, table.arrow, table.frame, table.changed = path, None, None, False
            else:
                tables.pop(name, None)

        if self._writer is None:
            self._writer = ThreadPoolExecutor(
                _BUILD_THREADS, thread_name_prefix="riskgraph-parquet"
            )
        self._writes.append(self._writer.submit(write))
        self._touch()

    def generations_root(self) -> FsPath | None:
        """The workspace this store reads its generations from (None: in memory only)."""
        return self.workspace

    def parquet_dir(self) -> FsPath | None:
        """The directory whose ``nodes/`` and ``relationships/`` Parquet files hold this
        store's whole graph (what Spark or pyarrow may read), flushing a workspace store first;
        None when the graph lives only in memory.

        Examples
        --------
        >>> MemoryStore().parquet_dir() is None
        True
        """
        self._drain()
        if self.workspace is not None:
            self.flush()
            return self.generation.graph if self.generation is not None else None
        if self.changed():
            return None
        return self._build_dir or self._attached

    def _drain(self) -> None:
        """Wait for the background writes of :meth:`finished` (and raise their failure)."""
        writes, self._writes = self._writes, []
        for future in writes:
            future.result()

    @classmethod
    def from_settings(cls, workspace: str | os.PathLike[str] | None = None) -> MemoryStore:
        """The store persisted in ``workspace`` (an empty one in memory without it)."""
        return cls(workspace)

    def reopen(self) -> MemoryStore | None:
        """The workspace's current generation read afresh (what another process flushed since);
        None without a workspace."""
        return None if self.workspace is None else type(self)(self.workspace, self.schema)

    # -- persistence -------------------------------------------------------------------------
    def _open(self, gen_id: int | None) -> None:
        assert self.workspace is not None
        gen = (
            generations.current(self.workspace)
            if gen_id is None
            else generations.generation(self.workspace, gen_id)
        )
        self.generation = gen
        if gen is not None:
            self._attach(gen.graph)

    def persist(self, graph_dir: str | os.PathLike[str]) -> dict[str, dict[str, int]]:
        """Write every table into ``graph_dir/nodes`` and ``graph_dir/relationships`` (unchanged
        tables of the generation this store was opened on are hard-linked); the rows written."""
        self._drain()
        out: dict[str, dict[str, int]] = {"nodes": {}, "relationships": {}}
        for kind, tables in (("nodes", self._nodes), ("relationships", self._rels)):
            d = FsPath(graph_dir) / kind
            d.mkdir(parents=True, exist_ok=True)
            for name in sorted(tables):
                n = tables[name].write(d / f"{name}.parquet")
                if n:
                    out[kind][name] = n
        return out

    def changed(self) -> bool:
        """Whether anything was written since the store was opened or last flushed."""
        tables = [*self._nodes.values(), *self._rels.values()]
        return self._cleared or any(t.changed or t.pending for t in tables)

    _cleared = False

    def flush(
        self,
        *,
        meta: Mapping[str, Any] | None = None,
        attach: Mapping[str, FsPath] | None = None,
    ) -> None:
        """Persist as a new generation of the workspace and make it current (atomically), with
        ``meta`` in its ``generation.json`` and the ``attach`` files in its ``scan/``; a no-op
        without a workspace or when nothing changed."""
        if self.workspace is None or not self.changed():
            return
        with generations.begin(self.workspace, kind="store") as writer:
            counts = self.persist(writer.graph)
            if attach:
                (writer.path / "scan").mkdir(parents=True, exist_ok=True)
                for name, src in attach.items():
                    shutil.copyfile(src, writer.path / "scan" / name)
            gen = writer.commit({**counts, **(meta or {})})
        self._adopt(gen)

    def _adopt(self, gen: generations.Generation) -> None:
        """Point the tables at the files of ``gen`` (just written from them)."""
        self.generation = gen
        self._cleared = False
        for kind, tables in (("nodes", self._nodes), ("relationships", self._rels)):
            for name, table in tables.items():
                path = gen.graph / kind / f"{name}.parquet"
                table.path = path if path.exists() else None
                table.changed = False

    # -- writing -----------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        return None

    def _touch(self) -> None:
        self._version += 1
        self._adj = None

    def upsert_nodes(
        self, label: str, rows: pd.DataFrame | pa.Table, *, create_only: bool = False
    ) -> int:
        if label not in self.schema.nodes:
            raise KeyError(f"unknown node label {label!r}")
        n = rows.num_rows if isinstance(rows, pa.Table) else len(rows)
        if not n:
            return 0
        names = rows.column_names if isinstance(rows, pa.Table) else list(rows.columns)
        if "id" not in names:
            raise ValueError("node rows need an 'id' column")
        self._nodes.setdefault(label, _Table()).add(_rows(rows), create_only)
        self._touch()
        return n

    def upsert_relationships(self, rtype: str, rows: pd.DataFrame | pa.Table) -> int:
        if rtype not in self.schema.relationships:
            raise KeyError(f"unknown relationship type {rtype!r}")
        n = rows.num_rows if isinstance(rows, pa.Table) else len(rows)
        if not n:
            return 0
        names = rows.column_names if isinstance(rows, pa.Table) else list(rows.columns)
        missing = set(EDGE_COLUMNS) - set(names)
        if missing:
            raise ValueError(f"relationship rows need columns {sorted(missing)}")
        self._rels.setdefault(rtype, _Table()).add(_rows(rows), False)
        self._touch()
        return n

    def clear(self) -> None:
        """Remove everything (persisted at once as an empty generation when in a workspace)."""
        self._nodes.clear()
        self._rels.clear()
        self._touch()
        self._cleared = True
        self.flush()

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
        self._drain()
        if label not in self.schema.nodes:
            raise KeyError(f"unknown node label {label!r}")
        t = self._nodes.get(label)
        return self._select(t.pandas() if t else None, ["id"], columns)

    def relationships(self, rtype: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        self._drain()
        if rtype not in self.schema.relationships:
            raise KeyError(f"unknown relationship type {rtype!r}")
        t = self._rels.get(rtype)
        return self._select(t.pandas() if t else None, EDGE_COLUMNS, columns)

    def arrow(self, name: str) -> pa.Table | None:
        """The Arrow table of ``name`` (None when it is empty or already read as pandas).

        Examples
        --------
        >>> import pandas as pd
        >>> s = MemoryStore()
        >>> _ = s.upsert_nodes("Person", pd.DataFrame({"id": ["110105194912310029"]}))
        >>> s.arrow("Person").num_rows, s.arrow("Household")
        (1, None)
        """
        self._drain()
        table = (self._nodes if name in self.schema.nodes else self._rels).get(name)
        return None if table is None else table.arrow_table()

    def table_token(self, name: str) -> str | None:
        """The digest of the Parquet file that holds ``name`` (a table written again with the
        same rows is the same bytes, so its token stays when a load rebuilt the graph around
        another table); None while the table has rows not yet written to a file.

        Examples
        --------
        >>> import pandas as pd
        >>> s = MemoryStore()
        >>> s.table_token("Person")
        'absent'
        >>> _ = s.upsert_nodes("Person", pd.DataFrame({"id": ["110105194912310029"]}))
        >>> s.table_token("Person") is None
        True
        """
        self._drain()
        if self._cleared:
            return None
        table = (self._nodes if name in self.schema.nodes else self._rels).get(name)
        if table is None:
            return "absent"
        if table.changed or table.pending or table.path is None:
            return None
        return _file_digest(table.path)

    def counts(self) -> dict[str, dict[str, int]]:
        self._drain()
        out: dict[str, dict[str, int]] = {"nodes": {}, "relationships": {}}
        for key, tables in (("nodes", self._nodes), ("relationships", self._rels)):
            for name in sorted(tables):
                n = tables[name].num_rows()
                if n:
                    out[key][name] = n
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
        self._drain()
        adj = self._adj
        if adj is not None:
            return adj
        with self._adj_lock:  # concurrent API requests build it once, not once each
            if self._adj is None:
                nodes = {lbl: t.pandas() for lbl, t in self._nodes.items()}
                rels = {rt: t.pandas() for rt, t in self._rels.items()}
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
