"""The graph schema (``schema.yaml``) loaded and validated at import.

Node labels and relationship types are data, not code: the loaders, both stores, the API's masking
and the Neo4j constraints are all derived from this one description.

Examples
--------
>>> from graph_models.schema import SCHEMA
>>> SCHEMA.nodes["Person"].id_type
'person_id'
>>> SCHEMA.sensitivity("Person", "name")
'personal'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any

import yaml

from graph_models.errors import SchemaError

__all__ = [
    "PROVENANCE_PROPERTIES",
    "SCHEMA",
    "SENSITIVITIES",
    "NodeSpec",
    "PropertySpec",
    "RelationshipSpec",
    "Schema",
    "load_schema",
]

SENSITIVITIES = ("personal", "confidential", "public")
#: Added by the loaders to every node and relationship: source table, line and load batch.
PROVENANCE_PROPERTIES = ("_table", "_line", "_batch")
_VALUE_TYPES = {
    "person_id", "uscc", "region_code", "date", "amount", "pct", "account_no", "phone",
    "entity_ref", "text", "int", "float", "bool",
}  # fmt: skip
_NAME = re.compile(r"^[A-Z][A-Za-z]*$")
_TYPE_NAME = re.compile(r"^[A-Z][A-Z_]*$")
_PROP_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class PropertySpec:
    name: str
    type: str
    sensitivity: str


@dataclass(frozen=True)
class NodeSpec:
    label: str
    zh: str
    id_type: str
    id_sensitivity: str
    properties: dict[str, PropertySpec]


@dataclass(frozen=True)
class RelationshipSpec:
    type: str
    zh: str
    from_labels: tuple[str, ...]
    to_labels: tuple[str, ...]
    properties: dict[str, PropertySpec]


@dataclass(frozen=True)
class Schema:
    nodes: dict[str, NodeSpec]
    relationships: dict[str, RelationshipSpec]
    version: int = 1
    _extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def sensitivity(self, label_or_type: str, prop: str) -> str:
        """Sensitivity class of a property (``id`` included); unknown properties are confidential.

        Columns that the contract does not know are kept on nodes; we cannot tell what they hold,
        so they are treated as confidential rather than public.
        """
        spec = self.nodes.get(label_or_type)
        if spec is not None and prop == "id":
            return spec.id_sensitivity
        owner = spec or self.relationships.get(label_or_type)
        if owner is None:
            raise KeyError(label_or_type)
        if prop == "id":
            return "confidential"
        if prop in PROVENANCE_PROPERTIES:
            return "public"
        p = owner.properties.get(prop)
        return p.sensitivity if p else "confidential"

    @cached_property
    def entity_labels(self) -> tuple[str, ...]:
        """Labels keyed by a national identifier (person_id / uscc): the 'who' of the graph."""
        return tuple(n.label for n in self.nodes.values() if n.id_type in ("person_id", "uscc"))

    def neo4j_constraints(self) -> list[str]:
        """Cypher DDL for uniqueness constraints and indexes, generated from the schema.

        Labels and types come from the validated schema only, never from input data.

        Examples
        --------
        >>> any("Person" in c for c in SCHEMA.neo4j_constraints())
        True
        """
        ddl = []
        for label in self.nodes:
            ddl.append(
                f"CREATE CONSTRAINT {label.lower()}_id IF NOT EXISTS "
                f"FOR (n:{label}) REQUIRE n.id IS UNIQUE"
            )
        for rtype in self.relationships:
            ddl.append(
                f"CREATE CONSTRAINT rel_{rtype.lower()}_id IF NOT EXISTS "
                f"FOR ()-[r:{rtype}]-() REQUIRE r.id IS UNIQUE"
            )
        for label, spec in self.nodes.items():
            for prop in ("region_code", "name"):
                if prop in spec.properties:
                    ddl.append(
                        f"CREATE INDEX {label.lower()}_{prop} IF NOT EXISTS "
                        f"FOR (n:{label}) ON (n.{prop})"
                    )
        return ddl


def _props(owner: str, raw: Any) -> dict[str, PropertySpec]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SchemaError(f"schema.yaml: {owner}.properties must be a mapping")
    out = {}
    for name, p in raw.items():
        if not _PROP_NAME.match(name) or name == "id":
            raise SchemaError(f"schema.yaml: {owner}.{name}: invalid property name")
        if not isinstance(p, dict) or set(p) != {"type", "sensitivity"}:
            raise SchemaError(
                f"schema.yaml: {owner}.{name}: needs exactly 'type' and 'sensitivity'"
            )
        if p["type"] not in _VALUE_TYPES:
            raise SchemaError(f"schema.yaml: {owner}.{name}: unknown value type {p['type']!r}")
        if p["sensitivity"] not in SENSITIVITIES:
            raise SchemaError(
                f"schema.yaml: {owner}.{name}: unknown sensitivity {p['sensitivity']!r}"
            )
        out[name] = PropertySpec(name, p["type"], p["sensitivity"])
    return out


def load_schema(text: str | None = None) -> Schema:
    """Parse and validate a schema document (the packaged ``schema.yaml`` by default).

    Raises
    ------
    SchemaError
        With the offending entry, when the document is inconsistent.
    """
    if text is None:
        text = resources.files("graph_models").joinpath("schema.yaml").read_text("utf-8")
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict) or not {"nodes", "relationships"} <= set(doc):
        raise SchemaError("schema.yaml: needs top-level 'nodes' and 'relationships'")
    nodes: dict[str, NodeSpec] = {}
    for label, n in doc["nodes"].items():
        if not _NAME.match(label):
            raise SchemaError(f"schema.yaml: node label {label!r} must be CamelCase letters")
        if n.get("id_type") not in _VALUE_TYPES:
            raise SchemaError(
                f"schema.yaml: {label}.id_type {n.get('id_type')!r} is not a value type"
            )
        if n.get("id_sensitivity") not in SENSITIVITIES:
            raise SchemaError(f"schema.yaml: {label}.id_sensitivity missing or unknown")
        nodes[label] = NodeSpec(
            label, n.get("zh", label), n["id_type"], n["id_sensitivity"],
            _props(label, n.get("properties")),
        )  # fmt: skip
    rels: dict[str, RelationshipSpec] = {}
    for rtype, r in doc["relationships"].items():
        if not _TYPE_NAME.match(rtype):
            raise SchemaError(f"schema.yaml: relationship type {rtype!r} must be UPPER_SNAKE")
        for end in ("from", "to"):
            labels = r.get(end)
            if not labels or any(lbl not in nodes for lbl in labels):
                raise SchemaError(
                    f"schema.yaml: {rtype}.{end} must list known node labels: {labels}"
                )
        rels[rtype] = RelationshipSpec(
            rtype, r.get("zh", rtype), tuple(r["from"]), tuple(r["to"]),
            _props(rtype, r.get("properties")),
        )  # fmt: skip
    return Schema(nodes=nodes, relationships=rels, version=int(doc.get("version", 1)))


SCHEMA = load_schema()
