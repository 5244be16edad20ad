"""Loaders: every contract quirk, every row accounted for, idempotent, clear errors."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph_models.errors import DataError
from graph_models.memory_store import MemoryStore
from loaders.headers import is_totals_text
from loaders.load import load_dataset
from loaders.reading import TableSource, detect_encoding, read_chunks
from tests import dataset_builder as db


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return db.build(tmp_path / "ds")


def test_counts_per_table_are_exact(dataset, tmp_path):
    report = load_dataset(dataset, MemoryStore(), rejects_dir=tmp_path / "rej")
    assert report.counts() == db.EXPECTED
    assert all(r.balanced for r in report.tables.values())
    assert report.tables["households"].encoding == "gb18030"
    assert report.tables["shareholdings"].encoding == "utf-8-sig"
    assert "deaths" in report.missing_tables


def test_rejects_files_carry_line_reason_and_raw_row(dataset, tmp_path):
    load_dataset(dataset, MemoryStore(), rejects_dir=tmp_path / "rej")
    persons = pd.read_csv(tmp_path / "rej" / "persons.csv", dtype=str, encoding="utf-8-sig")
    assert persons[["line", "reason"]].values.tolist() == [
        ["5", "bad_birth_date"],
        ["6", "bad_checksum"],
        ["7", "bad_row_shape"],
    ]
    # both failures of line 6 are named in its message
    assert "required" in persons.loc[1, "message"] and "check" in persons.loc[1, "message"]
    reasons = {
        t: pd.read_csv(tmp_path / "rej" / f"{t}.csv", dtype=str, encoding="utf-8-sig")[
            "reason"
        ].tolist()
        for t in (
            "regions",
            "gov_units",
            "enterprises",
            "shareholdings",
            "households",
            "aid_payments",
        )
    }
    assert reasons == {
        "regions": ["bad_region"],
        "gov_units": ["bad_checksum"],
        "enterprises": ["bad_length"],
        "shareholdings": ["bad_pct"],
        "households": ["bad_checksum"],
        "aid_payments": ["negative_amount"],
    }


def test_identities_normalised_before_joins(dataset):
    store = MemoryStore()
    load_dataset(dataset, store)
    households = store.nodes("Household").set_index("id")
    assert households.loc["H1", "head_id"] == db.HEAD1  # 15-digit form upgraded
    assert households.loc["H2", "head_id"] == db.HEAD2  # lower-case x upper-cased
    assert households.loc["H1", "village_code"] == "410822101001"
    assert households.loc["H1", "region_code"] == "410822"
    persons = set(store.nodes("Person")["id"])
    assert {db.HEAD1, db.HEAD2, db.MEMBER, db.SHAREHOLDER} <= persons
    assert persons == {p.upper() for p in persons}


def test_references_create_bare_entities_and_local_ids_dangle(dataset):
    store = MemoryStore()
    report = load_dataset(dataset, store)
    ent = store.nodes("Enterprise").set_index("id")
    assert db.OUTSIDER in ent.index  # bare entity from a national identifier
    assert ent.loc[db.OUTSIDER, "_table"] == "shareholdings"
    gov = set(store.nodes("GovUnit")["id"])
    assert {db.GOV, db.SASAC} <= gov
    holds = store.relationships("HOLDS_SHARES")
    assert set(zip(holds["src_label"], holds["dst_label"], strict=True)) == {
        ("GovUnit", "Enterprise"), ("Enterprise", "Enterprise"), ("Person", "Enterprise"),
    }  # fmt: skip
    # the payment to household H9 is loaded, its household kept as a property, no PAID_FOR edge
    pay = store.nodes("Payment").set_index("id")
    assert pay.loc["P2", "household_id"] == "H9"
    assert set(store.relationships("PAID_FOR")["id"]) == {"P1|H1"}
    assert report.tables["aid_payments"].dangling_refs["household_id"] == 1


def test_provenance_on_every_node_and_relationship(dataset):
    store = MemoryStore()
    load_dataset(dataset, store)
    counts = store.counts()
    for label in counts["nodes"]:
        f = store.nodes(label)
        assert f[["_table", "_line", "_batch"]].notna().all().all(), label
    for rtype in counts["relationships"]:
        f = store.relationships(rtype)
        assert f[["_table", "_line", "_batch"]].notna().all().all(), rtype
    flows = store.relationships("FUND_FLOW").set_index("id")
    assert flows.loc["F1", "_line"] == 2 and flows.loc["F1", "_table"] == "fund_flows"
    assert flows.loc["F1", "备注"] == "季度付息"  # unknown column kept as a property


def test_loading_twice_gives_the_same_graph(dataset, tmp_path):
    store = MemoryStore(tmp_path / "ws")
    load_dataset(dataset, store)
    first = {
        lbl: store.nodes(lbl).sort_values("id").reset_index(drop=True)
        for lbl in store.counts()["nodes"]
    }
    first_rels = {
        t: store.relationships(t).sort_values("id").reset_index(drop=True)
        for t in store.counts()["relationships"]
    }
    load_dataset(dataset, store)
    reopened = MemoryStore(tmp_path / "ws")
    for s in (store, reopened):
        assert s.counts() == {"nodes": {k: len(v) for k, v in first.items()},
                              "relationships": {k: len(v) for k, v in first_rels.items()}}  # fmt: skip
        for lbl, f in first.items():
            pd.testing.assert_frame_equal(
                s.nodes(lbl).sort_values("id").reset_index(drop=True), f, check_dtype=False
            )


def test_rejected_rows_are_in_the_store(dataset):
    store = MemoryStore()
    load_dataset(dataset, store)
    rej = store.nodes("RejectedRow").set_index("id")
    assert rej.loc["households:4", "reason"] == "bad_checksum"
    assert rej.loc["households:4", "column"] == "head_id"
    assert rej.loc["households:4", "raw_value"] == db.BAD_CHECK


def test_manifest_maps_other_names(tmp_path):
    root = tmp_path / "other"
    root.mkdir()
    with open(root / "死亡名单.csv", "w", encoding="gb18030", newline="") as f:
        w = csv.writer(f)
        w.writerow(["证件号", "死亡时间"])
        w.writerow([db.HEAD1, "2021-03-02"])
    (root / "manifest.yaml").write_text(
        "tables:\n  deaths:\n    file: 死亡名单.csv\n    columns: {证件号: person_id, 死亡时间: death_date}\n",
        "utf-8",
    )
    report = load_dataset(root, MemoryStore())
    assert report.counts()["deaths"]["loaded"] == 1


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (lambda d: None, "missing_dataset"),
        (lambda d: (d.mkdir(), (d / "deaths.csv").write_text("name,x\na,b\n")), "missing_column"),
        (
            lambda d: (
                d.mkdir(),
                (d / "deaths.csv").write_bytes(b"person_id,death_date\n\xff\xfe\x80\x81\n"),
            ),
            "unreadable_file",
        ),
        (
            lambda d: (
                d.mkdir(),
                (d / "deaths.csv").write_text(
                    "person_id,death_date\n"
                    + "".join(f"{db.HEAD1},no date {i}\n" for i in range(30))
                ),
            ),
            "wrong_type_column",
        ),
        (
            lambda d: (
                d.mkdir(),
                (d / "deaths.csv").write_text("a"),
                (d / "deaths.parquet").write_text("b"),
            ),
            "ambiguous_table",
        ),
    ],
)
def test_bad_input_is_a_clear_data_error(tmp_path, setup, code):
    d = tmp_path / "bad"
    setup(d)
    with pytest.raises(DataError) as e:
        load_dataset(d, MemoryStore())
    assert e.value.code == code
    assert "\n" not in e.value.message


# -- properties of the parsers ------------------------------------------------------------------
_text = st.text(
    alphabet=st.characters(codec="gb18030", exclude_categories=("Cs", "Cc")), max_size=40
)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(_text, _text), min_size=1, max_size=30),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
       chunk=st.integers(1, 7))  # fmt: skip
def test_csv_reader_round_trips_any_text(tmp_path_factory, rows, encoding, chunk):
    path = tmp_path_factory.mktemp("csv") / "deaths.csv"
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(["person_id", "death_date"])
        w.writerows(rows)
    enc = detect_encoding(path)
    # gb18030 text that happens to be valid UTF-8 (e.g. pure ASCII) is read identically either way
    assert enc == encoding or (encoding == "gb18030" and enc == "utf-8")
    src = TableSource("deaths", path, "csv")
    chunks = list(read_chunks(src, chunk_rows=chunk))
    got = pd.concat(chunks, ignore_index=True)
    # rows whose every cell is blank, and totals rows (合计), are skipped and listed, never loaded
    kept = [
        list(r) for r in rows if any(c.strip() for c in r) and not any(is_totals_text(c) for c in r)
    ]
    assert got[["person_id", "death_date"]].values.tolist() == kept
    skipped = chunks[0].attrs["skipped"]
    assert len(skipped) == len(rows) - len(kept)
    # physical line numbers: header is line 1; quoted newlines make records span lines
    starts = [2]
    for r in rows[:-1]:
        starts.append(starts[-1] + 1 + sum(c.count("\n") + c.count("\r") for c in r))
    want = [s for s, r in zip(starts, rows, strict=True) if list(r) in kept]
    assert got["_line"].tolist() == want or any("\r" in c for r in rows for c in r)


@settings(max_examples=200, deadline=None)
@given(chunks=st.lists(st.lists(st.integers(0, 40), max_size=60), max_size=12))
def test_duplicate_tracker_marks_exactly_the_repeats(chunks):
    """Every hash after its first sighting is a duplicate, across chunks and within one, however
    the tracker keeps its runs; ``seen`` is every hash once, sorted."""
    from loaders.validation import DuplicateTracker

    tracker, first = DuplicateTracker(), set()
    for chunk in chunks:
        hashes = np.array(chunk, dtype=np.uint64)
        want = []
        for h in chunk:
            want.append(h in first)
            first.add(h)
        assert tracker.mark(hashes).tolist() == want
    assert tracker.seen.tolist() == sorted(first)
