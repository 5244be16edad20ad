"""docs/graph-model.md's tables are generated from schema.yaml and contract.yaml and kept fresh."""

from __future__ import annotations

from graph_models.schema import SCHEMA
from loaders import model_doc


def test_graph_model_page_is_fresh():
    text = model_doc.DOC.read_text("utf-8")
    assert model_doc.refresh(text) == text, "run: python -m loaders.model_doc --write"


def test_every_label_type_and_property_is_on_the_page():
    text = model_doc.DOC.read_text("utf-8")
    for label, spec in SCHEMA.nodes.items():
        assert f"| {label} | {spec.zh} |" in text
        for prop in spec.properties:
            assert f"`{prop}`" in text
    for rtype in SCHEMA.relationships:
        assert f"| {rtype} |" in text


def test_a_changed_schema_makes_the_page_stale():
    text = model_doc.DOC.read_text("utf-8")
    edited = text.replace("| Household | 建档立卡户 |", "| Household | 户 |")
    assert model_doc.refresh(edited) == text
