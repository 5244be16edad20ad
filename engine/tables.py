"""The columns the engine reads from each node label and relationship type, in one place.

Columns come from the graph model (``graph_models/schema.yaml``), never from lists copied into
detectors: a node label gives ``id`` and its properties, a relationship type ``id, src,
src_label, dst, dst_label`` and its properties, and both end with the loaders' provenance
``_table`` and ``_line`` (the source table and line that evidence quotes). Each column also has
the engine type a typed read casts it to (``text``, ``float``, ``int``, ``date``, ``bool``).

A detector reads a frame with these columns through its context (``ctx.frame("Loan")``); the
DuckDB views of the aid registers (:mod:`engine.aid_registers`) are declared from the same table.

Examples
--------
>>> columns("Loan")[:4]
['id', 'borrower_id', 'lender_id', 'principal']
>>> column_types("GUARANTEES")["amount"], column_types("GUARANTEES")["_line"]
('float', 'int')
>>> is_relationship("KIN"), is_relationship("Person")
(True, False)
"""

from __future__ import annotations

from functools import cache

from graph_models.schema import SCHEMA

__all__ = ["PROVENANCE", "column_types", "columns", "is_known", "is_relationship", "zh_name"]

#: Provenance columns every frame ends with (the source table and its line number).
PROVENANCE = {"_table": "text", "_line": "int"}

#: Value type of the graph model -> engine type of a typed read.
_ENGINE_TYPE = {
    "amount": "float",
    "float": "float",
    "pct": "float",
    "int": "int",
    "date": "date",
    "bool": "bool",
}


def is_known(name: str) -> bool:
    """Whether ``name`` is a node label or relationship type of the graph model.

    Examples
    --------
    >>> is_known("Household"), is_known("Households")
    (True, False)
    """
    return name in SCHEMA.nodes or name in SCHEMA.relationships


def is_relationship(name: str) -> bool:
    """Whether ``name`` is a relationship type (``UPPER_SNAKE``) rather than a node label.

    Examples
    --------
    >>> is_relationship("MEMBER_OF"), is_relationship("Household")
    (True, False)
    """
    if not is_known(name):
        raise KeyError(
            f"{name!r} is neither a node label nor a relationship type of the graph model"
        )
    return name in SCHEMA.relationships


def zh_name(name: str) -> str:
    """The Chinese name of a label or relationship type.

    Examples
    --------
    >>> zh_name("Household"), zh_name("GUARANTEES")
    ('建档立卡户', '担保')
    """
    spec = SCHEMA.nodes.get(name) or SCHEMA.relationships.get(name)
    return spec.zh if spec is not None else name


@cache
def column_types(name: str) -> dict[str, str]:
    """Column -> engine type of a label or relationship type, in reading order.

    Examples
    --------
    >>> column_types("DeathRecord")
    {'id': 'text', 'person_id': 'text', 'death_date': 'date', 'source': 'text', '_table': 'text', '_line': 'int'}
    """
    if is_relationship(name):
        spec = SCHEMA.relationships[name]
        head = {
            "id": "text",
            "src": "text",
            "src_label": "text",
            "dst": "text",
            "dst_label": "text",
        }
    else:
        spec = SCHEMA.nodes[name]
        head = {"id": _ENGINE_TYPE.get(spec.id_type, "text")}
    props = {p: _ENGINE_TYPE.get(s.type, "text") for p, s in spec.properties.items()}
    return {**head, **props, **PROVENANCE}


def columns(name: str) -> list[str]:
    """The columns read from a label or relationship type, in reading order.

    Examples
    --------
    >>> columns("KIN")
    ['id', 'src', 'src_label', 'dst', 'dst_label', 'relation', '_table', '_line']
    """
    return list(column_types(name))
