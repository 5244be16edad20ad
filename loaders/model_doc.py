"""The tables of ``docs/graph-model.md``, generated from ``schema.yaml`` and ``contract.yaml``.

The page's prose is written by hand; its two tables (node labels and relationship types, with
their properties, value types, sensitivity classes and the contract tables that produce them)
are generated here, between marker comments, so the page cannot drift from the schema.
``tests/loaders/test_model_doc.py`` fails when the page is stale; refresh it with::

    python -m loaders.model_doc --write

Examples
--------
>>> "| Household | 建档立卡户 |" in node_table()
True
>>> "| HEADED_BY |" in relationship_table()
True
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from graph_models.schema import SCHEMA, Schema
from loaders.contract import CONTRACT, TableSpec

__all__ = ["BEGIN", "END", "generated_section", "node_table", "refresh", "relationship_table"]

BEGIN = "<!-- BEGIN generated from graph_models/schema.yaml and loaders/contract.yaml -->"
END = "<!-- END generated -->"
#: labels no contract table defines as its rows' own node
_NOT_FROM_A_TABLE = {"RejectedRow": "(the loader: one per rejected row of any table)"}
DOC = Path(__file__).resolve().parent.parent / "docs" / "graph-model.md"


def _producers(contract: dict[str, TableSpec]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Contract tables that produce each label (as a row's own node) and each relationship type."""
    nodes: dict[str, list[str]] = {}
    rels: dict[str, list[str]] = {}
    for spec in contract.values():
        for nm in spec.nodes:
            nodes.setdefault(nm.label, []).append(spec.name)
        for em in spec.edges:
            rels.setdefault(em.type, []).append(spec.name)
    return nodes, rels


def _props(props: dict) -> str:
    return "<br>".join(f"`{p.name}` {p.type}, {p.sensitivity}" for p in props.values()) or "–"


def node_table(schema: Schema = SCHEMA, contract: dict[str, TableSpec] = CONTRACT) -> str:
    """Markdown table of node labels: id type and sensitivity, properties, producing tables."""
    made, _ = _producers(contract)
    lines = [
        "| label | 中文 | id (type, sensitivity) | properties (type, sensitivity) | from tables |",
        "|---|---|---|---|---|",
    ]
    for n in schema.nodes.values():
        tables = ", ".join(made.get(n.label, [])) or _NOT_FROM_A_TABLE.get(
            n.label, "(bare: only referenced)"
        )
        lines.append(
            f"| {n.label} | {n.zh} | {n.id_type}, {n.id_sensitivity} | {_props(n.properties)} "
            f"| {tables} |"
        )
    return "\n".join(lines)


def relationship_table(schema: Schema = SCHEMA, contract: dict[str, TableSpec] = CONTRACT) -> str:
    """Markdown table of relationship types: endpoints, properties, producing tables."""
    _, made = _producers(contract)
    lines = [
        "| type | 中文 | from → to | properties (type, sensitivity) | from tables |",
        "|---|---|---|---|---|",
    ]
    for r in schema.relationships.values():
        ends = f"{'/'.join(r.from_labels)} → {'/'.join(r.to_labels)}"
        tables = ", ".join(dict.fromkeys(made.get(r.type, []))) or "–"
        lines.append(f"| {r.type} | {r.zh} | {ends} | {_props(r.properties)} | {tables} |")
    return "\n".join(lines)


def generated_section() -> str:
    """The text between (and including) the markers."""
    return "\n\n".join(
        [
            BEGIN,
            "### Node labels",
            node_table(),
            "### Relationship types",
            relationship_table(),
            END,
        ]
    )


def refresh(text: str) -> str:
    """``text`` (the page) with its generated section replaced by a fresh one."""
    head, sep, rest = text.partition(BEGIN)
    if not sep:
        raise ValueError(f"{DOC.name}: no {BEGIN!r} marker")
    _, sep, tail = rest.partition(END)
    if not sep:
        raise ValueError(f"{DOC.name}: no {END!r} marker")
    return head + generated_section() + tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Refresh the generated tables of graph-model.md")
    parser.add_argument("--write", action="store_true", help="rewrite the page in place")
    args = parser.parse_args(argv)
    text = DOC.read_text("utf-8")
    fresh = refresh(text)
    if args.write:
        DOC.write_text(fresh, "utf-8")
        return 0
    if fresh != text:
        print(f"{DOC} is stale: run python -m loaders.model_doc --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
