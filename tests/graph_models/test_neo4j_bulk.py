"""Bulk first load (``neo4j-admin database import``): the files it writes, and the graph it gives
on the bundled server, which must equal the embedded store it came from frame for frame."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from graph_models.memory_store import MemoryStore
from graph_models.neo4j_bulk import bulk_import, write_import_files
from loaders.load import load_dataset
from tests.conftest import ROOT
from tests.graph_models.test_store import canonical

SCRIPT = ROOT / "scripts" / "neo4j.sh"


def tricky_graph() -> MemoryStore:
    """Values that CSV makes hard: quotes, commas, newlines, empty text, missing values, Chinese,
    bools, nullable ints, floats with NaN; and an endpoint no node table defines."""
    g = MemoryStore()
    g.upsert_nodes(
        "Project",
        pd.DataFrame(
            {
                "id": ["XM1", "XM2", "XM3"],
                "name": ['引号"项目", 一期', "多行\n说明", ""],
                "buyback_clause": pd.Series([True, None, False], dtype=object),
                "total_investment": [1.5e8, np.nan, 0.0],
                "region_code": ["410822", None, "410823"],
                "_line": np.array([2, 3, 4], dtype="int64"),
            }
        ),
    )
    g.upsert_nodes(
        "Region",
        pd.DataFrame({"id": ["410822"], "year": pd.array([None], dtype="Int64")}),
    )
    g.upsert_relationships(
        "IN_REGION",
        pd.DataFrame(
            {
                "id": ["IR1", "IR2"],
                "src": ["XM1", "XM3"],
                "src_label": "Project",
                "dst": ["410822", "410823"],  # 410823 has no Region row: a bare node
                "dst_label": "Region",
            }
        ),
    )
    return g


def test_import_files_have_typed_headers_and_quote_text(tmp_path):
    files = write_import_files(tricky_graph(), tmp_path)
    assert files.nodes == {"Project": 3, "Region": 2}
    assert files.relationships == {"IN_REGION": 2}
    with open(tmp_path / "nodes-Project.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    assert header[0] == "id:ID(Project)"
    assert {"buyback_clause:boolean", "total_investment:double", "_line:long", "name"} <= set(
        header
    )
    by_id = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    assert by_id["XM1"]["name"] == '引号"项目", 一期' and by_id["XM2"]["name"] == "多行\n说明"
    assert by_id["XM3"]["name"] == "" and by_id["XM2"]["buyback_clause:boolean"] == ""
    raw = (tmp_path / "nodes-Project.csv").read_text(encoding="utf-8")
    assert '"XM3","",false' in raw  # empty text quoted (a value); missing bare (absent)
    with open(tmp_path / "relationships-IN_REGION-Project-Region.csv", encoding="utf-8") as f:
        assert next(csv.reader(f)) == ["id", ":START_ID(Project)", ":END_ID(Region)"]
    args = files.arguments_file.read_text().split("\n")
    assert f"--nodes=Project={tmp_path / 'nodes-Project.csv'}" in args
    assert "--id-type=string" in args


@pytest.mark.neo4j
@pytest.mark.slow
def test_bulk_import_gives_the_graph_of_the_embedded_store(neo4j_settings, tmp_path, monkeypatch):
    uri = subprocess.run(["bash", str(SCRIPT), "uri"], capture_output=True, text=True).stdout
    if neo4j_settings["uri"] != uri.strip():
        pytest.skip("the server under test is not the bundled one (the importer needs its files)")
    from fixtures.synth import generate

    generate(tmp_path / "ds", households=120, seed=5)
    graph = tricky_graph()
    load_dataset(tmp_path / "ds", graph)
    monkeypatch.setenv("NEO4J_URI", neo4j_settings["uri"])
    monkeypatch.setenv("NEO4J_PASSWORD", neo4j_settings["password"])
    files, neo4j = bulk_import(graph, tmp_path / "import")
    try:
        counts = graph.counts()
        assert neo4j.counts()["relationships"] == counts["relationships"] == files.relationships
        assert neo4j.counts()["nodes"] == files.nodes  # graph's nodes plus the bare endpoint
        extra = set()
        for label in counts["nodes"]:
            got, want = neo4j.nodes(label), graph.nodes(label)
            known = got["id"].isin(want["id"])
            extra |= {(label, i) for i in got.loc[~known, "id"]}
            pd.testing.assert_frame_equal(canonical(got[known]), canonical(want), obj=label)
        assert extra == {("Region", "410823")}  # the bare endpoint, as MERGE makes it
        for rtype in counts["relationships"]:
            pd.testing.assert_frame_equal(
                canonical(neo4j.relationships(rtype)),
                canonical(graph.relationships(rtype)),
                obj=rtype,
            )
        # the imported graph is an ordinary database: constraints hold, Cypher upserts work
        neo4j.upsert_nodes("Project", pd.DataFrame({"id": ["XM2"], "name": ["补名"]}))
        assert neo4j.get_entity("XM2", label="Project")["properties"]["name"] == "补名"
    finally:
        neo4j.close()


def test_cli_bulk_refuses_the_memory_store(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "api.cli.main", "load", str(tmp_path), "--bulk"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0 and "--bulk" in r.stderr


def test_cli_replace_needs_bulk(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "api.cli.main", "load", str(tmp_path), "--replace"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0 and "--replace goes with --bulk" in r.stderr
