"""The GraphStore contract, run against every store (``store`` is parametrised: memory, neo4j).

Expected values are worked out by hand from small drawn graphs, or come from an independent
dict model (the hypothesis test), never from one of the stores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph_models.store import EDGE_COLUMNS, PATH_HUB_DEGREE

# -- helpers --------------------------------------------------------------------------------


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame in a form two stores can be compared in.

    Rows sorted by id, columns by name; columns with no value at all are dropped (Neo4j stores
    no nulls, so "a column that is always missing" does not exist there); an Int64 column
    without missing values compares as int64 (the loaders write ``RejectedRow.line`` as int64
    although the schema types it ``int``, i.e. Int64).
    """
    keep = [c for c in frame.columns if frame[c].notna().any()]
    out = frame.loc[:, sorted(keep)]
    if "id" in out.columns:
        out = out.sort_values("id", kind="stable")
    out = out.reset_index(drop=True)
    for c in out.columns:
        if str(out[c].dtype) == "Int64" and not out[c].isna().any():
            out[c] = out[c].astype("int64")
    return out


def persons(*ids: str, **cols: list) -> pd.DataFrame:
    return pd.DataFrame({"id": list(ids), **cols})


def edges(rows: list[tuple[str, str, str]], src_label="Person", dst_label="Person", **cols):
    """Relationship rows from ``(id, src, dst)`` triples."""
    return pd.DataFrame(
        {
            "id": [r[0] for r in rows],
            "src": [r[1] for r in rows],
            "src_label": src_label,
            "dst": [r[2] for r in rows],
            "dst_label": dst_label,
            **cols,
        }
    )


@pytest.fixture
def drawn(store):
    """A small drawn graph of Persons::

    A -KIN-> B -KIN-> C -KIN-> D        Z (isolated)
    A -FUND_FLOW(F1)-> E -FUND_FLOW(F2)-> C
    """
    store.upsert_nodes("Person", persons("A", "B", "C", "D", "E", "Z", name=list("甲乙丙丁戊己")))
    store.upsert_relationships("KIN", edges([("K1", "A", "B"), ("K2", "B", "C"), ("K3", "C", "D")]))
    store.upsert_relationships(
        "FUND_FLOW", edges([("F1", "A", "E"), ("F2", "E", "C")], amount=[100.0, 200.0])
    )
    return store


def node_ids(sub) -> set[str]:
    return set(sub.nodes["id"])


def edge_ids(sub) -> set[str]:
    return set(sub.edges["id"])


def path_key(p) -> tuple:
    return tuple(p.nodes), tuple(e["id"] for e in p.edges)


# -- upsert semantics -----------------------------------------------------------------------


def test_nodes_merge_by_id_and_nulls_never_erase(store):
    store.upsert_nodes(
        "Region",
        pd.DataFrame(
            {"id": ["410000", "410800"], "name": ["河南省", "焦作市"], "level": ["province", None]}
        ),
    )
    store.upsert_nodes(
        "Region",
        pd.DataFrame(
            {"id": ["410000", "410822"], "name": [None, "博爱县"], "level": ["省", "county"]}
        ),
    )
    got = store.nodes("Region").set_index("id")
    assert sorted(got.index) == ["410000", "410800", "410822"]
    assert got.loc["410000", "name"] == "河南省"  # a null did not erase it
    assert got.loc["410000", "level"] == "省"  # a non-null value overwrote it
    assert got.loc["410800", "level"] is None
    assert got.loc["410822", "name"] == "博爱县"


def test_repeated_ids_in_one_frame_keep_the_last_non_null_value(store):
    store.upsert_nodes(
        "Person",
        persons("P1", "P1", "P1", name=["a", None, "c"], phone=["1", "2", None]),
    )
    got = store.nodes("Person").set_index("id")
    assert len(got) == 1
    assert (got.loc["P1", "name"], got.loc["P1", "phone"]) == ("c", "2")


def test_create_only_never_touches_an_existing_node(store):
    store.upsert_nodes(
        "Enterprise", pd.DataFrame({"id": ["E1"], "name": ["城投"], "_table": ["enterprises"]})
    )
    store.upsert_nodes(
        "Enterprise",
        pd.DataFrame(
            {
                "id": ["E1", "E2", "E2"],
                "name": [None, None, "later"],
                "_table": ["shareholdings", "shareholdings", "loans"],
            }
        ),
        create_only=True,
    )
    got = store.nodes("Enterprise").set_index("id")
    assert got.loc["E1", "_table"] == "enterprises" and got.loc["E1", "name"] == "城投"
    # a new id is created once, from its first row
    assert got.loc["E2", "_table"] == "shareholdings" and got.loc["E2", "name"] is None


def test_relationships_merge_by_id_and_nulls_never_erase(store):
    store.upsert_nodes("Person", persons("A", "B"))
    store.upsert_relationships("KIN", edges([("K1", "A", "B")], relation=["spouse"], _line=[2]))
    store.upsert_relationships(
        "KIN", edges([("K1", "A", "B"), ("K2", "B", "A")], relation=[None, "child"], _line=[7, 8])
    )
    got = store.relationships("KIN").set_index("id")
    assert sorted(got.index) == ["K1", "K2"]
    assert got.loc["K1", "relation"] == "spouse" and got.loc["K1", "_line"] == 7
    assert (got.loc["K2", "src"], got.loc["K2", "dst"]) == ("B", "A")


def test_a_relationship_whose_endpoints_change_moves_and_keeps_its_values(store):
    store.upsert_nodes("Person", persons("A", "B", "C"))
    store.upsert_relationships("KIN", edges([("K1", "A", "B")], relation=["spouse"]))
    store.upsert_relationships("KIN", edges([("K1", "A", "C")], relation=[None]))
    got = store.relationships("KIN")
    assert len(got) == 1
    row = got.iloc[0]
    assert (row["src"], row["dst"], row["relation"]) == ("A", "C", "spouse")
    assert store.neighborhood("B").edges.empty


def test_a_relationship_to_an_absent_endpoint_is_kept(store):
    store.upsert_nodes("Person", persons("A"))
    store.upsert_relationships("KIN", edges([("K1", "A", "NOBODY")]))
    got = store.relationships("KIN")
    assert got[["id", "src", "dst"]].values.tolist() == [["K1", "A", "NOBODY"]]


def test_upserting_the_same_rows_twice_changes_nothing(drawn):
    before = {t: canonical(drawn.relationships(t)) for t in ("KIN", "FUND_FLOW")}
    nodes_before = canonical(drawn.nodes("Person"))
    drawn.upsert_nodes("Person", persons("A", "B", "C", "D", "E", "Z", name=list("甲乙丙丁戊己")))
    drawn.upsert_relationships("KIN", edges([("K1", "A", "B"), ("K2", "B", "C"), ("K3", "C", "D")]))
    assert drawn.counts() == {"nodes": {"Person": 6}, "relationships": {"FUND_FLOW": 2, "KIN": 3}}
    pd.testing.assert_frame_equal(canonical(drawn.nodes("Person")), nodes_before)
    for t, frame in before.items():
        pd.testing.assert_frame_equal(canonical(drawn.relationships(t)), frame)


_ids = st.sampled_from(["P1", "P2", "P3"])
_names = st.one_of(st.none(), st.text(min_size=1, max_size=6))
_phones = st.one_of(st.none(), st.sampled_from(["13800138000", "+86 139"]))
_batches = st.lists(
    st.tuples(st.lists(st.tuples(_ids, _names, _phones), min_size=1, max_size=5), st.booleans()),
    min_size=1,
    max_size=4,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=_batches)
def test_upserts_match_a_dict_model_and_are_idempotent(store, batches):
    """Any sequence of merges and create-only upserts ends where a plain dict model says.

    Writes apply in order; the read after each batch makes the memory store consolidate in
    order too (without it, its pending create-only rows lose to any merge of the same id, even
    a later one).
    """
    store.clear()
    model: dict[str, dict[str, str]] = {}
    for rows, create_only in batches:
        frame = pd.DataFrame(rows, columns=["id", "name", "phone"], dtype=object)
        store.upsert_nodes("Person", frame, create_only=create_only)
        store.counts()
        for node_id, name, phone in rows:
            values = {k: v for k, v in (("name", name), ("phone", phone)) if v is not None}
            if not create_only:
                model.setdefault(node_id, {}).update(values)
            elif node_id not in model:
                model[node_id] = values
    got = store.nodes("Person", ["id", "name", "phone"]).set_index("id")
    assert sorted(got.index) == sorted(model)
    for node_id, values in model.items():
        for col in ("name", "phone"):
            want = values.get(col)
            assert (
                got.loc[node_id, col] == want
                if want is not None
                else pd.isna(got.loc[node_id, col])
            )
    # replaying every batch leaves the store as it is
    snapshot = canonical(store.nodes("Person"))
    for rows, create_only in batches:
        store.upsert_nodes(
            "Person",
            pd.DataFrame(rows, columns=["id", "name", "phone"], dtype=object),
            create_only=create_only,
        )
    pd.testing.assert_frame_equal(canonical(store.nodes("Person")), snapshot)


def test_unknown_labels_types_and_missing_columns_are_refused(store):
    with pytest.raises(KeyError):
        store.upsert_nodes("Dragon", persons("A"))
    with pytest.raises(KeyError):
        store.upsert_relationships("LOVES", edges([("L", "A", "B")]))
    with pytest.raises(KeyError):
        store.nodes("Dragon")
    with pytest.raises(KeyError):
        store.relationships("LOVES")
    with pytest.raises(ValueError):
        store.upsert_nodes("Person", pd.DataFrame({"name": ["x"]}))
    with pytest.raises(ValueError):
        store.upsert_relationships("KIN", pd.DataFrame({"id": ["K"], "src": ["A"], "dst": ["B"]}))
    assert store.upsert_nodes("Person", persons()) == 0
    assert store.counts() == {"nodes": {}, "relationships": {}}


# -- frames ---------------------------------------------------------------------------------


def test_frames_keep_the_loaders_value_types(store):
    regions = pd.DataFrame(
        {
            "id": ["410000", "410800"],
            "name": pd.Series(["河南省", None], dtype=object),
            "year": pd.array([2023, None], dtype="Int64"),
            "general_budget_revenue": [4.5e11, np.nan],
            "_table": ["regions", "regions"],
            "_line": np.array([2, 3], dtype="int64"),
            "_batch": ["b1", "b1"],
        }
    ).astype({"id": object, "name": object, "_table": object, "_batch": object})
    projects = pd.DataFrame(
        {
            "id": ["XM1", "XM2"],
            "buyback_clause": pd.Series(
                [True, None], dtype=object
            ),  # bools as the loaders give them
            "total_investment": [1.0e8, 2.5e7],
            "region_code": ["410822", "410822"],
        }
    ).astype({"id": object, "region_code": object})
    store.upsert_nodes("Region", regions)
    store.upsert_nodes("Project", projects)
    pd.testing.assert_frame_equal(canonical(store.nodes("Region")), canonical(regions))
    pd.testing.assert_frame_equal(canonical(store.nodes("Project")), canonical(projects))
    got = store.nodes("Region").set_index("id")
    assert got.loc["410800", "name"] is None  # object columns hold None, not NaN
    assert pd.isna(got.loc["410800", "year"]) and str(got["year"].dtype) == "Int64"


def test_relationship_frames_have_the_edge_columns_and_properties(drawn):
    flows = drawn.relationships("FUND_FLOW")
    assert list(flows.columns[:5]) == list(EDGE_COLUMNS)
    got = canonical(flows)
    want = canonical(
        edges([("F1", "A", "E"), ("F2", "E", "C")], amount=[100.0, 200.0])
        .astype(object)
        .astype({"amount": "float64"})
    )
    pd.testing.assert_frame_equal(got, want)


def test_empty_frames_and_asked_columns(store):
    assert list(store.nodes("Person").columns) == ["id"] and store.nodes("Person").empty
    assert list(store.relationships("KIN").columns) == list(EDGE_COLUMNS)
    assert list(store.nodes("Person", ["id", "name"]).columns) == ["id", "name"]
    store.upsert_nodes("Person", persons("A", "B", name=["甲", None]))
    got = store.nodes("Person", ["name", "id", "no_such_column"])
    assert list(got.columns) == ["name", "id", "no_such_column"]
    assert got.set_index("id")["name"].to_dict() == {"A": "甲", "B": None}
    assert got["no_such_column"].isna().all()
    store.upsert_relationships("KIN", edges([("K1", "A", "B")], relation=["spouse"]))
    rel = store.relationships("KIN", ["dst", "relation", "id"])
    assert rel.values.tolist() == [["B", "spouse", "K1"]]


def test_counts_name_only_non_empty_labels_and_types(drawn):
    assert drawn.counts() == {"nodes": {"Person": 6}, "relationships": {"FUND_FLOW": 2, "KIN": 3}}


def test_clear_removes_everything(drawn):
    drawn.clear()
    assert drawn.counts() == {"nodes": {}, "relationships": {}}
    assert drawn.nodes("Person").empty and drawn.get_entity("A") is None


# -- lookups and walks ----------------------------------------------------------------------


def test_get_entity_searches_entity_labels_first(store):
    store.upsert_nodes("Project", pd.DataFrame({"id": ["X1"], "name": ["项目"]}))
    store.upsert_nodes("Enterprise", pd.DataFrame({"id": ["X1"], "name": ["公司"], "kind": [None]}))
    assert store.get_entity("X1") == {
        "id": "X1",
        "label": "Enterprise",
        "properties": {"name": "公司"},
    }
    assert store.get_entity("X1", label="Project")["properties"] == {"name": "项目"}
    assert store.get_entity("X1", label="Loan") is None
    assert store.get_entity("nobody") is None


@pytest.mark.parametrize(
    ("start", "hops", "types", "want_nodes", "want_edges"),
    [
        ("A", 1, None, {"A", "B", "E"}, {"K1", "F1"}),
        ("A", 2, None, {"A", "B", "C", "E"}, {"K1", "K2", "F1", "F2"}),
        ("A", 2, ["KIN"], {"A", "B", "C"}, {"K1", "K2"}),
        ("A", 3, ["KIN", "NO_SUCH_TYPE"], {"A", "B", "C", "D"}, {"K1", "K2", "K3"}),
        ("C", 1, None, {"C", "B", "D", "E"}, {"K2", "K3", "F2"}),  # both directions
        ("A", 0, None, {"A"}, set()),
        ("Z", 2, None, {"Z"}, set()),
        ("A", 2, ["NO_SUCH_TYPE"], {"A"}, set()),
    ],
)
def test_neighborhood(drawn, start, hops, types, want_nodes, want_edges):
    sub = drawn.neighborhood(start, hops=hops, types=types)
    assert node_ids(sub) == want_nodes and edge_ids(sub) == want_edges
    assert not sub.truncated
    assert sub.nodes.iloc[0]["id"] == start


def test_neighborhood_records_carry_labels_and_properties(drawn):
    sub = drawn.neighborhood("E", hops=1)
    nodes = sub.nodes.set_index("id")
    assert nodes.loc["A", "label"] == "Person" and nodes.loc["A", "properties"] == {"name": "甲"}
    flow = sub.edges.set_index("id").loc["F2"]
    assert (flow["type"], flow["src"], flow["src_label"], flow["dst"], flow["dst_label"]) == (
        "FUND_FLOW", "E", "Person", "C", "Person",
    )  # fmt: skip
    assert flow["properties"] == {"amount": 200.0}


def test_neighborhood_limit_truncates(drawn):
    sub = drawn.neighborhood("A", hops=2, limit=3)
    assert sub.truncated and len(sub.nodes) == 3 and "A" in node_ids(sub)
    kept = node_ids(sub)
    assert all(e.src in kept and e.dst in kept for e in sub.edges.itertuples())
    exact = drawn.neighborhood("A", hops=2, limit=4)  # exactly four nodes within two hops
    assert not exact.truncated and len(exact.nodes) == 4


def test_neighborhood_of_an_unknown_node_or_wrong_label_is_empty(drawn):
    for sub in (drawn.neighborhood("nobody"), drawn.neighborhood("A", label="Enterprise")):
        assert sub.nodes.empty and sub.edges.empty and not sub.truncated


def test_get_entities_is_get_entity_for_many_ids(store):
    store.upsert_nodes("Project", pd.DataFrame({"id": ["X1", "X2"], "name": ["项目", "项目二"]}))
    store.upsert_nodes("Enterprise", pd.DataFrame({"id": ["X1"], "name": ["公司"], "kind": [None]}))
    store.upsert_nodes("Person", persons("A", name=["甲"]))
    got = store.get_entities(["X1", "nobody", "A", "X2", "A"])
    assert got == {i: store.get_entity(i) for i in ("X1", "A", "X2")}
    assert got["X1"]["label"] == "Enterprise"  # entity labels first, as get_entity
    assert store.get_entities([]) == {}


def _key(sub) -> tuple:
    return (
        sorted((n["label"], n["id"], repr(sorted(n["properties"].items())))
               for n in sub.node_rows()),
        sorted((e["id"], e["type"], e["src"], e["dst"]) for e in sub.edge_rows()),
        bool(sub.truncated),
    )  # fmt: skip


def test_neighborhoods_are_the_one_hop_neighborhood_of_each_start(drawn):
    # a self-loop and a parallel relationship: both kept, the node once
    drawn.upsert_relationships("KIN", edges([("K4", "C", "C"), ("K5", "B", "C")]))
    starts = [("Person", "A"), ("Person", "C"), ("Person", "nobody"), ("Enterprise", "A"),
              ("Person", "Z"), ("NoSuchLabel", "A"), ("Person", "A")]  # fmt: skip
    for limit in (500, 3, 2, 1):
        got = drawn.neighborhoods(starts, limit=limit)
        assert len(got) == len(starts)
        for (label, node_id), sub in zip(starts, got, strict=True):
            if label not in drawn.schema.nodes:
                assert not sub.node_rows() and not sub.edge_rows()
                continue
            one = drawn.neighborhood(node_id, label, hops=1, limit=limit)
            if not one.truncated:
                assert _key(sub) == _key(one), (label, node_id, limit)
            else:  # which neighbours make the cut is the store's walk order
                assert sub.truncated and len(sub.node_rows()) == len(one.node_rows()) == limit
                kept = node_ids(sub)
                assert node_id in kept
                assert all(e["src"] in kept and e["dst"] in kept for e in sub.edge_rows())
    c = drawn.neighborhoods([("Person", "C")])[0]
    assert node_ids(c) == {"B", "C", "D", "E"} and edge_ids(c) == {"K2", "K3", "K4", "K5", "F2"}
    assert drawn.neighborhoods([]) == []


@pytest.mark.neo4j
def test_neighborhoods_of_a_start_with_very_many_relationships_are_truncated(
    store_factory, monkeypatch
):
    """Neo4j groups at most a fixed number of a start's relationships (a hub's 100k are not
    all read); past it the answer says truncated, never silently partial. (The memory store
    walks its adjacency arrays: no cap.)"""
    drawn = store_factory("neo4j")  # empty
    drawn.upsert_nodes("Person", persons("A", "B", "C", "E", name=list("甲乙丙戊")))
    drawn.upsert_relationships("KIN", edges([("K1", "A", "B")]))
    drawn.upsert_relationships("FUND_FLOW", edges([("F1", "A", "E"), ("F2", "E", "C")]))

    import graph_models.neo4j_store as neo

    monkeypatch.setattr(neo, "_AROUND_CAP", 3)
    drawn.upsert_relationships("KIN", edges([(f"P{i}", "A", "B") for i in range(5)]))
    sub = drawn.neighborhoods([("Person", "A")], limit=3)[0]  # 7 relationships, 2 neighbours
    assert sub.truncated
    assert node_ids(sub) <= {"A", "B", "E"} and "A" in node_ids(sub)
    kept = node_ids(sub)
    assert all(e["src"] in kept and e["dst"] in kept for e in sub.edge_rows())
    small = drawn.neighborhoods([("Person", "E")], limit=3)[0]  # 2 relationships: under the cap
    assert not small.truncated and node_ids(small) == {"A", "C", "E"}


def test_paths_returns_every_shortest_path(drawn):
    got = drawn.paths("A", "D")
    assert {path_key(p) for p in got} == {
        ((("Person", "A"), ("Person", "B"), ("Person", "C"), ("Person", "D")), ("K1", "K2", "K3")),
        ((("Person", "A"), ("Person", "E"), ("Person", "C"), ("Person", "D")), ("F1", "F2", "K3")),
    }
    for p in got:
        assert len(p) == 3
        for (la, a), (lb, b), e in zip(p.nodes, p.nodes[1:], p.edges, strict=False):
            assert {e["src"], e["dst"]} == {a, b} and e["src_label"] == la and e["dst_label"] == lb
    one = drawn.paths("A", "D", limit=1)
    assert len(one) == 1 and path_key(one[0]) in {path_key(p) for p in got}


def test_paths_follow_types_direction_and_hop_bound(drawn):
    assert [path_key(p)[1] for p in drawn.paths("A", "C", types=["KIN"])] == [("K1", "K2")]
    assert drawn.paths("A", "D", max_hops=2) == []
    assert drawn.paths("D", "A", directed=True) == []
    assert len(drawn.paths("D", "A")) == 2  # undirected by default
    assert len(drawn.paths("A", "D", directed=True)) == 2
    assert drawn.paths("A", "Z") == [] and drawn.paths("A", "nobody") == []
    assert drawn.paths("A", "D", types=["NO_SUCH_TYPE"]) == []
    same = drawn.paths("C", "C")
    assert len(same) == 1 and same[0].nodes == [("Person", "C")] and same[0].edges == []


def test_parallel_relationships_are_distinct_paths(drawn):
    drawn.upsert_relationships("FUND_FLOW", edges([("F3", "A", "E")], amount=[5.0]))
    by_edges = {path_key(p)[1]: p for p in drawn.paths("A", "C")}
    assert set(by_edges) == {("K1", "K2"), ("F1", "F2"), ("F3", "F2")}
    first = by_edges[("F3", "F2")].edges[0]
    assert (first["src"], first["dst"], first["properties"]) == ("A", "E", {"amount": 5.0})


def test_paths_do_not_walk_through_hubs(store):
    """A node with more than PATH_HUB_DEGREE relationships is not expanded (e.g. a county Region)."""
    others = [f"O{i:05d}" for i in range(PATH_HUB_DEGREE - 2)]
    store.upsert_nodes("Person", persons("X", "Y", *others))
    store.upsert_nodes("Region", pd.DataFrame({"id": ["410822"]}))
    members = ["X", "Y", *others]
    insured = edges([(f"I{i}", p, "410822") for i, p in enumerate(members)], dst_label="Region")
    store.upsert_relationships("INSURED", insured)  # exactly PATH_HUB_DEGREE relationships
    assert [len(p) for p in store.paths("X", "Y")] == [2]
    store.upsert_relationships("INSURED", edges([("I-extra", "X", "410822")], dst_label="Region"))
    assert store.paths("X", "Y") == []
    assert [len(p) for p in store.paths("X", "410822")] == [1, 1]  # a hub can still be reached


def test_projection_has_stable_ids_and_every_relationship(drawn):
    proj = drawn.projection(["KIN", "FUND_FLOW"], properties=["amount"])
    g = proj.graph
    keys = [("Person", x) for x in "ABCDE"]
    assert sorted(proj.index) == keys and [proj.index[k] for k in keys] == list(range(5))
    assert list(zip(g.vs["label"], g.vs["id"], strict=True)) == keys
    got = {
        (g.vs[e.source]["id"], g.vs[e.target]["id"], e["type"], e["eid"],
         None if e["amount"] is None or pd.isna(e["amount"]) else e["amount"])
        for e in g.es
    }  # fmt: skip
    assert got == {
        ("A", "B", "KIN", "K1", None), ("B", "C", "KIN", "K2", None), ("C", "D", "KIN", "K3", None),
        ("A", "E", "FUND_FLOW", "F1", 100.0), ("E", "C", "FUND_FLOW", "F2", 200.0),
    }  # fmt: skip
    assert g.is_directed() and drawn.projection(["GUARANTEES"]).graph.vcount() == 0


def test_neighbourhoods_show_hubs_without_walking_through_them(store):
    # A - H, and H (the hub: 6 relationships) - B1..B5; A - C - D is an ordinary chain
    store.upsert_nodes("Person", persons("A", "H", "C", "D", *[f"B{i}" for i in range(1, 6)]))
    rows = [("K0", "A", "H"), ("K1", "A", "C"), ("K2", "C", "D")]
    rows += [(f"KB{i}", "H", f"B{i}") for i in range(1, 6)]
    store.upsert_relationships("KIN", edges(rows))
    sub = store.neighborhood("A", "Person", hops=2, hub_degree=3)
    assert set(sub.nodes["id"]) == {"A", "H", "C", "D"}
    assert sub.hubs == [("Person", "H")] and not sub.truncated
    # the start is always expanded, however many relationships it has
    assert set(store.neighborhood("H", "Person", hops=1, hub_degree=3).nodes["id"]) == {
        "A", "H", "B1", "B2", "B3", "B4", "B5",
    }  # fmt: skip
    wide = store.neighborhood("A", "Person", hops=2, hub_degree=10)
    assert len(wide.nodes) == 9 and wide.hubs == []


# -- what the API asks of a store: search, reopening, read-only Cypher ----------------------------


def test_search_matches_id_prefixes_and_names(store):
    store.upsert_nodes(
        "Region",
        pd.DataFrame(
            {"id": ["410000", "410800", "410802"], "name": ["河南省", "焦作市", "解放区"]}
        ),
    )
    store.upsert_nodes("Person", persons("410802199001011234"))
    assert sorted(store.search("Region", "4108")) == ["410800", "410802"]
    assert store.search("Region", "焦作") == ["410800"]
    assert store.search("Region", "焦作", by_name=False) == []
    assert store.search("Region", "4108", by_id=False) == []
    assert len(store.search("Region", "4", limit=2)) == 2
    assert store.search("Person", "410802") == ["410802199001011234"]  # Person has no name here
    assert store.search("NoSuchLabel", "4") == [] and store.search("Region", "4", limit=0) == []


def test_reopen_sees_what_was_flushed(store):
    store.upsert_nodes("Person", persons("A", "B"))
    store.flush()
    again = store.reopen()
    if store.in_process:  # an embedded store with a workspace re-reads it
        assert again is not None and again is not store
    view = again or store  # None: the store already sees every process's writes
    try:
        assert view.counts() == {"nodes": {"Person": 2}, "relationships": {}}
    finally:
        if again is not None:
            again.close()


def test_read_cypher_gives_plain_values_or_a_clear_refusal(store):
    from graph_models.errors import QueryError
    from graph_models.store import GraphNode, GraphPath, GraphRelationship

    store.upsert_nodes("Person", persons("A", "B", "C", name=["甲", "乙", "丙"]))
    store.upsert_relationships(
        "KIN", edges([("K1", "A", "B"), ("K2", "B", "C")], relation=["x", "y"])
    )

    def run(query, params=None, limit=100, keep=None):
        return store.read_cypher(query, params, timeout_s=10, limit=limit, keep=keep)

    if not store.supports_cypher:
        with pytest.raises(QueryError) as err:
            run("MATCH (n) RETURN n")
        assert err.value.code == "cypher_unavailable"
        return
    res = run(
        "MATCH p = (a:Person {id: $id})-[r:KIN]->(b) "
        "RETURN a, r, p, a.name AS name, date('2024-05-01') AS day, [1, 2.5] AS xs",
        params={"id": "A"},
    )
    assert res.columns == ["a", "r", "p", "name", "day", "xs"] and not res.truncated
    [[a, r, p, name, day, xs]] = res.rows
    assert a == GraphNode("Person", "A", {"name": "甲"})
    assert isinstance(r, GraphRelationship) and (r.id, r.type, r.properties) == (
        "K1",
        "KIN",
        {"relation": "x"},
    )
    assert (r.start.id, r.end.id) == ("A", "B")
    assert isinstance(p, GraphPath) and [n.id for n in p.nodes] == ["A", "B"]
    assert (name, day, xs) == ("甲", "2024-05-01", [1, 2.5])
    # at most ``limit`` rows; ``keep`` drops rows (they do not count against the limit)
    ids = "MATCH (n:Person) RETURN n.id AS id ORDER BY id"
    assert run(ids, limit=2).rows == [["A"], ["B"]] and run(ids, limit=2).truncated
    kept = run(ids, limit=2, keep=lambda row: None if row[0] == "A" else row)
    assert (kept.rows, kept.dropped, kept.truncated) == ([["B"], ["C"]], 1, False)
    for query, code in (("CREATE (n:Person {id: 'Z'}) RETURN n", "cypher_rejected"),
                        ("MATCH (n RETURN n", "cypher_error")):  # fmt: skip
        with pytest.raises(QueryError) as err:
            run(query)
        assert err.value.code == code
    assert store.counts()["nodes"] == {"Person": 3}


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "d", "e", "f"]),
            st.one_of(st.none(), st.integers(-5, 5)),
            st.one_of(st.none(), st.sampled_from(["x", "y", "z"])),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_last_values_keep_first_appearance_and_last_non_null(rows):
    """The embedded store's merge of repeated ids (only the repeated ones are aggregated) against
    a plain model: one row per id in the order ids first appear, each column's last non-null
    value; dictionary-encoded and all-null columns keep their types."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from graph_models.memory_store import _last_values

    table = pa.table({
        "id": [r[0] for r in rows],
        "n": pa.array([r[1] for r in rows], pa.int64()),
        "s": pc.dictionary_encode(pa.array([r[2] for r in rows], pa.string())),
        "none": pa.nulls(len(rows)),
    })  # fmt: skip
    want: dict[str, dict[str, object]] = {}
    for i, n, s in rows:
        got = want.setdefault(i, {"n": None, "s": None})
        got["n"] = n if n is not None else got["n"]
        got["s"] = s if s is not None else got["s"]
    out = _last_values(table)
    assert out.column_names == table.column_names
    assert out.schema.field("s").type == table.schema.field("s").type
    assert out.column("id").to_pylist() == list(want)
    assert out.column("n").to_pylist() == [v["n"] for v in want.values()]
    assert out.column("s").to_pylist() == [v["s"] for v in want.values()]
    assert out.column("none").null_count == len(want)


@settings(max_examples=200, deadline=None)
@given(
    ids=st.lists(st.text(alphabet="ab1", min_size=0, max_size=4), max_size=40),
    cut=st.integers(0, 40),
)
def test_distinct_ids_check_is_exact(ids, cut):
    """The embedded store's check that a table's ids are distinct (hashes first, only ids whose
    hashes repeat compared as strings) says exactly whether any id repeats."""
    import pyarrow as pa

    from graph_models.memory_store import _distinct

    chunks = [ids[:cut], ids[cut:]]
    assert _distinct(pa.chunked_array(chunks, pa.string())) == (len(set(ids)) == len(ids))


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(st.lists(st.sampled_from(["a", "b", None]), max_size=8), max_size=6),
    data=st.data(),
)
def test_take_of_ascending_rows_chunk_by_chunk(chunks, data):
    """Taking ascending rows chunk by chunk gives what Arrow's take gives."""
    import pyarrow as pa

    from graph_models.memory_store import _take_sorted

    col = pa.chunked_array(chunks, pa.string())
    rows = sorted(data.draw(st.lists(st.integers(0, max(len(col) - 1, 0)), max_size=10)))
    rows = rows if len(col) else []
    want = col.take(pa.array(rows, pa.int64())).to_pylist()
    assert _take_sorted(col, np.array(rows, dtype=np.int64)).to_pylist() == want
