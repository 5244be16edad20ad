"""Neo4j as the system of record: the ``GraphStore`` contract over a real Neo4j 5 server.

Semantics are those of :class:`graph_models.memory_store.MemoryStore` (the reference); the
contract tests in ``tests/graph_models/test_store.py`` run against both stores.

Writing
-------
Rows are sent in batches of ``batch_size`` as one ``UNWIND $rows AS row ...`` statement per batch,
each batch in its own managed write transaction (``session.execute_write``), which the driver
retries on transient errors (deadlocks, leader switches, a dropped connection). Labels and
relationship types are interpolated into Cypher only after checking membership in the validated
schema; every value travels as a parameter.

Each batch first tries to **create** its rows, which is what a first load and a new delivery are
(the staged loader resolves duplicates and writes every node, bare endpoints included, before the
first relationship):

* Nodes: ``CREATE (n:Label {id: row[0], name: row[1], ...})``; relationships: ``MATCH`` both
  endpoints through the uniqueness constraints' indexes, then ``CREATE (a)-[r:TYPE {id: ...,
  ...}]->(b)``. Rows are flat lists of values; a null in a ``CREATE`` pattern sets nothing. Property
  names are written into the statement only when they are plain ASCII identifiers (otherwise the
  row carries a map of its non-null values and the statement adds ``SET n += row[1]``).
* If the batch cannot be created whole, its transaction is rolled back and it is written by
  ``MERGE`` (below), and so is the rest of that call: an id the database already holds makes the
  uniqueness constraint refuse the ``CREATE`` (a reload, an overlapping delivery), and a missing
  endpoint makes ``MATCH`` drop a row (fewer created than sent).

``MERGE`` is idempotent on the uniqueness-constrained ``id``, so re-running a batch, or a whole
load after a crash, converges to the same graph:

* Nodes: ``MERGE (n:Label {id: id}) SET n += props``. ``props`` holds the row's non-null values
  only, so nulls never erase; ``create_only`` uses ``ON CREATE SET``. Rows travel as lists
  (``[id, props]``, ``[id, src, dst, props]``), which are cheaper to build than maps.
* Relationships, grouped by (``src_label``, ``dst_label``): endpoint nodes are merged (created
  bare, ``create_only``-style, if a caller sends a relationship before its endpoints), then the
  relationship is merged by its ``id``. A relationship whose ``id`` already exists between other
  endpoints is moved (the memory store's "last non-null ``src``/``dst`` wins"), keeping its
  properties.

Where the time goes, and how far this is from ``neo4j-admin database import``:
``docs/neo4j-ingest.md`` (numbers from ``bench/bench_ingest.py``).

Rows repeating an ``id`` within one call are collapsed first, exactly as the memory store
consolidates them (last non-null value per column; ``create_only`` keeps the first row).

Reading
-------
Frames are streamed: records are pulled from the server in driver-sized pages and appended to
one Python list per column, and each list becomes a column as soon as the stream ends, so a large
projection never holds the records and the frame at the same time. Columns: ``id`` (plus
``EDGE_COLUMNS`` for relationships), every schema property of the label/type, any other property
found, then the provenance columns present. Column dtypes follow the schema's value types, as the
loaders produce them: ``amount``/``pct``/``float`` -> float64 (NaN), ``int`` -> Int64,
everything else (``bool`` included: Python True/False) -> object with None; provenance ``_line`` is int64 and
properties outside the schema are typed from their values. Neo4j stores no nulls, so a column
that the memory store holds as all-missing is all-missing here too.

Examples
--------
>>> store = Neo4jStore.from_env()  # doctest: +SKIP
>>> store.upsert_nodes("Region", pd.DataFrame({"id": ["410000"], "name": ["河南省"]}))  # doctest: +SKIP
1
"""

from __future__ import annotations

import datetime as dt
import decimal
import operator
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import nullcontext
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from graph_models.errors import QueryError
from graph_models.neo4j_settings import connection_settings
from graph_models.schema import PROVENANCE_PROPERTIES, SCHEMA, Schema
from graph_models.store import (
    EDGE_COLUMNS,
    NEIGHBOURHOOD_HUB_DEGREE,
    PATH_HUB_DEGREE,
    GraphNode,
    GraphPath,
    GraphRelationship,
    GraphStore,
    Path,
    QueryResult,
    Subgraph,
)

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_READERS", "DEFAULT_WRITERS", "Neo4jStore"]

#: Rows per ``UNWIND`` statement (one transaction each); see bench/bench_ingest.py for the sweep.
DEFAULT_BATCH_SIZE = 10_000
#: Sessions writing one call's batches at once (see bench/bench_ingest.py).
DEFAULT_WRITERS = 1
#: Read transactions running at once in one process (``RISKGRAPH_NEO4J_READERS``). More threads
#: than this wait on a semaphore instead of all contending for the GIL while they talk Bolt:
#: measured through the API at 100k households (50 clients, 2 cores), 40 concurrent readers cost
#: 30 ms of Python CPU per 2-hop neighbourhood, 4 cost 17 ms.
DEFAULT_READERS = 4
#: Relationships/nodes deleted per inner transaction by ``clear()``.
_CLEAR_BATCH = 20_000
#: relationships of one start grouped at most by ``neighborhoods`` (more: the answer is truncated)
_AROUND_CAP = 1000
_FLOAT_TYPES = frozenset({"amount", "pct", "float"})
_PLAIN = frozenset({str, int, bool, type(None)})
#: property names written into a CREATE pattern (anything else travels as a map key)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# -- values going in --------------------------------------------------------------------------


def _py_value(v: Any) -> Any:
    """One cell as a driver-friendly Python value; None for every flavour of missing."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float):
        return None if v != v else v
    if isinstance(v, np.generic):
        return _py_value(v.item())
    if isinstance(v, dt.datetime):  # before date: a datetime is a date
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    return v


def _py_values(s: pd.Series) -> list[Any]:
    """A column as a list of Python scalars (ints, floats, str, bool) with None for missing."""
    dtype = s.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        arr = s.to_numpy()
        out = arr.tolist()
        for i in np.flatnonzero(np.isnan(arr)).tolist():
            out[i] = None
        return out
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return s.to_numpy().tolist()
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        return [_py_value(v) for v in s.astype(object).tolist()]
    # object, and extension dtypes (str, Int64, boolean, Float64, ...) with None for missing
    out = s.to_numpy(dtype=object, na_value=None).tolist()
    if set(map(type, out)) <= _PLAIN:
        return out
    return [_py_value(v) for v in out]


def _frame(rows: pd.DataFrame | pa.Table) -> pd.DataFrame:
    """Rows as pandas (Arrow tables as the memory store reads them)."""
    if isinstance(rows, pa.Table):
        from graph_models.memory_store import arrow_to_frame

        return arrow_to_frame(rows)
    return rows


def _collapse(frame: pd.DataFrame, create_only: bool) -> pd.DataFrame:
    """One row per id, as the memory store consolidates: last non-null wins (first for creates)."""
    if frame["id"].is_unique:
        return frame
    if create_only:
        return frame.drop_duplicates("id", keep="first")
    return frame.groupby("id", sort=False, as_index=False, dropna=False).last()


def _payload(frame: pd.DataFrame, keys: Sequence[str]) -> list[tuple[Any, ...]]:
    """``[(key values..., {non-null properties})]`` for an UNWIND parameter."""
    names = [c for c in frame.columns if c not in keys]
    has_missing = frame[names].isna().any().to_dict() if names else {}
    dense = [c for c in names if not has_missing[c]]
    if dense:
        props = [
            dict(zip(dense, vals, strict=True))
            for vals in zip(*(_py_values(frame[c]) for c in dense), strict=True)
        ]
    else:
        props = [{} for _ in range(len(frame))]
    for c in names:
        if has_missing[c]:
            for row, v in zip(props, _py_values(frame[c]), strict=True):
                if v is not None:
                    row[c] = v
    return list(zip(*(_py_values(frame[k]) for k in keys), props, strict=True))


def _slices(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for i in range(0, len(frame), size):
        yield frame.iloc[i : i + size]


# -- values coming out ------------------------------------------------------------------------


class _Columns:
    """Column lists filled record by record; a property first seen late is back-filled with None."""

    def __init__(self, fixed: Sequence[str]) -> None:
        self.fixed = list(fixed)
        self.data: dict[str, list[Any]] = {n: [] for n in self.fixed}
        self.n = 0

    def add(self, values: Sequence[Any], props: dict[str, Any]) -> None:
        data = self.data
        for name, v in zip(self.fixed, values, strict=True):
            data[name].append(v)
        self.n += 1
        for k, v in props.items():
            col = data.get(k)
            if col is None:
                col = data[k] = [None] * (self.n - 1)
            col.append(v)
        if len(data) > len(self.fixed) + len(props):
            for col in data.values():
                if len(col) < self.n:
                    col.append(None)


def _typed_column(values: list[Any], value_type: str | None) -> Any:
    """A list of Python values as a column with the dtype the loaders give that value type."""
    try:
        if value_type in _FLOAT_TYPES:
            return pd.array([np.nan if v is None else v for v in values], dtype="float64")
        if value_type == "int":
            return pd.array(values, dtype="Int64")
    except (TypeError, ValueError):  # a caller stored something else under a typed name
        pass
    if value_type is None:  # outside the schema: type from the values
        kinds = set(map(type, values))
        missing = type(None) in kinds
        kinds.discard(type(None))
        if kinds == {int}:
            return pd.array(values, dtype="Int64") if missing else np.array(values, dtype="int64")
        if kinds == {float} or kinds == {int, float}:
            return pd.array([np.nan if v is None else v for v in values], dtype="float64")
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return pd.Series(out, dtype=object, copy=False)


class _NotAllCreated(Exception):
    """A ``CREATE`` batch created fewer entities than it was sent (rolled back)."""


class _FastPath:
    """Whether one call's batches still try ``CREATE`` first (shared by its writers).

    The first batch that cannot be created (ids already in the database: a reload, an
    overlapping delivery; or endpoints missing) turns it off: the rest of the call merges.
    """

    def __init__(self, on: bool) -> None:
        self.on = on


def _empty_frame(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


class Neo4jStore(GraphStore):
    """The graph in a Neo4j 5 database (Community or Enterprise), via the official driver.

    Parameters
    ----------
    uri, user, password : str
        Bolt connection settings, e.g. ``bolt://127.0.0.1:7697``.
    database : str, optional
        Database name (the server's default database if None).
    batch_size : int
        Rows per ``UNWIND`` statement and transaction.
    writers : int
        Sessions writing the batches of one call concurrently (1: one after another).
    schema : Schema
        The graph schema; labels and types outside it are refused.
    readers : int, optional
        Read transactions at once (default ``RISKGRAPH_NEO4J_READERS`` or 4).
    create_first : bool
        Try each batch as ``CREATE`` first (new ids), falling back to ``MERGE``; False: always
        ``MERGE`` (the benchmark's comparison).

    The constructor checks that the server answers (``verify_connectivity``), so an unreachable
    server or wrong credentials fail at once with the driver's ``ServiceUnavailable`` /
    ``AuthError`` (the CLI turns those into one line with ``describe_neo4j_error``).
    """

    name = "neo4j"
    supports_cypher = True
    supports_bulk_import = True
    nodes_first = True

    def __init__(
        self,
        uri: str,
        user: str,
        password: str,
        database: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        writers: int = DEFAULT_WRITERS,
        schema: Schema = SCHEMA,
        readers: int | None = None,
        create_first: bool = True,
    ) -> None:
        super().__init__(schema)
        from neo4j import GraphDatabase

        if operator.index(batch_size) < 1 or operator.index(writers) < 1:
            raise ValueError("batch_size and writers must be positive integers")
        self.uri = uri
        self.database = database or None
        self.batch_size = int(batch_size)
        self.writers = int(writers)
        self.create_first = bool(create_first)
        self._pool: ThreadPoolExecutor | None = None
        if readers is None:
            readers = int(os.environ.get("RISKGRAPH_NEO4J_READERS", DEFAULT_READERS))
        if operator.index(readers) < 1:
            raise ValueError("readers must be a positive integer")
        self._readers = threading.BoundedSemaphore(readers)
        self._reading = threading.local()  # a read inside a read must not wait for a slot
        self._driver = GraphDatabase.driver(uri, auth=(user, password), user_agent="riskgraph")
        try:
            self._driver.verify_connectivity()
        except BaseException:
            self._driver.close()
            raise
        self._statements: dict[tuple[str, ...], str] = {}
        self._constraints: set[str] = set()  # names known to exist (see _has_constraints)

    @classmethod
    def from_env(
        cls,
        batch_size: int = DEFAULT_BATCH_SIZE,
        writers: int = DEFAULT_WRITERS,
        create_first: bool = True,
    ) -> Neo4jStore:
        """Connect with ``NEO4J_URI`` / ``NEO4J_USER`` / ``NEO4J_PASSWORD`` / ``NEO4J_DATABASE``.

        Without ``NEO4J_URI`` the bundled development server is used: its URI from
        ``RISKGRAPH_NEO4J_BOLT_PORT`` and its password from ``$RISKGRAPH_NEO4J_HOME/password``
        unless ``NEO4J_PASSWORD`` is set (see :mod:`graph_models.neo4j_settings`).
        """
        settings = connection_settings()
        return cls(
            str(settings["uri"]),
            str(settings["user"]),
            str(settings["password"]),
            database=settings["database"],
            batch_size=batch_size,
            writers=writers,
            create_first=create_first,
        )

    @classmethod
    def from_settings(cls, workspace: str | os.PathLike[str] | None = None) -> Neo4jStore:
        """:meth:`from_env` (the graph lives in the server, not in ``workspace``)."""
        return cls.from_env()

    # -- plumbing ------------------------------------------------------------------------------
    def _session(self) -> Any:
        return self._driver.session(database=self.database)

    @staticmethod
    def _run_batch(tx: Any, statement: str, rows: list[tuple[Any, ...]]) -> Any:
        """The unit of work: one batch, one transaction (idempotent, so retries are safe)."""
        return tx.run(statement, rows=rows).consume()

    def _write(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        with self._session() as session:
            session.execute_write(self._run_batch, statement, rows)

    def _create(self, statement: str, rows: list[tuple[Any, ...]], counter: str) -> bool:
        """Run a ``CREATE`` statement as one transaction; False (and nothing written) when
        it cannot create every row: an id the database already holds (the uniqueness
        constraint refuses it) or, for relationships, an endpoint that does not exist yet
        (``MATCH`` drops the row, so fewer are created than sent)."""
        from neo4j.exceptions import ConstraintError

        def work(tx: Any) -> None:
            summary = self._run_batch(tx, statement, rows)
            if getattr(summary.counters, counter) != len(rows):
                raise _NotAllCreated  # rolls the transaction back

        try:
            with self._session() as session:
                session.execute_write(work)
        except (ConstraintError, _NotAllCreated):
            return False
        return True

    def _read(self, fn: Callable[[Any], Any]) -> Any:
        nested = getattr(self._reading, "nested", False)  # already holds a slot: no second one
        with nullcontext() if nested else self._readers:
            self._reading.nested = True
            try:
                with self._session() as session:
                    return session.execute_read(fn)
            finally:
                self._reading.nested = nested

    def _fetch(self, statement: str, **params: Any) -> list[Any]:
        return self._read(lambda tx: list(tx.run(statement, params)))

    def _node_label(self, label: str) -> str:
        if label not in self.schema.nodes:
            raise KeyError(f"unknown node label {label!r}")
        return label

    def _rel_type(self, rtype: str) -> str:
        if rtype not in self.schema.relationships:
            raise KeyError(f"unknown relationship type {rtype!r}")
        return rtype

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self._driver.close()

    # -- writing -------------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        """Create the schema's uniqueness constraints and indexes (idempotent) and wait for them."""
        with self._session() as session:
            for ddl in self.schema.neo4j_constraints():
                session.run(ddl).consume()
            session.run("CALL db.awaitIndexes(600)").consume()

    def _node_statement(self, label: str, create_only: bool) -> str:
        key = ("node", label, str(create_only))
        if key not in self._statements:
            set_clause = "ON CREATE SET n += props" if create_only else "SET n += props"
            self._statements[key] = (
                "UNWIND $rows AS row WITH row[0] AS id, row[1] AS props "
                f"MERGE (n:{label} {{id: id}}) {set_clause}"
            )
        return self._statements[key]

    def _relationship_statement(
        self, rtype: str, src_label: str, dst_label: str, move: bool
    ) -> str:
        """Merge endpoints (bare if missing), then the relationship by id, then add its values.

        The ``move`` variant first deletes a relationship whose id links other endpoints and
        carries its properties over: the memory store's "last non-null src/dst wins".
        """
        key = ("rel", rtype, src_label, dst_label, str(move))
        if key not in self._statements:
            ends = (
                "UNWIND $rows AS row WITH row[0] AS id, row[1] AS src, row[2] AS dst, row[3] AS props "
                f"MERGE (a:{src_label} {{id: src}}) MERGE (b:{dst_label} {{id: dst}}) "
            )
            if move:
                self._statements[key] = (
                    ends + "WITH a, b, id, props "
                    f"OPTIONAL MATCH (x)-[old:{rtype} {{id: id}}]->(y) WHERE x <> a OR y <> b "
                    "WITH a, b, id, props, old, properties(old) AS moved DELETE old "
                    f"WITH a, b, id, props, moved MERGE (a)-[r:{rtype} {{id: id}}]->(b) "
                    "SET r += coalesce(moved, {}) SET r += props"
                )
            else:
                self._statements[key] = (
                    ends + f"MERGE (a)-[r:{rtype} {{id: id}}]->(b) SET r += props"
                )
        return self._statements[key]

    def _create_batch(
        self, part: pd.DataFrame, keys: Sequence[str], head: str, pattern: str
    ) -> tuple[str, list[tuple[Any, ...]]]:
        """A ``CREATE`` statement and its rows for one batch of new entities.

        Rows are flat lists (``keys``' values, then each property column, None for missing):
        the properties go into the ``CREATE`` pattern itself, so the server writes each entity
        once (no separate ``SET`` step) and the client builds no map per row. A null value in
        a ``CREATE`` pattern sets nothing, so nulls never reach the graph, as with ``MERGE``.
        Property names are written into the statement only when they are plain ASCII
        identifiers; any other name sends maps (``SET x += row[k]``), so names stay data.
        """
        names = [c for c in part.columns if c not in keys]
        plain = all(_IDENTIFIER.fullmatch(str(c)) for c in names)
        key = ("create", head, pattern, *keys, *(names if plain else ["*"]))
        if key not in self._statements:
            n = len(keys)
            if plain:
                props = "".join(f", `{c}`: row[{n + i}]" for i, c in enumerate(names))
                self._statements[key] = f"{head} CREATE {pattern % ('{id: row[0]' + props + '}')}"
            else:
                var = "n" if pattern.startswith("(n") else "r"
                self._statements[key] = (
                    f"{head} CREATE {pattern % '{id: row[0]}'} SET {var} += row[{n}]"
                )
        if not plain:
            return self._statements[key], _payload(part, keys)
        cols = [_py_values(part[c]) for c in [*keys, *names]]
        return self._statements[key], list(zip(*cols, strict=True))

    def _has_constraints(self, names: Iterable[str]) -> bool:
        """Whether the uniqueness constraints ``names`` exist (``CREATE`` relies on them to
        refuse an existing id; without them only ``MERGE`` is idempotent)."""
        wanted = set(names)
        if not wanted <= self._constraints:
            recs = self._fetch("SHOW CONSTRAINTS YIELD name")
            self._constraints = {r["name"] for r in recs}
        return wanted <= self._constraints

    def _create_nodes(self, label: str, part: pd.DataFrame) -> bool:
        """New nodes only: what the ``MERGE`` statement does when no id exists yet."""
        if not self._has_constraints([f"{label.lower()}_id"]):
            return False
        statement, rows = self._create_batch(part, ["id"], "UNWIND $rows AS row", f"(n:{label} %s)")
        return self._create(statement, rows, "nodes_created")

    def _create_relationships(
        self, rtype: str, src_label: str, dst_label: str, part: pd.DataFrame
    ) -> bool:
        """New relationships between existing endpoints only (found through the uniqueness
        constraints' indexes; a row whose endpoint is missing is dropped by ``MATCH``)."""
        names = [f"rel_{rtype.lower()}_id", f"{src_label.lower()}_id", f"{dst_label.lower()}_id"]
        if not self._has_constraints(names):
            return False
        # the hints keep the seeks when the planner's statistics say a label is (nearly) empty
        head = (
            f"UNWIND $rows AS row MATCH (a:{src_label} {{id: row[1]}}) "
            f"USING INDEX a:{src_label}(id) "
            f"MATCH (b:{dst_label} {{id: row[2]}}) USING INDEX b:{dst_label}(id)"
        )
        statement, rows = self._create_batch(
            part, ["id", "src", "dst"], head, f"(a)-[r:{rtype} %s]->(b)"
        )
        return self._create(statement, rows, "relationships_created")

    def upsert_nodes(
        self, label: str, rows: pd.DataFrame | pa.Table, *, create_only: bool = False
    ) -> int:
        self._node_label(label)
        rows = _frame(rows)
        if not len(rows):
            return 0
        if "id" not in rows.columns:
            raise ValueError("node rows need an 'id' column")
        if rows["id"].isna().any():
            raise ValueError(f"{label}: node rows need a non-null 'id'")
        frame = _collapse(rows, create_only)
        merge = self._node_statement(label, create_only)
        fast = _FastPath(self.create_first)

        def write(part: pd.DataFrame) -> None:
            if fast.on and self._create_nodes(label, part):
                return
            fast.on = False
            self._write(merge, _payload(part, ["id"]))

        self._run_all(lambda part=part: write(part) for part in _slices(frame, self.batch_size))
        return len(rows)

    def upsert_relationships(self, rtype: str, rows: pd.DataFrame | pa.Table) -> int:
        self._rel_type(rtype)
        rows = _frame(rows)
        if not len(rows):
            return 0
        missing = set(EDGE_COLUMNS) - set(rows.columns)
        if missing:
            raise ValueError(f"relationship rows need columns {sorted(missing)}")
        if rows[list(EDGE_COLUMNS)].isna().any().any():
            raise ValueError(f"{rtype}: relationship rows need non-null {list(EDGE_COLUMNS)}")
        frame = _collapse(rows, create_only=False)
        labels = set(frame["src_label"]) | set(frame["dst_label"])
        unknown = sorted(str(lbl) for lbl in labels if lbl not in self.schema.nodes)
        if unknown:
            raise ValueError(f"{rtype}: unknown endpoint labels {unknown}")
        tasks = []
        fast = _FastPath(self.create_first)
        for (src_label, dst_label), group in frame.groupby(["src_label", "dst_label"], sort=True):
            # sorted by endpoint: nearby records per batch, and one lock order for all writers
            group = group.drop(columns=["src_label", "dst_label"])
            group = group.sort_values(["src", "dst"], kind="stable")
            tasks += [
                lambda part=part, s=str(src_label), d=str(dst_label): self._write_relationships(
                    rtype, s, d, part, fast
                )
                for part in _slices(group, self.batch_size)
            ]
        self._run_all(tasks)
        return len(rows)

    def _write_relationships(
        self,
        rtype: str,
        src_label: str,
        dst_label: str,
        part: pd.DataFrame,
        fast: _FastPath,
    ) -> None:
        from neo4j.exceptions import ConstraintError

        if fast.on and self._create_relationships(rtype, src_label, dst_label, part):
            return
        fast.on = False
        batch = _payload(part, ["id", "src", "dst"])
        try:
            self._write(self._relationship_statement(rtype, src_label, dst_label, False), batch)
        except ConstraintError:  # an id in the batch links other endpoints: move it (rare)
            self._write(self._relationship_statement(rtype, src_label, dst_label, True), batch)

    def _run_all(self, tasks: Iterable[Callable[[], None]]) -> None:
        """Run one call's batches: in order, or on ``writers`` sessions at once.

        The batches of one call hold distinct ids, so they commute; calls still apply in order
        (each waits for all of its batches).
        """
        if self.writers == 1:
            for task in tasks:
                task()
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.writers, thread_name_prefix="neo4j-writer")
        futures = [self._pool.submit(task) for task in tasks]
        wait(futures)
        for future in futures:
            future.result()  # the first failure, if any

    def clear(self) -> None:
        """Delete every node and relationship (constraints and indexes stay)."""
        with self._session() as session:
            session.run(
                f"MATCH ()-[r]->() CALL (r) {{ DELETE r }} IN TRANSACTIONS OF {_CLEAR_BATCH} ROWS"
            ).consume()
            session.run(
                f"MATCH (n) CALL (n) {{ DELETE n }} IN TRANSACTIONS OF {_CLEAR_BATCH} ROWS"
            ).consume()

    # -- reading -------------------------------------------------------------------------------
    def _frame(
        self,
        statement: str,
        fixed: Sequence[str],
        owner_props: dict[str, Any],
        all_columns: bool,
        params: dict[str, Any],
    ) -> pd.DataFrame:
        """Stream ``statement`` into a frame.

        Records are the ``fixed`` columns' values, then (when ``all_columns``) a property map.
        """
        label_at = [i for i, name in enumerate(fixed) if name.endswith("_label")]

        def consume(tx: Any) -> _Columns:
            cols = _Columns(fixed)
            labels: dict[str, str] = {}  # one str object per label rather than one per row
            for record in tx.run(statement, params):
                values = list(record.values()) if all_columns else list(record[0])
                props = values.pop() if all_columns else {}
                props.pop("id", None)
                for i in label_at:
                    values[i] = labels.setdefault(values[i], values[i])
                cols.add(values, props)
            return cols

        cols = self._read(consume)
        names = list(fixed)
        if cols.n == 0:  # as the memory store: just the base (or the asked) columns
            return _empty_frame(names)
        if all_columns:
            names += [p for p in owner_props if p not in names]
            names += sorted(
                k for k in cols.data if k not in names and k not in PROVENANCE_PROPERTIES
            )
            names += [p for p in PROVENANCE_PROPERTIES if p in cols.data]
        out: dict[str, Any] = {}
        for name in names:
            values = cols.data.pop(name, None)  # free each list once its column exists
            if values is None:
                values = [None] * cols.n
            spec = owner_props.get(name)
            out[name] = pd.Series(
                _typed_column(values, spec.type if spec is not None else None), copy=False
            )
        return pd.DataFrame(out, copy=False)

    def nodes(self, label: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        self._node_label(label)
        props = self.schema.nodes[label].properties
        if columns is None:
            statement = f"MATCH (n:{label}) RETURN n.id AS id, properties(n) AS p"
            return self._frame(statement, ["id"], props, True, {})
        statement = f"MATCH (n:{label}) RETURN [k IN $keys | n[k]] AS v"
        return self._frame(statement, list(columns), props, False, {"keys": list(columns)})

    def relationships(self, rtype: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        self._rel_type(rtype)
        props = self.schema.relationships[rtype].properties
        # endpoint columns come from the nodes, the rest from the relationship
        ends = {
            "src": "a.id",
            "src_label": "head(labels(a))",
            "dst": "b.id",
            "dst_label": "head(labels(b))",
        }
        if columns is None:
            items = ", ".join(["r.id", *ends.values(), "properties(r)"])
            statement = f"MATCH (a)-[r:{rtype}]->(b) RETURN {items}"
            return self._frame(statement, list(EDGE_COLUMNS), props, True, {})
        items = ", ".join(ends.get(c, f"r[$keys[{i}]]") for i, c in enumerate(columns))
        statement = f"MATCH (a)-[r:{rtype}]->(b) RETURN [{items}] AS v"
        return self._frame(statement, list(columns), props, False, {"keys": list(columns)})

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {"nodes": {}, "relationships": {}}
        parts = [
            f"MATCH (n:{lbl}) RETURN 'nodes' AS kind, '{lbl}' AS name, count(n) AS n"
            for lbl in self.schema.nodes
        ]
        parts += [
            f"MATCH ()-[r:{t}]->() RETURN 'relationships' AS kind, '{t}' AS name, count(r) AS n"
            for t in self.schema.relationships
        ]
        for rec in self._fetch(" UNION ALL ".join(parts)):
            if rec["n"]:
                out[rec["kind"]][rec["name"]] = rec["n"]
        return {k: dict(sorted(v.items())) for k, v in out.items()}

    def _lookup_labels(self, label: str | None) -> list[str]:
        if label is not None:
            return [label] if label in self.schema.nodes else []
        entity = list(self.schema.entity_labels)
        return entity + [lbl for lbl in self.schema.nodes if lbl not in entity]

    def _find(self, node_id: str, label: str | None) -> Any | None:
        """The first node with ``id`` in lookup order (entity labels first), as a driver Node."""
        labels = self._lookup_labels(label)
        if not labels:
            return None
        branches = " UNION ALL ".join(
            f"MATCH (n:{lbl} {{id: $id}}) RETURN n, {i} AS rank" for i, lbl in enumerate(labels)
        )
        recs = self._fetch(f"CALL () {{ {branches} }} RETURN n ORDER BY rank LIMIT 1", id=node_id)
        return recs[0]["n"] if recs else None

    def _label_of(self, node: Any) -> str:
        labels = sorted(node.labels)
        known = [lbl for lbl in labels if lbl in self.schema.nodes]
        return (known or labels)[0]

    def _node_record(self, node: Any) -> dict[str, Any]:
        props = dict(node)
        node_id = props.pop("id", None)
        return {"id": node_id, "label": self._label_of(node), "properties": props}

    def _edge_record(self, rel: Any, src: Any, dst: Any) -> dict[str, Any]:
        props = dict(rel)
        rel_id = props.pop("id", None)
        return {
            "id": rel_id, "type": rel.type,
            "src": src["id"], "src_label": self._label_of(src),
            "dst": dst["id"], "dst_label": self._label_of(dst),
            "properties": props,
        }  # fmt: skip

    @staticmethod
    def _hydrate(
        tx: Any, node_ids: Iterable[str], rel_ids: Iterable[str]
    ) -> tuple[dict[str, Any], dict[str, tuple[Any, Any, Any]]]:
        """Nodes and relationships by element id, in one transaction: ``({node element id:
        node}, {rel element id: (rel, start node, end node)})``, relationships kept only when
        both their endpoints are among the nodes fetched."""
        found = {
            rec["n"].element_id: rec["n"]
            for rec in tx.run(
                "UNWIND $ids AS i MATCH (n) WHERE elementId(n) = i RETURN n", ids=list(node_ids)
            )
        }
        # (an IN list lets the planner seek by element id; UNWIND + '=' would scan)
        # endpoints by element id, matched to the nodes just fetched: returning them whole
        # hydrated two full nodes per relationship again (a third of the API's CPU here)
        rels = {}
        for rec in tx.run(
            "MATCH ()-[r]->() WHERE elementId(r) IN $ids "
            "RETURN r, elementId(startNode(r)) AS a, elementId(endNode(r)) AS b",
            ids=list(rel_ids),
        ):
            if rec["a"] in found and rec["b"] in found:
                rels[rec["r"].element_id] = (rec["r"], found[rec["a"]], found[rec["b"]])
        return found, rels

    def get_entity(self, node_id: str, label: str | None = None) -> dict[str, Any] | None:
        node = self._find(node_id, label)
        return None if node is None else self._node_record(node)

    def get_entities(self, node_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(dict.fromkeys(str(i) for i in node_ids))
        labels = self._lookup_labels(None)
        if not ids or not labels:
            return {}
        # one index seek per label (an IN list), one round trip; the first label in lookup order
        # wins, as in get_entity
        branches = " UNION ALL ".join(
            f"MATCH (n:{lbl}) WHERE n.id IN $ids RETURN n, {i} AS rank"
            for i, lbl in enumerate(labels)
        )
        best: dict[str, tuple[int, Any]] = {}
        for rec in self._fetch(f"CALL () {{ {branches} }} RETURN n, rank", ids=ids):
            node_id = rec["n"]["id"]
            if node_id not in best or rec["rank"] < best[node_id][0]:
                best[node_id] = (rec["rank"], rec["n"])
        return {i: self._node_record(best[i][1]) for i in ids if i in best}

    def neighborhoods(self, starts: Sequence[tuple[str, str]], limit: int = 500) -> list[Subgraph]:
        limit = operator.index(limit)
        by_label: dict[str, list[str]] = {}
        for label, node_id in starts:
            if label in self.schema.nodes:
                by_label.setdefault(label, []).append(str(node_id))
        if not by_label or limit < 1:
            return [Subgraph([], []) for _ in starts]
        labels = sorted(by_label)
        resolve = " UNION ALL ".join(
            f"MATCH (n:{lbl}) WHERE n.id IN $ids{i} RETURN '{lbl}' AS label, n.id AS id, "
            "elementId(n) AS e"
            for i, lbl in enumerate(labels)
        )
        # per start: its distinct neighbours, at most `limit` (one more than fit: the walk of
        # `neighborhood` keeps limit - 1 besides the start and says truncated if there are more),
        # with the relationships to each; and relationships from the start to itself. At most
        # `cap` relationships are grouped, so a start with 100k relationships costs no more than
        # one with `cap`; past that the answer counts as truncated (the degree says so).
        around = (
            "UNWIND $starts AS uid MATCH (u) WHERE elementId(u) = uid "
            "CALL (u) { "
            "  MATCH (u)-[r]-(v) WHERE v <> u WITH v, r LIMIT $cap "
            "  WITH v, collect(elementId(r)) AS rs "
            "  RETURN elementId(v) AS v, rs LIMIT $limit "
            "  UNION ALL "
            "  OPTIONAL MATCH (u)-[r]-(u) RETURN elementId(u) AS v, "
            "  collect(DISTINCT elementId(r)) AS rs "
            "} RETURN uid, v, rs, COUNT { (u)--() } > $cap AS over"
        )
        cap = max(_AROUND_CAP, limit)

        def walk(
            tx: Any,
        ) -> tuple[dict[tuple[str, str], str], dict[str, Any], dict[str, Any], dict]:
            params = {f"ids{i}": by_label[lbl] for i, lbl in enumerate(labels)}
            element = {(r["label"], r["id"]): r["e"] for r in tx.run(resolve, params)}
            per_start: dict[str, tuple[list[str], list[str], bool]] = {}
            starts_e = list(dict.fromkeys(element.values()))
            for rec in tx.run(around, starts=starts_e, limit=limit, cap=cap):
                nodes, rels, cut = per_start.setdefault(rec["uid"], ([], [], False))
                if rec["over"] and not cut:
                    per_start[rec["uid"]] = (nodes, rels, True)
                if rec["v"] == rec["uid"]:
                    rels.extend(rec["rs"])
                elif len(nodes) < limit - 1:
                    nodes.append(rec["v"])
                    rels.extend(rec["rs"])
                else:
                    per_start[rec["uid"]] = (nodes, rels, True)
            node_ids = set(element.values()) | {v for n, _, _ in per_start.values() for v in n}
            rel_ids = {r for _, rs, _ in per_start.values() for r in rs}
            return element, per_start, *self._hydrate(tx, node_ids, rel_ids)

        element, per_start, found, rels = self._read(walk)
        out = []
        for label, node_id in starts:
            uid = element.get((label, str(node_id)))
            if uid is None or uid not in found:
                out.append(Subgraph([], []))
                continue
            nodes, rel_ids, truncated = per_start.get(uid, ([], [], False))
            kept = [uid] + [v for v in nodes if v in found]
            edges = [self._edge_record(*rels[r]) for r in dict.fromkeys(rel_ids) if r in rels]
            out.append(Subgraph([self._node_record(found[v]) for v in kept], edges, truncated))
        return out

    def _type_pattern(self, types: Iterable[str] | None) -> str | None:
        """``:A|B`` for the known types asked for, "" for all types, None if none is known."""
        if not types:
            return ""
        wanted = set(types)
        known = [t for t in self.schema.relationships if t in wanted]
        return ":" + "|".join(known) if known else None

    def neighborhood(
        self,
        node_id: str,
        label: str | None = None,
        hops: int = 1,
        types: Iterable[str] | None = None,
        limit: int = 500,
        hub_degree: int = NEIGHBOURHOOD_HUB_DEGREE,
    ) -> Subgraph:
        start = self._find(node_id, label)
        if start is None:
            return Subgraph([], [])
        pattern = self._type_pattern(types)
        hops, limit = operator.index(hops), operator.index(limit)
        hub_degree = operator.index(hub_degree)
        # nodes other than the start with more than hub_degree relationships are not expanded
        # (as in the memory store); the frontier's hubs are listed by a second, cheap query
        step = (
            "UNWIND $frontier AS uid MATCH (u) WHERE elementId(u) = uid "
            "WITH u, uid WHERE uid = $start OR COUNT { (u)--() } <= $hub "
            f"MATCH (u)-[r{pattern or ''}]-(v) RETURN uid, elementId(r) AS r, elementId(v) AS v"
        )
        hub_step = (
            "UNWIND $frontier AS uid MATCH (u) WHERE elementId(u) = uid "
            "AND uid <> $start AND COUNT { (u)--() } > $hub RETURN uid"
        )

        def walk(tx: Any) -> tuple[list[Any], list[tuple[Any, Any, Any]], bool, list[str]]:
            seen = {start.element_id: None}
            edges: dict[str, None] = {}
            frontier = [start.element_id]
            hubs: list[str] = []
            truncated = False
            for _ in range(max(0, hops) if pattern is not None else 0):
                nxt: list[str] = []
                params = {"frontier": frontier, "start": start.element_id, "hub": hub_degree}
                hubs += [rec["uid"] for rec in tx.run(hub_step, **params)]
                result = tx.run(step, **params)
                for rec in result:
                    v = rec["v"]
                    if v not in seen:
                        if len(seen) >= limit:
                            truncated = True
                            break
                        seen[v] = None
                        nxt.append(v)
                    edges[rec["r"]] = None
                result.consume()
                frontier = nxt
                if truncated or not frontier:
                    break
            found, by_id = self._hydrate(tx, seen, edges)
            rels = [by_id[e] for e in edges if e in by_id]
            return [found[i] for i in seen if i in found], rels, truncated, hubs

        nodes, rels, truncated, hub_ids = self._read(walk)
        by_element = {n.element_id: n for n in nodes}
        return Subgraph(
            [self._node_record(n) for n in nodes],
            [self._edge_record(*r) for r in rels],
            truncated,
            [
                (self._label_of(by_element[h]), by_element[h]["id"])
                for h in hub_ids
                if h in by_element
            ],
        )

    def paths(
        self,
        source: str,
        target: str,
        max_hops: int = 4,
        types: Iterable[str] | None = None,
        limit: int = 10,
        directed: bool = False,
    ) -> list[Path]:
        max_hops, limit = operator.index(max_hops), operator.index(limit)
        s, t = self._find(source, None), self._find(target, None)
        if s is None or t is None:
            return []
        if s.element_id == t.element_id:
            return [Path([(self._label_of(s), s["id"])], [])]
        pattern = self._type_pattern(types)
        if pattern is None or max_hops < 1 or limit < 1:
            return []
        arrow = "->" if directed else "-"
        # Nodes with more than PATH_HUB_DEGREE relationships are not walked through (as in the memory
        # store); the predicate is evaluated inside the shortest-path search.
        statement = (
            "MATCH (s) WHERE elementId(s) = $s MATCH (t) WHERE elementId(t) = $t "
            f"MATCH p = allShortestPaths((s)-[{pattern}*..{max_hops}]{arrow}(t)) "
            "WHERE all(n IN nodes(p) WHERE n = s OR n = t OR COUNT { (n)--() } <= $hub) "
            "RETURN p LIMIT $limit"
        )
        recs = self._fetch(
            statement, s=s.element_id, t=t.element_id, hub=PATH_HUB_DEGREE, limit=limit
        )
        out = []
        for rec in recs:
            p = rec["p"]
            by_id = {n.element_id: n for n in p.nodes}
            edges = [
                self._edge_record(r, by_id[r.start_node.element_id], by_id[r.end_node.element_id])
                for r in p.relationships
            ]
            out.append(Path([(self._label_of(n), n["id"]) for n in p.nodes], edges))
        return out

    # -- search and read-only Cypher -----------------------------------------------------------
    def search(
        self, label: str, text: str, *, by_id: bool = True, by_name: bool = True, limit: int = 100
    ) -> list[str]:
        """As :meth:`GraphStore.search`, on the server's indexes instead of every node."""
        if label not in self.schema.nodes or not (by_id or by_name) or limit < 1:
            return []
        by_name = by_name and "name" in self.schema.nodes[label].properties
        # the label comes from the validated schema, never from the caller's text
        statement = (
            f"MATCH (n:`{label}`) WHERE ($by_id AND n.id STARTS WITH $q) "
            "OR ($by_name AND n.name CONTAINS $q) RETURN n.id AS id LIMIT $cap"
        )
        recs = self._fetch(statement, q=text, by_id=by_id, by_name=by_name, cap=int(limit))
        return [str(r["id"]) for r in recs]

    def read_cypher(
        self,
        query: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        timeout_s: float,
        limit: int,
        keep: Callable[[list[Any]], list[Any] | None] | None = None,
    ) -> QueryResult:
        """As :meth:`GraphStore.read_cypher`: a READ session (the server refuses writes), one
        explicit transaction with the server-side ``timeout_s``. It does not wait for a read
        slot (``RISKGRAPH_NEO4J_READERS``): the time limit bounds it instead."""
        from neo4j import READ_ACCESS
        from neo4j.exceptions import ClientError, Neo4jError, TransientError

        rows: list[list[Any]] = []
        dropped = 0
        truncated = False
        try:
            with self._driver.session(
                database=self.database, default_access_mode=READ_ACCESS
            ) as session:
                tx = session.begin_transaction(timeout=timeout_s)
                try:
                    result = tx.run(query, dict(parameters or {}))
                    columns = list(result.keys())
                    for record in result:
                        if len(rows) >= limit:
                            truncated = True
                            break
                        row: list[Any] | None = [self._plain(v) for v in record.values()]
                        if keep is not None:
                            row = keep(row)
                        if row is None:
                            dropped += 1
                        else:
                            rows.append(row)
                finally:
                    tx.close()
        except (ClientError, TransientError) as e:
            code = getattr(e, "code", "") or ""
            if "AccessMode" in code or "Forbidden" in code:
                raise QueryError("cypher_rejected", "the query tried to write") from e
            if "TimedOut" in code or "Timeout" in code or "Terminated" in code:
                raise QueryError("cypher_timeout", f"query exceeded {timeout_s} s") from e
            message = (getattr(e, "message", None) or str(e)).splitlines()[0][:300]
            raise QueryError("cypher_error", message) from e
        except Neo4jError as e:
            raise QueryError("cypher_error", str(e).splitlines()[0][:300]) from e
        return QueryResult(columns, rows, truncated, dropped)

    def _graph_node(self, node: Any) -> GraphNode:
        props = dict(node) if node is not None else {}
        known = sorted(
            lb for lb in (node.labels if node is not None else ()) if lb in self.schema.nodes
        )
        return GraphNode(known[0] if known else None, props.pop("id", None), props)

    def _plain(self, v: Any) -> Any:
        """A driver value as plain values (see :class:`QueryResult`)."""
        from neo4j.graph import Node, Relationship
        from neo4j.graph import Path as DriverPath

        if v is None or isinstance(v, (str, int, float, bool)):
            return v
        if isinstance(v, Node):
            return self._graph_node(v)
        if isinstance(v, Relationship):
            props = dict(v)
            return GraphRelationship(
                props.pop("id", v.element_id), v.type, self._graph_node(v.start_node),
                self._graph_node(v.end_node), props,
            )  # fmt: skip
        if isinstance(v, DriverPath):
            return GraphPath(
                [self._graph_node(n) for n in v.nodes], [self._plain(r) for r in v.relationships]
            )
        if isinstance(v, list):
            return [self._plain(x) for x in v]
        if isinstance(v, dict):
            return {str(k): self._plain(x) for k, x in v.items()}
        if isinstance(v, (dt.date, dt.datetime)):
            return v.isoformat()
        iso = getattr(v, "iso_format", None)
        return iso() if callable(iso) else str(v)
