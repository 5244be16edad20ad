"""Neo4j-specific behaviour: constraints, batching, retries, value conversion, injection, settings."""

from __future__ import annotations

import datetime as dt
import decimal
import subprocess

import numpy as np
import pandas as pd
import pytest

from graph_models.schema import SCHEMA
from tests.conftest import ROOT
from tests.graph_models.test_store import canonical, edges, persons

pytestmark = pytest.mark.neo4j


@pytest.fixture
def neo(store_factory):
    """A fresh, empty Neo4j store."""
    return store_factory("neo4j")


def _constraints(store) -> dict[str, tuple[str, tuple[str, ...]]]:
    recs = store._fetch("SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties")
    return {r["name"]: (r["type"], tuple(r["labelsOrTypes"]), tuple(r["properties"])) for r in recs}


def test_every_label_and_type_has_a_uniqueness_constraint_on_id(neo):
    neo.ensure_schema()  # idempotent
    got = _constraints(neo)
    for label in SCHEMA.nodes:
        assert got[f"{label.lower()}_id"] == ("UNIQUENESS", (label,), ("id",))
    for rtype in SCHEMA.relationships:
        assert got[f"rel_{rtype.lower()}_id"] == ("RELATIONSHIP_UNIQUENESS", (rtype,), ("id",))


def test_small_batches_write_the_same_graph_one_transaction_per_batch(
    neo, neo4j_settings, monkeypatch
):
    from graph_models.neo4j_store import Neo4jStore

    rows = persons(*[f"P{i:03d}" for i in range(50)], name=[f"名{i}" for i in range(50)])
    links = edges([(f"K{i}", f"P{i:03d}", f"P{(i + 1) % 50:03d}") for i in range(50)])
    neo.upsert_nodes("Person", rows)
    neo.upsert_relationships("KIN", links)
    want_nodes, want_rels = canonical(neo.nodes("Person")), canonical(neo.relationships("KIN"))
    neo.clear()
    small = Neo4jStore(
        neo4j_settings["uri"], neo4j_settings["user"], neo4j_settings["password"], batch_size=7
    )
    calls = []
    real = small._run_batch
    monkeypatch.setattr(
        small, "_run_batch", lambda tx, st, b: (calls.append(len(b)), real(tx, st, b))[1]
    )
    small.upsert_nodes("Person", rows)
    small.upsert_relationships("KIN", links)
    small.close()
    assert calls == [7] * 7 + [1] + [7] * 7 + [1]
    pd.testing.assert_frame_equal(canonical(neo.nodes("Person")), want_nodes)
    pd.testing.assert_frame_equal(canonical(neo.relationships("KIN")), want_rels)


def test_a_batch_retried_after_a_transient_error_is_written_once(neo, monkeypatch):
    from neo4j.exceptions import TransientError

    real = neo._run_batch
    attempts = []

    def flaky(tx, statement, rows):
        summary = real(tx, statement, rows)  # the work is done inside the transaction ...
        attempts.append(len(rows))
        if len(attempts) == 1:  # ... which then fails once and is rolled back and retried
            raise TransientError("simulated deadlock")
        return summary

    monkeypatch.setattr(neo, "_run_batch", flaky)
    neo.upsert_nodes("Person", persons("A", "B"))
    neo.upsert_relationships("KIN", edges([("K1", "A", "B")], relation=["spouse"]))
    assert attempts == [2, 2, 1]
    assert neo.counts() == {"nodes": {"Person": 2}, "relationships": {"KIN": 1}}


def test_values_are_converted_for_the_driver(neo):
    frame = pd.DataFrame(
        {
            "id": ["V1", "V2"],
            "np_int": [np.int64(7), np.int64(8)],
            "np_float": [np.float32(1.5), np.nan],
            "np_bool": np.array([True, False]),
            "a_date": [dt.date(2021, 3, 2), None],
            "a_time": [pd.Timestamp("2021-03-02 08:30"), pd.NaT],
            "a_decimal": [decimal.Decimal("1.25"), pd.NA],
        },
        dtype=object,
    )
    neo.upsert_nodes("Vehicle", frame)
    got = neo.get_entity("V1", label="Vehicle")["properties"]
    assert got == {
        "np_int": 7,
        "np_float": 1.5,
        "np_bool": True,
        "a_date": "2021-03-02",
        "a_time": "2021-03-02T08:30:00",
        "a_decimal": 1.25,
    }
    assert not any(isinstance(v, np.generic) for v in got.values())
    assert set(neo.get_entity("V2", label="Vehicle")["properties"]) == {"np_int", "np_bool"}


def test_labels_and_types_outside_the_schema_never_reach_cypher(neo, monkeypatch):
    monkeypatch.setattr(neo, "_run_batch", lambda *a: pytest.fail("a write was attempted"))
    hostile = "Person {id: 'x'}) DETACH DELETE n //"
    with pytest.raises(KeyError):
        neo.upsert_nodes(hostile, persons("A"))
    with pytest.raises(KeyError):
        neo.upsert_relationships("KIN]->() DETACH DELETE r //", edges([("K", "A", "B")]))
    with pytest.raises(ValueError, match="unknown endpoint labels"):
        neo.upsert_relationships("KIN", edges([("K", "A", "B")], src_label=hostile))
    with pytest.raises(KeyError):
        neo.nodes(hostile)
    assert neo.get_entity("A", label=hostile) is None
    assert neo.neighborhood("A", label=hostile).nodes.empty


def test_property_names_and_values_are_data_not_cypher(neo):
    neo.upsert_nodes("Person", persons("A", "B"))
    hostile = "x'}) MATCH (m) DETACH DELETE m //"
    frame = persons(
        "C", **{"name": [hostile], "we`ird) DETACH DELETE n //": [hostile], "备注": ["季度"]}
    )
    neo.upsert_nodes("Person", frame)
    neo.upsert_relationships("KIN", edges([("K`1", "A", "C")], **{"re}l": [hostile]}))
    assert neo.counts() == {"nodes": {"Person": 3}, "relationships": {"KIN": 1}}
    got = neo.get_entity("C")["properties"]
    assert got == {"name": hostile, "we`ird) DETACH DELETE n //": hostile, "备注": "季度"}
    rel = neo.relationships("KIN").iloc[0]
    assert (rel["id"], rel["re}l"]) == ("K`1", hostile)


def test_rows_need_ids(neo):
    with pytest.raises(ValueError, match="non-null 'id'"):
        neo.upsert_nodes("Person", pd.DataFrame({"id": ["A", None]}, dtype=object))
    with pytest.raises(ValueError, match="non-null"):
        neo.upsert_relationships("KIN", edges([("K1", "A", None)]))


def test_a_large_relationship_type_streams_into_one_frame(neo):
    n = 30_000
    ids = [f"P{i:06d}" for i in range(n)]
    neo.upsert_nodes("Person", persons(*ids))
    neo.upsert_relationships(
        "KIN",
        edges([(f"K{i}", ids[i], ids[(i * 7 + 1) % n]) for i in range(n)], _line=np.arange(n)),
    )
    got = neo.relationships("KIN")
    assert len(got) == n and got["id"].is_unique
    assert str(got["_line"].dtype) == "int64" and sorted(got["_line"]) == list(range(n))
    assert set(got["src_label"]) == {"Person"}


def test_from_env_uses_the_neo4j_variables(neo4j_settings, monkeypatch):
    from graph_models.neo4j_store import Neo4jStore

    monkeypatch.setenv("NEO4J_URI", neo4j_settings["uri"])
    monkeypatch.setenv("NEO4J_USER", neo4j_settings["user"])
    monkeypatch.setenv("NEO4J_PASSWORD", neo4j_settings["password"])
    monkeypatch.setenv("NEO4J_DATABASE", "neo4j")
    store = Neo4jStore.from_env()
    try:
        assert (store.uri, store.database) == (neo4j_settings["uri"], "neo4j")
        assert store.counts() is not None
    finally:
        store.close()


def test_from_env_falls_back_to_the_bundled_server(neo4j_settings, monkeypatch):
    from graph_models.neo4j_store import Neo4jStore

    script = ROOT / "scripts" / "neo4j.sh"
    bundled = subprocess.run(
        ["bash", str(script), "uri"], capture_output=True, text=True
    ).stdout.strip()
    if neo4j_settings["uri"] != bundled:
        pytest.skip("the server under test is not the bundled one")
    for var in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_DATABASE"):
        monkeypatch.delenv(var, raising=False)
    store = Neo4jStore.from_env()
    try:
        assert store.uri == bundled and store.counts() is not None
    finally:
        store.close()


def test_wrong_credentials_fail_at_once_with_one_line(neo4j_settings):
    from neo4j.exceptions import AuthError

    from graph_models.neo4j_errors import describe_neo4j_error
    from graph_models.neo4j_store import Neo4jStore

    with pytest.raises(AuthError) as err:
        Neo4jStore(neo4j_settings["uri"], "neo4j", "not-the-password")
    line = describe_neo4j_error(err.value)
    assert line and "\n" not in line and "credentials" in line


def test_reads_share_a_bounded_number_of_slots_without_deadlock(neo, neo4j_settings):
    """With one read slot, 16 threads still all get their answers (they queue for the slot),
    and a read started inside a read does not wait for a slot it holds itself."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from graph_models.neo4j_store import Neo4jStore

    neo.upsert_nodes("Person", persons(*[f"P{i:02d}" for i in range(20)]))
    neo.upsert_relationships(
        "KIN", edges([(f"K{i}", f"P{i:02d}", f"P{(i + 1) % 20:02d}") for i in range(20)])
    )
    one = Neo4jStore(
        neo4j_settings["uri"], neo4j_settings["user"], neo4j_settings["password"], readers=1
    )
    try:
        want = {f"P{i:02d}": len(neo.neighborhood(f"P{i:02d}", "Person", hops=2).nodes)
                for i in range(20)}  # fmt: skip
        start = threading.Barrier(16)

        def ask(i: int) -> tuple[str, int]:
            start.wait()
            nid = f"P{i % 20:02d}"
            return nid, len(one.neighborhood(nid, "Person", hops=2).nodes)

        with ThreadPoolExecutor(16) as pool:
            got = list(pool.map(ask, range(16)))
        assert all(want[nid] == n == 5 for nid, n in got)
        nested = one._read(lambda tx: one.get_entity("P00", "Person"))
        assert nested is not None and nested["id"] == "P00"
    finally:
        one.close()
    with pytest.raises(ValueError, match="readers"):
        Neo4jStore(neo4j_settings["uri"], neo4j_settings["user"], neo4j_settings["password"],
                   readers=0)  # fmt: skip


# -- CREATE first, MERGE when the batch cannot be created whole ------------------------------


def _statements(store, monkeypatch) -> list[str]:
    """The statements of every batch transaction ``store`` runs from now on (attempts too)."""
    seen: list[str] = []
    real = store._run_batch

    def run(tx, statement, rows):
        seen.append(statement)
        return real(tx, statement, rows)

    monkeypatch.setattr(store, "_run_batch", run)
    return seen


def _kinds(statements: list[str]) -> list[str]:
    return ["merge" if "MERGE" in s else "create" for s in statements]


def test_new_rows_are_created_and_a_reload_merges_into_the_same_graph(
    neo, store_factory, monkeypatch
):
    rows = persons("A", "B", "C", name=["甲", None, "丙"], phone=[None, "139", "137"])
    links = edges(
        [("K1", "A", "B"), ("K2", "B", "C"), ("K3", "C", "A")], relation=["spouse", None, "kin"]
    )
    seen = _statements(neo, monkeypatch)
    neo.upsert_nodes("Person", rows)
    neo.upsert_relationships("KIN", links)
    assert _kinds(seen) == ["create", "create"]  # an empty database: no MERGE at all
    first = canonical(neo.nodes("Person")), canonical(neo.relationships("KIN"))
    mem = store_factory("memory")
    mem.upsert_nodes("Person", rows)
    mem.upsert_relationships("KIN", links)
    pd.testing.assert_frame_equal(first[0], canonical(mem.nodes("Person")))
    pd.testing.assert_frame_equal(first[1], canonical(mem.relationships("KIN")))

    seen.clear()
    neo.upsert_nodes("Person", rows)  # the same data again: the ids exist, so MERGE
    neo.upsert_relationships("KIN", links)
    assert _kinds(seen) == ["create", "merge", "create", "merge"]
    assert neo.counts() == {"nodes": {"Person": 3}, "relationships": {"KIN": 3}}
    pd.testing.assert_frame_equal(canonical(neo.nodes("Person")), first[0])
    pd.testing.assert_frame_equal(canonical(neo.relationships("KIN")), first[1])


def test_a_batch_that_cannot_be_created_whole_is_rolled_back_then_merged(neo, monkeypatch):
    neo.upsert_nodes("Person", persons("A", name=["甲"]))
    seen = _statements(neo, monkeypatch)
    # A exists: the CREATE of [A, B] fails on A and leaves no B behind; MERGE writes both,
    # and A's missing name does not erase the stored one
    neo.upsert_nodes("Person", persons("A", "B", name=[None, "乙"], phone=["139", None]))
    assert _kinds(seen) == ["create", "merge"]
    assert neo.get_entity("A")["properties"] == {"name": "甲", "phone": "139"}
    assert neo.get_entity("B")["properties"] == {"name": "乙"}
    # Z does not exist: MATCH drops that row, fewer are created than sent, so the batch is
    # rolled back (K1 is not written twice) and MERGE creates Z bare, as the memory store does
    seen.clear()
    neo.upsert_relationships("KIN", edges([("K1", "A", "B"), ("K2", "A", "Z")]))
    assert _kinds(seen) == ["create", "merge"]
    assert neo.counts() == {"nodes": {"Person": 3}, "relationships": {"KIN": 2}}
    assert neo.get_entity("Z")["properties"] == {}


def test_once_a_batch_falls_back_the_rest_of_the_call_merges(neo, neo4j_settings, monkeypatch):
    from graph_models.neo4j_store import Neo4jStore

    small = Neo4jStore(
        neo4j_settings["uri"], neo4j_settings["user"], neo4j_settings["password"], batch_size=2
    )
    try:
        small.upsert_nodes("Person", persons("P2"))
        seen = _statements(small, monkeypatch)
        small.upsert_nodes("Person", persons("P0", "P1", "P2", "P3", "P4", "P5"))
        # [P0, P1] is new; [P2, P3] holds P2: rolled back, merged, and so is [P4, P5]
        assert _kinds(seen) == ["create", "create", "merge", "merge"]
        seen.clear()
        small.upsert_nodes("Person", persons("Q0", "Q1"))  # a new call tries CREATE again
        assert _kinds(seen) == ["create"]
    finally:
        small.close()
    assert neo.counts() == {"nodes": {"Person": 8}, "relationships": {}}


def test_property_names_reach_cypher_only_as_plain_identifiers(neo, monkeypatch):
    seen = _statements(neo, monkeypatch)
    neo.upsert_nodes("Person", persons("A", name=["甲"], region_code=["410000"]))
    neo.upsert_nodes("Person", persons("B", **{"备注": ["x"], "a`b": ["y"]}))
    plain, other = seen
    assert "`name`: row[1]" in plain and "`region_code`: row[2]" in plain
    assert "备注" not in other and "a`b" not in other and "SET n += row[1]" in other
    assert neo.get_entity("B")["properties"] == {"备注": "x", "a`b": "y"}


def test_concurrent_writers_give_the_graph_of_one_writer(neo, neo4j_settings):
    from graph_models.neo4j_store import Neo4jStore

    ids = [f"P{i:03d}" for i in range(300)]
    rows = persons(*ids, name=[f"名{i}" for i in range(300)])
    # every relationship touches one of a few hubs: writers contend for the same nodes
    links = edges([(f"K{i}", ids[i], ids[i % 5]) for i in range(5, 300)], relation="kin")
    neo.upsert_nodes("Person", rows)
    neo.upsert_relationships("KIN", links)
    want = canonical(neo.nodes("Person")), canonical(neo.relationships("KIN"))
    neo.clear()
    cfg = neo4j_settings
    two = Neo4jStore(cfg["uri"], cfg["user"], cfg["password"], batch_size=20, writers=3)
    try:
        two.upsert_nodes("Person", rows)
        two.upsert_relationships("KIN", links)
        two.upsert_relationships("KIN", links)  # and again: merged, nothing doubles
    finally:
        two.close()
    pd.testing.assert_frame_equal(canonical(neo.nodes("Person")), want[0])
    pd.testing.assert_frame_equal(canonical(neo.relationships("KIN")), want[1])


def test_without_the_uniqueness_constraints_only_merge_is_used(neo, neo4j_settings, monkeypatch):
    from graph_models.neo4j_store import Neo4jStore

    with neo._session() as session:  # CREATE would no longer refuse an existing id
        session.run("DROP CONSTRAINT person_id IF EXISTS").consume()
    cfg = neo4j_settings
    bare = Neo4jStore(cfg["uri"], cfg["user"], cfg["password"])
    try:
        seen = _statements(bare, monkeypatch)
        bare.upsert_nodes("Person", persons("A", "B"))
        bare.upsert_nodes("Person", persons("A", "B"))
        assert _kinds(seen) == ["merge", "merge"]
        assert bare.counts() == {"nodes": {"Person": 2}, "relationships": {}}
    finally:
        bare.close()
        neo.ensure_schema()
