"""The same dataset loaded into the memory store and into Neo4j gives the same graph and flags.

Every node and relationship frame, every entity lookup, neighbourhoods, shortest paths,
projections and the detectors' flags are compared store against store.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from engine.runner import run_detectors
from loaders.load import load_dataset
from tests import dataset_builder as db
from tests.graph_models.test_store import canonical

pytestmark = pytest.mark.neo4j

AS_OF = dt.date(2024, 6, 30)


def _frames_equal(memory, neo4j) -> None:
    counts = memory.counts()
    assert neo4j.counts() == counts
    for label in counts["nodes"]:
        pd.testing.assert_frame_equal(
            canonical(neo4j.nodes(label)), canonical(memory.nodes(label)), obj=label
        )
    for rtype in counts["relationships"]:
        pd.testing.assert_frame_equal(
            canonical(neo4j.relationships(rtype)), canonical(memory.relationships(rtype)), obj=rtype
        )


def _subgraph_key(sub) -> tuple:
    nodes = sorted(
        (r.label, r.id, tuple(sorted(r.properties.items()))) for r in sub.nodes.itertuples()
    )
    edges = sorted(
        (r.type, r.id, r.src_label, r.src, r.dst_label, r.dst, tuple(sorted(r.properties.items())))
        for r in sub.edges.itertuples()
    )
    return nodes, edges, sub.truncated


def _paths_key(paths) -> set:
    return {(tuple(p.nodes), tuple((e["type"], e["id"]) for e in p.edges)) for p in paths}


def _walks_equal(memory, neo4j, starts: list[str], pairs: list[tuple[str, str]]) -> None:
    for node_id in starts:
        assert neo4j.get_entity(node_id) == memory.get_entity(node_id), node_id
        for hops in (1, 2):
            want = memory.neighborhood(node_id, hops=hops, limit=10_000)
            assert not want.truncated
            assert _subgraph_key(
                neo4j.neighborhood(node_id, hops=hops, limit=10_000)
            ) == _subgraph_key(want)
        cut = memory.neighborhood(node_id, hops=2, limit=3)
        got = neo4j.neighborhood(node_id, hops=2, limit=3)
        assert (len(got.nodes), got.truncated) == (len(cut.nodes), cut.truncated), node_id
    for source, target in pairs:
        want = memory.paths(source, target, max_hops=4, limit=50)
        got = neo4j.paths(source, target, max_hops=4, limit=50)
        assert _paths_key(got) == _paths_key(want), (source, target)


def _projections_equal(memory, neo4j) -> None:
    rtypes = sorted(memory.counts()["relationships"])
    pm, pn = memory.projection(rtypes), neo4j.projection(rtypes)
    assert pn.index == pm.index

    def edge_multiset(p):
        g = p.graph
        return Counter((e.source, e.target, e["type"], e["eid"]) for e in g.es)

    assert edge_multiset(pn) == edge_multiset(pm)


def _flags(store) -> list[tuple[str, str, float]]:
    return sorted(
        (f.flag_id, f.severity, round(float(f.score), 9))
        for f in run_detectors(store, as_of=AS_OF).flags
    )


def test_hand_built_dataset_gives_the_same_graph(tmp_path, store_factory):
    dataset = db.build(tmp_path / "ds")
    memory, neo4j = store_factory("memory"), store_factory("neo4j")
    load_dataset(dataset, memory)
    load_dataset(dataset, neo4j)
    _frames_equal(memory, neo4j)
    entities = [
        db.GOV,
        db.SASAC,
        db.LGFV,
        db.BANK,
        db.OUTSIDER,
        db.HEAD1,
        db.HEAD2,
        db.MEMBER,
        db.SHAREHOLDER,
    ]
    pairs = [(a, b) for a in entities for b in entities if a < b]
    _walks_equal(memory, neo4j, [*entities, "H1", "410822", "P1"], pairs)
    _projections_equal(memory, neo4j)
    assert _flags(neo4j) == _flags(memory)


@pytest.fixture(scope="module")
def synth_dataset(tmp_path_factory) -> Path:
    from fixtures.synth import generate

    out = tmp_path_factory.mktemp("synth") / "ds"
    generate(out, households=120, seed=11)
    return out


def test_synthetic_dataset_gives_the_same_graph_and_flags(synth_dataset, store_factory):
    memory, neo4j = store_factory("memory"), store_factory("neo4j")
    load_dataset(synth_dataset, memory)
    load_dataset(synth_dataset, neo4j)
    _frames_equal(memory, neo4j)
    rng = random.Random(5)
    starts = []
    for label in ("Person", "Enterprise", "GovUnit", "Household"):
        ids = sorted(memory.nodes(label, ["id"])["id"])
        starts += rng.sample(ids, min(4, len(ids)))
    people = sorted(memory.nodes("Person", ["id"])["id"])
    firms = sorted(memory.nodes("Enterprise", ["id"])["id"])
    pairs = [(rng.choice(people), rng.choice(people)) for _ in range(6)]
    pairs += [(rng.choice(firms), rng.choice(firms)) for _ in range(6)]
    _walks_equal(memory, neo4j, starts, pairs)
    _projections_equal(memory, neo4j)
    flags = _flags(memory)
    assert flags, "the synthetic dataset plants cases: some flags expected"
    assert _flags(neo4j) == flags
