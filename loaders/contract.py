"""The data contract (``contract.yaml``) loaded, validated against the graph schema, and indexed.

A broken contract is our bug (``SchemaError`` at import); a dataset that does not follow the
contract is theirs (``DataError``, raised by the readers and the loader).

Examples
--------
>>> CONTRACT["households"].columns["head_id"].type_name
'person_id'
>>> CONTRACT["households"].canonical_column("户主身份证号")
'head_id'
>>> CONTRACT["households"].canonical_column(" Head_ID ")
'head_id'
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from graph_models.errors import SchemaError
from graph_models.schema import SCHEMA, Schema
from graph_models.value_types import ValueType, enum_type, get_type

__all__ = [
    "CONTRACT",
    "ColumnSpec",
    "EdgeMap",
    "Endpoint",
    "NodeMap",
    "TableSpec",
    "header_key",
    "load_contract",
]

#: value type -> node label an endpoint of that type refers to (``org`` = Enterprise or GovUnit)
_TYPE_LABEL = {
    "person_id": "Person",
    "uscc": "org",
    "entity_ref": "entity",
    "region_code": "Region",
    "account_no": "Account",
    "phone": "Phone",
}


def header_key(name: object) -> str:
    """Normalise a header for matching: NFKC (full-width -> ASCII), no spaces, lower case."""
    text = unicodedata.normalize("NFKC", str(name))
    return "".join(text.split()).lower()


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type_name: str  # value type name, or "enum"
    vtype: ValueType
    required: bool
    zh: str
    local: str | None = None  # label of a local reference counted as dangling when unresolved
    enum_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Endpoint:
    """Where one end of a relationship points.

    ``kind`` is ``row`` (the node this row defines), ``column`` (an identifier in a column, label
    fixed), ``org`` / ``entity`` (identifier whose label is resolved per value), or ``local`` (a
    local record id that may dangle).
    """

    kind: str
    column: str | None
    label: str | None


@dataclass(frozen=True)
class NodeMap:
    label: str
    id_columns: tuple[str, ...]
    id_hash: bool
    properties: dict[str, str]  # property -> source column


@dataclass(frozen=True)
class EdgeMap:
    type: str
    id_columns: tuple[str, ...]
    id_hash: bool
    src: Endpoint
    dst: Endpoint
    properties: dict[str, str]


@dataclass(frozen=True)
class TableSpec:
    name: str
    zh: str
    order: int
    columns: dict[str, ColumnSpec]
    nodes: tuple[NodeMap, ...]
    edges: tuple[EdgeMap, ...]
    _aliases: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.required]

    def canonical_column(self, header: object) -> str | None:
        """The contract column a header names (English or Chinese alias), or None."""
        return self._aliases.get(header_key(header))

    @property
    def local_references(self) -> list[tuple[str, str]]:
        """(column, label) pairs of local record ids that may dangle."""
        out = [(c.name, c.local) for c in self.columns.values() if c.local]
        out += [(e.dst.column, e.dst.label) for e in self.edges if e.dst.kind == "local"]
        out += [(e.src.column, e.src.label) for e in self.edges if e.src.kind == "local"]
        return [(c, lbl) for c, lbl in dict.fromkeys(out) if c and lbl]


def _id_spec(where: str, raw: Any) -> tuple[tuple[str, ...], bool]:
    if isinstance(raw, str):
        return (raw,), False
    if isinstance(raw, list) and raw:
        return tuple(raw), False
    if isinstance(raw, dict) and list(raw) == ["hash"]:
        return tuple(raw["hash"]), True
    raise SchemaError(f"contract.yaml: {where}: id must be a column, a list or {{hash: [...]}}")


def _column(table: str, name: str, raw: dict[str, Any]) -> ColumnSpec:
    t = raw.get("type")
    if isinstance(t, dict) and list(t) == ["enum"]:
        values = dict(t["enum"])
        vtype = enum_type({str(k): str(v) for k, v in values.items()})
        return ColumnSpec(
            name, "enum", vtype, bool(raw.get("required")), raw.get("zh", ""),
            raw.get("local"), tuple(values),
        )  # fmt: skip
    try:
        vtype = get_type(t)
    except (KeyError, ValueError) as e:
        raise SchemaError(f"contract.yaml: {table}.{name}: unknown type {t!r}") from e
    return ColumnSpec(
        name, t, vtype, bool(raw.get("required")), raw.get("zh", ""), raw.get("local")
    )


def _endpoint(
    where: str, raw: Any, columns: dict[str, ColumnSpec], row_nodes: dict[str, NodeMap]
) -> Endpoint:
    if isinstance(raw, str) and raw.startswith("@"):
        label = raw[1:]
        if label not in row_nodes:
            raise SchemaError(f"contract.yaml: {where}: {raw} is not a node this table defines")
        return Endpoint("row", None, label)
    if isinstance(raw, dict):
        col, label = raw.get("column"), raw.get("label")
        if col not in columns or label not in SCHEMA.nodes:
            raise SchemaError(f"contract.yaml: {where}: bad endpoint {raw}")
        return Endpoint("local" if raw.get("local") else "column", col, label)
    if raw not in columns:
        raise SchemaError(f"contract.yaml: {where}: unknown column {raw!r}")
    for node in row_nodes.values():
        if node.id_columns == (raw,) and not node.id_hash:
            return Endpoint("row", raw, node.label)
    label = _TYPE_LABEL.get(columns[raw].type_name)
    if label is None:
        raise SchemaError(
            f"contract.yaml: {where}: cannot tell which label column {raw!r} refers to"
        )
    if label in ("org", "entity"):
        return Endpoint(label, raw, None)
    return Endpoint("column", raw, label)


def _labels_of(e: Endpoint) -> set[str]:
    if e.kind == "org":
        return {"Enterprise", "GovUnit"}
    if e.kind == "entity":
        return {"Enterprise", "GovUnit", "Person"}
    return {e.label} if e.label else set()


def _default_props(
    owner_props: dict[str, Any], columns: dict[str, ColumnSpec], exclude: set[str]
) -> dict[str, str]:
    return {p: p for p in owner_props if p in columns and p not in exclude}


def load_contract(text: str | None = None, schema: Schema = SCHEMA) -> dict[str, TableSpec]:
    """Parse and validate the contract against the schema. Raises SchemaError when inconsistent."""
    if text is None:
        text = resources.files("loaders").joinpath("contract.yaml").read_text("utf-8")
    doc = yaml.safe_load(text)
    tables: dict[str, TableSpec] = {}
    for order, (tname, t) in enumerate(doc["tables"].items()):
        columns = {n: _column(tname, n, c) for n, c in t["columns"].items()}
        for c in columns.values():
            if c.local and c.local not in schema.nodes:
                raise SchemaError(f"contract.yaml: {tname}.{c.name}: unknown local label {c.local}")
        row_nodes: dict[str, NodeMap] = {}
        for i, n in enumerate(t.get("nodes", [])):
            where = f"{tname}.nodes[{i}]"
            label = n.get("label")
            if label not in schema.nodes:
                raise SchemaError(f"contract.yaml: {where}: unknown label {label!r}")
            ids, hashed = _id_spec(where, n.get("id"))
            if any(c not in columns for c in ids):
                raise SchemaError(f"contract.yaml: {where}: id names an unknown column")
            props = n.get("properties")
            if props is None:
                # a hashed id's columns are the record's content, so they stay properties too
                id_cols = set() if hashed else set(ids)
                props = _default_props(schema.nodes[label].properties, columns, id_cols)
            if any(p not in schema.nodes[label].properties for p in props):
                raise SchemaError(f"contract.yaml: {where}: property not in schema for {label}")
            row_nodes[label] = NodeMap(label, ids, hashed, dict(props))
        edges = []
        for i, e in enumerate(t.get("edges", [])):
            where = f"{tname}.edges[{i}]"
            rtype = e.get("type")
            if rtype not in schema.relationships:
                raise SchemaError(f"contract.yaml: {where}: unknown relationship type {rtype!r}")
            rspec = schema.relationships[rtype]
            ids, hashed = _id_spec(where, e.get("id"))
            src = _endpoint(where, e.get("from"), columns, row_nodes)
            dst = _endpoint(where, e.get("to"), columns, row_nodes)
            if not _labels_of(src) <= set(rspec.from_labels) and src.kind != "entity":
                raise SchemaError(
                    f"contract.yaml: {where}: {rtype} cannot start at {_labels_of(src)}"
                )
            if not _labels_of(dst) <= set(rspec.to_labels) and dst.kind != "entity":
                raise SchemaError(
                    f"contract.yaml: {where}: {rtype} cannot end at {_labels_of(dst)}"
                )
            props = e.get("properties")
            if props is None:
                props = _default_props(rspec.properties, columns, set())
            elif isinstance(props, list):
                props = {p: p for p in props}
            if any(p not in rspec.properties for p in props):
                raise SchemaError(f"contract.yaml: {where}: property not in schema for {rtype}")
            edges.append(EdgeMap(rtype, ids, hashed, src, dst, dict(props)))
        aliases: dict[str, str] = {}
        for c in columns.values():
            for alias in (c.name, c.zh):
                if alias:
                    key = header_key(alias)
                    if aliases.get(key, c.name) != c.name:
                        raise SchemaError(f"contract.yaml: {tname}: header {alias!r} is ambiguous")
                    aliases[key] = c.name
        tables[tname] = TableSpec(
            tname,
            t.get("zh", tname),
            order,
            columns,
            tuple(row_nodes.values()),
            tuple(edges),
            aliases,
        )
    return tables


CONTRACT = load_contract()
