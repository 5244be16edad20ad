"""The schema and the contract are data validated at import; a broken one is a clear SchemaError."""

from __future__ import annotations

import pytest
import yaml

from graph_models.errors import SchemaError
from graph_models.schema import SCHEMA, SENSITIVITIES, load_schema
from loaders.contract import CONTRACT, load_contract

CONTRACT_TABLES = {
    "regions", "gov_units", "enterprises", "shareholdings", "loans", "bonds", "guarantees",
    "fund_flows", "projects", "households", "persons", "aid_payments", "bank_accounts", "deaths",
    "payroll", "vehicles", "properties", "business_registrations", "social_insurance", "officials",
    "kinship", "prisoners",
}  # fmt: skip


def test_every_contract_table_is_mapped():
    assert set(CONTRACT) == CONTRACT_TABLES
    for spec in CONTRACT.values():
        assert spec.nodes or spec.edges, spec.name


def test_every_label_and_type_is_produced_by_some_table():
    produced_labels = {n.label for t in CONTRACT.values() for n in t.nodes}
    produced_types = {e.type for t in CONTRACT.values() for e in t.edges}
    assert set(SCHEMA.nodes) - produced_labels == {"RejectedRow", "Phone"}  # made by the loader
    assert set(SCHEMA.relationships) == produced_types


def test_every_property_has_a_sensitivity_class():
    for spec in list(SCHEMA.nodes.values()) + list(SCHEMA.relationships.values()):
        for p in spec.properties.values():
            assert p.sensitivity in SENSITIVITIES
    assert SCHEMA.sensitivity("Person", "id") == "personal"
    assert SCHEMA.sensitivity("Enterprise", "id") == "public"
    assert SCHEMA.sensitivity("Person", "some_unknown_extra_column") == "confidential"


def test_constraints_generated_for_every_label_and_type():
    ddl = SCHEMA.neo4j_constraints()
    for label in SCHEMA.nodes:
        assert any(f"(n:{label}) REQUIRE n.id IS UNIQUE" in d for d in ddl)
    for rtype in SCHEMA.relationships:
        assert any(f"[r:{rtype}]" in d for d in ddl)


BASE = {
    "nodes": {"A": {"id_type": "text", "id_sensitivity": "public", "properties": {}}},
    "relationships": {"R": {"from": ["A"], "to": ["A"], "properties": {}}},
}


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["nodes"]["A"].update(id_type="nonsense"),
        lambda d: d["nodes"]["A"].update(id_sensitivity="secret"),
        lambda d: d["nodes"]["A"]["properties"].update(x={"type": "text"}),
        lambda d: d["nodes"]["A"]["properties"].update(x={"type": "blob", "sensitivity": "public"}),
        lambda d: d["relationships"]["R"].update(to=["Missing"]),
        lambda d: d["nodes"].update({"lower": d["nodes"]["A"]}),
        lambda d: d.pop("relationships"),
    ],
)
def test_broken_schema_is_our_bug_with_a_clear_error(mutate):
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    load_schema(yaml.safe_dump(doc))  # the base is valid
    mutate(doc)
    with pytest.raises(SchemaError, match=r"schema\.yaml"):
        load_schema(yaml.safe_dump(doc))


@pytest.mark.parametrize(
    "bad",
    [
        {"tables": {"t": {"columns": {"a": {"type": "nonsense"}}}}},
        {
            "tables": {
                "t": {"columns": {"a": {"type": "text"}}, "nodes": [{"label": "Nope", "id": "a"}]}
            }
        },
        {
            "tables": {
                "t": {
                    "columns": {"a": {"type": "person_id"}},
                    "edges": [{"type": "KIN", "id": "a", "from": "a", "to": "zzz"}],
                }
            }
        },
        {
            "tables": {
                "t": {
                    "columns": {"a": {"type": "uscc"}},
                    "edges": [{"type": "KIN", "id": "a", "from": "a", "to": "a"}],
                }
            }
        },
    ],
)
def test_broken_contract_is_our_bug(bad):
    with pytest.raises(SchemaError, match=r"contract\.yaml"):
        load_contract(yaml.safe_dump(bad, allow_unicode=True))
