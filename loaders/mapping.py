"""Turn validated table rows into node and relationship tables, following ``contract.yaml``.

One generic function serves every table: the mapping is data (``TableSpec.nodes`` /
``TableSpec.edges``), not a hand-written function per table. Everything is Arrow column kernels
(ids joined with ``binary_join_element_wise``, hashed ids with DuckDB's ``sha1``); no Python runs
per row.

Mapping a chunk (:func:`map_chunk`) needs nothing but the chunk: what depends on other tables is
left for :func:`resolve_relationships`, run once over the whole load (and again when a file of a
workspace changes), so a file's mapped rows never have to be recomputed because another file
changed:

- an endpoint's label: a row's own node; a fixed label from the column's value type; for USCCs
  (``org``) ``GovUnit`` when the id is a known government unit (or is unknown and starts with
  ``11``, the registration-authority code of government organs in GB 32100), else
  ``Enterprise``; an ``entity_ref`` that is a resident ID is a ``Person``. Until resolved, an
  ``org`` label is :data:`ORG`.
- a ``local`` endpoint (a record id of another table: a payment's household) makes a
  relationship only when that record exists; rows whose local references resolve to nothing are
  counted as dangling (:func:`dangling`).
- endpoints typed by a national identifier create a bare node (``create_only``) where no table
  defines one (:func:`bare_nodes`).

Examples
--------
>>> import pandas as pd
>>> from loaders.contract import CONTRACT
>>> rows = pd.DataFrame({"person_id": ["11010519491231002X"], "death_date": ["2021-03-02"],
...                      "source": [None], "_line": [2]})
>>> m = map_chunk(rows, CONTRACT["deaths"], "b1")
>>> [(label, t.num_rows) for label, t in m.nodes], [(r, t.num_rows) for r, t in m.relationships]
([('DeathRecord', 1)], [('DIED', 1)])
>>> m.nodes[0][1].column("id")[0].as_py()
'8ed8b960843d3930f4e7'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph_models.memory_store import DTYPES_KEY, frame_to_arrow
from loaders.contract import EdgeMap, Endpoint, NodeMap, TableSpec

__all__ = [
    "ORG",
    "STAGING_COLUMNS",
    "MappedChunk",
    "bare_nodes",
    "dangling",
    "map_chunk",
    "resolve_relationships",
]

#: the label of an ``org`` endpoint until it is resolved (GovUnit or Enterprise)
ORG = "?org"
#: columns staged relationships carry until resolved: each endpoint's kind, the edge map's index
STAGING_COLUMNS = ("_src_kind", "_dst_kind", "_map")
#: labels whose own node ids resolve endpoints: local references and USCC labelling
RESOLVING_LABELS = ("GovUnit", "Enterprise", "Household", "Loan", "Project")
#: value type -> (Arrow type, pandas dtype) of mapped columns: every chunk of a table maps to the
#: same schema (a chunk whose column is all blank would otherwise have Arrow's null type)
_TYPES: dict[str, tuple[pa.DataType, str]] = {
    "amount": (pa.float64(), "float64"),
    "pct": (pa.float64(), "float64"),
    "float": (pa.float64(), "float64"),
    "int": (pa.int64(), "Int64"),
    "bool": (pa.bool_(), "object"),
}
_TEXT = (pa.string(), "object")
_PROV = {"id": "object", "_table": "object", "_line": "int64", "_batch": "object"}
_EDGE_DTYPES = {c: "object" for c in ("src", "src_label", "dst", "dst_label")}


@dataclass
class MappedChunk:
    """What one chunk of validated rows maps to, before resolution."""

    nodes: list[tuple[str, pa.Table]]  # (label, own rows) in node-map order
    relationships: list[tuple[str, pa.Table]]  # (type, rows with STAGING_COLUMNS)
    refs: pa.Table | None  # `_line` and each local-reference column, rows with any reference
    rows: int = 0
    local_columns: dict[str, str] = field(default_factory=dict)  # refs column -> label


def _constant(value: str, n: int) -> pa.DictionaryArray:
    """A column holding one string ``n`` times (dictionary-encoded: 4 bytes a row)."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], pa.string())
    )


def _text(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Identifier parts as strings (null for missing; blank text counts as missing too)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_null(col.type):
        return pa.nulls(len(col), pa.string())
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = pc.cast(col, pa.string())
    return col


def _sha1_20(text: pa.Array) -> pa.Array:
    """First 20 hex digits of each value's SHA-1 (UTF-8), as ``hashlib.sha1`` gives them."""
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("hash_input", pa.table({"t": text}))
        return (
            con.sql("SELECT substr(sha1(t), 1, 20) AS h FROM hash_input")
            .to_arrow_table()
            .column("h")
        )
    finally:
        con.close()


def _join_ids(table: pa.Table, cols: tuple[str, ...], hashed: bool) -> pa.Array:
    """Ids from key columns: the value, ``a|b|c`` (null when a part is missing), or a hash of the
    parts joined by U+001F (missing parts hashed as empty)."""
    parts = [_text(table.column(c)) for c in cols]
    if len(cols) == 1 and not hashed:
        return parts[0]
    if hashed:
        filled = [pc.fill_null(p, "") for p in parts]
        joined = filled[0] if len(filled) == 1 else pc.binary_join_element_wise(*filled, "\x1f")
        out = _sha1_20(joined)
        return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out
    return pc.binary_join_element_wise(*parts, "|", null_handling="emit_null")


def _endpoint(
    ep: Endpoint, table: pa.Table, row_ids: dict[str, pa.Array]
) -> tuple[pa.Array, pa.Array]:
    """(ids, labels) of one endpoint for every row; org labels are :data:`ORG` until resolved."""
    n = table.num_rows
    if ep.kind == "row":
        return row_ids[ep.label], _constant(ep.label, n)  # type: ignore[index,arg-type]
    ids = _text(table.column(ep.column))  # type: ignore[arg-type]
    if ep.kind in ("column", "local"):
        return ids, _constant(ep.label, n)  # type: ignore[arg-type]
    labels = pa.array(np.full(n, ORG, dtype=object), pa.string())
    if ep.kind == "entity":
        kind = _text(table.column(f"{ep.column}__kind"))
        labels = pc.if_else(pc.fill_null(pc.equal(kind, "person"), False), "Person", labels)
    return ids, labels.dictionary_encode()


def _props(table: pa.Table, mapping: Mapping[str, str]) -> dict[str, pa.ChunkedArray]:
    return {prop: table.column(col) for prop, col in mapping.items() if col in table.column_names}


def _prop_dtypes(mapping: Mapping[str, str], dtypes: Mapping[str, str]) -> dict[str, str]:
    return {prop: dtypes[col] for prop, col in mapping.items() if col in dtypes}


def _assemble(columns: Mapping[str, object], dtypes: Mapping[str, str]) -> pa.Table:
    out = pa.table(dict(columns))  # type: ignore[arg-type]
    keep = {c: d for c, d in dtypes.items() if c in out.column_names}
    return out.replace_schema_metadata({DTYPES_KEY: json.dumps(keep).encode()})


def _canonical(frame: pd.DataFrame | pa.Table, spec: TableSpec) -> tuple[pa.Table, dict[str, str]]:
    """The chunk as Arrow with each column in its type for the contract (and its pandas dtype)."""
    table = frame if isinstance(frame, pa.Table) else frame_to_arrow(frame)
    cols, dtypes = {}, {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        if name == "_line":
            typ, dtype = pa.int64(), "int64"
        elif name in spec.columns:
            typ, dtype = _TYPES.get(spec.columns[name].type_name, _TEXT)
        else:
            typ, dtype = _TEXT
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        cols[name] = col if col.type == typ else col.cast(typ)
        dtypes[name] = dtype
    return pa.table(cols), dtypes


def map_chunk(frame: pd.DataFrame | pa.Table, spec: TableSpec, batch: str) -> MappedChunk:
    """Map validated rows of ``spec`` (a frame or Arrow table carrying ``_line``) to node and
    relationship tables with provenance (``_table``, ``_line``, ``_batch``); see the module
    docstring for what is left to resolution."""
    table, dtypes = _canonical(frame, spec)
    n = table.num_rows
    if not n:
        return MappedChunk([], [], None, 0)
    prov = {
        "_table": _constant(spec.name, n),
        "_line": pc.cast(table.column("_line"), pa.int64()),
        "_batch": _constant(batch, n),
    }
    names = table.column_names
    extras = [
        c for c in names
        if c not in spec.columns and c != "_line" and not c.endswith("__kind") and c != "village_code"
    ]  # fmt: skip
    nodes: list[tuple[str, pa.Table]] = []
    rels: list[tuple[str, pa.Table]] = []
    row_ids: dict[str, pa.Array] = {}
    for i, nm in enumerate(spec.nodes):
        ids = _join_ids(table, nm.id_columns, nm.id_hash)
        row_ids[nm.label] = ids
        mapping = _node_mapping(table, nm, extras if i == 0 else [])
        cols = {"id": ids, **_props(table, mapping), **prov}
        nodes.append((nm.label, _assemble(cols, {**_prop_dtypes(mapping, dtypes), **_PROV})))
    for j, em in enumerate(spec.edges):
        out = _edges(
            table, j, em, row_ids, prov, extras if (not spec.nodes and j == 0) else [], dtypes
        )
        if out is not None:
            rels.append((em.type, out))
    refs = None
    local = dict(spec.local_references)
    if local:
        ref_cols = {c: _text(table.column(c)) if c in names else pa.nulls(n, pa.string())
                    for c in local}  # fmt: skip
        any_ref = None
        for arr in ref_cols.values():
            valid = pc.is_valid(arr)
            any_ref = valid if any_ref is None else pc.or_(any_ref, valid)
        refs = pa.table({"_line": prov["_line"], **ref_cols}).filter(any_ref)
    return MappedChunk(nodes, rels, refs, n, local)


def _node_mapping(table: pa.Table, nm: NodeMap, extras: list[str]) -> dict[str, str]:
    mapping = dict(nm.properties)
    if "region_code" in mapping and "village_code" in table.column_names:
        mapping["village_code"] = "village_code"
    mapping.update({c: c for c in extras})
    return mapping


def _edges(
    table: pa.Table,
    index: int,
    em: EdgeMap,
    row_ids: dict[str, pa.Array],
    prov: dict[str, pa.Array],
    extras: list[str],
    dtypes: dict[str, str],
) -> pa.Table | None:
    n = table.num_rows
    src, src_label = _endpoint(em.src, table, row_ids)
    dst, dst_label = _endpoint(em.dst, table, row_ids)
    ids = _join_ids(table, em.id_columns, em.id_hash)
    ok = pc.and_(pc.and_(pc.is_valid(src), pc.is_valid(dst)), pc.is_valid(ids))
    if not pc.any(ok).as_py():
        return None
    mapping = {**em.properties, **{c: c for c in extras}}
    cols: dict[str, object] = {
        "id": ids, "src": src, "src_label": src_label, "dst": dst, "dst_label": dst_label,
        **_props(table, mapping), **prov,
        "_src_kind": _constant(em.src.kind, n), "_dst_kind": _constant(em.dst.kind, n),
        "_map": pa.array(np.full(n, index, dtype=np.int16)),
    }  # fmt: skip
    out = _assemble(cols, {**_EDGE_DTYPES, **_prop_dtypes(mapping, dtypes), **_PROV})
    return out if pc.all(ok).as_py() else out.filter(ok)


# -- resolution (across the whole load) ------------------------------------------------------


def _member(values: pa.Array | pa.ChunkedArray, ids: pa.Array | None) -> pa.Array:
    """Boolean: each value is one of ``ids`` (false for null values or no ids)."""
    if ids is None or not len(ids):
        return pa.array(np.zeros(len(values), dtype=bool))
    return pc.fill_null(pc.is_in(values, value_set=ids, skip_nulls=True), False)


def _labels(values: pa.ChunkedArray) -> pa.Array:
    """A label column as plain strings."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    return arr


def _in_values(col: pa.ChunkedArray | pa.Array, values: Iterable[str]) -> pa.Array:
    """Boolean: each value of a (dictionary-encoded) string column is one of ``values``; a
    dictionary column is compared through its few dictionary entries, not row by row."""
    wanted = pa.array(list(values), pa.string())
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    out = []
    for chunk in chunks:
        if pa.types.is_dictionary(chunk.type):
            hit = pc.fill_null(pc.is_in(chunk.dictionary, value_set=wanted), False)
            out.append(pc.fill_null(pc.array_take(hit, chunk.indices), False))
        else:
            out.append(pc.fill_null(pc.is_in(chunk, value_set=wanted), False))
    if not out:
        return pa.array([], pa.bool_())
    return out[0] if len(out) == 1 else pa.concat_arrays(out)


def _distinct_values(col: pa.ChunkedArray | pa.Array, mask: pa.Array | None = None) -> list[str]:
    """The distinct values of a (dictionary-encoded) string column (where ``mask``)."""
    col = col.filter(mask) if mask is not None else col
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    seen: set[str] = set()
    for chunk in chunks:
        if pa.types.is_dictionary(chunk.type):
            used = pc.unique(chunk.indices)
            seen.update(v for v in pc.take(chunk.dictionary, used).to_pylist() if v is not None)
        else:
            seen.update(v for v in pc.unique(chunk).to_pylist() if v is not None)
    return sorted(seen)


def resolve_relationships(rows: pa.Table, ids: Mapping[str, pa.Array]) -> pa.Table:
    """Staged relationship rows resolved against the own node ids of :data:`RESOLVING_LABELS`
    (``ids``: label -> distinct ids): ``org`` labels decided, rows whose ``local`` endpoint is
    unknown dropped. The staging columns stay (for :func:`bare_nodes`)."""
    if not rows.num_rows:
        return rows
    gov, ent = ids.get("GovUnit"), ids.get("Enterprise")
    keep = None
    for side in ("src", "dst"):
        kinds = rows.column(f"_{side}_kind")
        label_col = f"{side}_label"
        labels = rows.column(label_col)
        values = rows.column(side)
        unresolved = _in_values(labels, [ORG])
        if pc.any(unresolved).as_py():
            labels = _labels(labels)
            is_gov = _member(values, gov)
            is_ent = _member(values, ent)
            prefix = pc.fill_null(pc.starts_with(_labels(values), "11"), False)
            gov_label = pc.or_(is_gov, pc.and_(pc.invert(is_ent), prefix))
            decided = pc.if_else(gov_label, "GovUnit", "Enterprise")
            labels = pc.if_else(unresolved, decided, labels)
            index = rows.schema.get_field_index(label_col)
            rows = rows.set_column(index, label_col, labels.dictionary_encode())
        is_local = _in_values(kinds, ["local"])
        if pc.any(is_local).as_py():
            found = pa.array(np.zeros(rows.num_rows, dtype=bool))
            for label in _distinct_values(labels, is_local):
                found = pc.or_(
                    found, pc.and_(_in_values(labels, [label]), _member(values, ids.get(label)))
                )
            ok = pc.or_(pc.invert(is_local), found)
            keep = ok if keep is None else pc.and_(keep, ok)
    return rows if keep is None or pc.all(keep).as_py() else rows.filter(keep)


def bare_nodes(rows: pa.Table, order: int) -> list[tuple[str, pa.Table]]:
    """Bare-node candidates of resolved relationship rows: each endpoint of kind ``column``,
    ``org`` or ``entity`` as ``(label, rows)`` with ``id``, provenance and the order keys
    ``_seq`` (= ``order``, the staged part), ``_line``, ``_map`` and ``_side``; the first
    candidate of each id (in that order) is the one created, when no table defines the id."""
    out: list[tuple[str, pa.Table]] = []
    if not rows.num_rows:
        return out
    for side, flag in (("src", 0), ("dst", 1)):
        sel = _in_values(rows.column(f"_{side}_kind"), ["column", "org", "entity"])
        if not pc.any(sel).as_py():
            continue
        sel = pc.and_(sel, pc.is_valid(rows.column(side)))
        part = rows.filter(sel) if not pc.all(sel).as_py() else rows
        labels = part.column(f"{side}_label")
        m = part.num_rows
        cand = pa.table({
            "id": _labels(part.column(side)), "_table": part.column("_table"),
            "_line": part.column("_line"), "_batch": part.column("_batch"),
            "_seq": pa.array(np.full(m, order, dtype=np.int32)), "_map": part.column("_map"),
            "_side": pa.array(np.full(m, flag, dtype=np.int8)),
        })  # fmt: skip
        names = _distinct_values(labels)
        for label in names:
            chosen = cand if len(names) == 1 else cand.filter(_in_values(labels, [label]))
            out.append((label, _first_of_each(chosen)))
    return out


def _first_of_each(table: pa.Table) -> pa.Table:
    """The first row of each id (rows already in order), in that order."""
    index = pa.table({"id": table.column("id"), "_i": pa.array(np.arange(table.num_rows))})
    first = index.group_by("id", use_threads=False).aggregate([("_i", "min")])
    if first.num_rows == table.num_rows:
        return table
    return table.take(np.sort(first.column("_i_min").to_numpy()))


def first_bare(candidates: Iterable[pa.Table], own_ids: pa.Array | None) -> pa.Table | None:
    """The bare nodes to create from candidates of one label: the first candidate of each id
    (by ``_seq``, ``_line``, ``_map``, ``_side``) whose id no table defines, in that order,
    without the order keys."""
    tables = [t for t in candidates if t.num_rows]
    if not tables:
        return None
    cand = pa.concat_tables([t.replace_schema_metadata(None) for t in tables],
                            promote_options="permissive")  # fmt: skip
    if own_ids is not None and len(own_ids):
        cand = cand.filter(pc.invert(_member(cand.column("id"), own_ids)))
    if not cand.num_rows:
        return None
    cand = cand.sort_by([("_seq", "ascending"), ("_line", "ascending"), ("_map", "ascending"),
                         ("_side", "ascending")])  # fmt: skip
    picked = _first_of_each(cand)
    return _assemble({c: picked.column(c) for c in ("id", "_table", "_line", "_batch")}, _PROV)


def dangling(refs: pa.Table, local: Mapping[str, str], ids: Mapping[str, pa.Array]) -> tuple[
    int, dict[str, int]
]:  # fmt: skip
    """Rows of a table with at least one local reference that resolves to nothing, and the
    count per column (``refs`` from :class:`MappedChunk`, ``local``: column -> label)."""
    if refs is None or not refs.num_rows:
        return 0, dict.fromkeys(local, 0)
    any_missing = pa.array(np.zeros(refs.num_rows, dtype=bool))
    per: dict[str, int] = {}
    for col, label in local.items():
        vals = refs.column(col) if col in refs.column_names else pa.nulls(refs.num_rows)
        missing = pc.and_(pc.is_valid(vals), pc.invert(_member(vals, ids.get(label))))
        per[col] = int(pc.sum(missing).as_py() or 0)
        any_missing = pc.or_(any_missing, missing)
    return int(pc.sum(any_missing).as_py() or 0), per


def strip_staging(rows: pa.Table) -> pa.Table:
    """Resolved relationship rows as the store keeps them (no staging columns)."""
    return rows.drop_columns([c for c in STAGING_COLUMNS if c in rows.column_names])
