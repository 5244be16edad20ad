"""Realistic export messes: each loads exactly as the clean data does, or is refused with the fix.

The messes and their expected loads come from ``fixtures/messes``; the expectations are stated
relative to the clean dataset's load, so this test checks the whole path (reading, validation,
mapping) against what the damaged files really hold.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from fixtures.messes import MESSES, make, make_clean
from graph_models.memory_store import MemoryStore
from loaders.clerk_report import FIXES
from loaders.load import LoadFailed, LoadReport, load_dataset

_PROV = ["_line", "_batch"]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LoadReport, MemoryStore]:
    root = tmp_path_factory.mktemp("messes")
    path = make_clean(root / "clean", households=200)
    store = MemoryStore()
    report = load_dataset(path, store, rejects_dir=root / "clean-rejects")
    assert report.ok, report.problems
    return path, report, store


def _nodes(store: MemoryStore, label: str) -> pd.DataFrame:
    f = store.nodes(label).drop(columns=_PROV, errors="ignore")
    return f.sort_values("id").reset_index(drop=True)[sorted(f.columns)]


def _rels(store: MemoryStore, rtype: str) -> pd.DataFrame:
    f = store.relationships(rtype).drop(columns=_PROV, errors="ignore")
    return f.sort_values(["id", "src", "dst"]).reset_index(drop=True)[sorted(f.columns)]


def _rejected(store: MemoryStore) -> Counter:
    f = store.nodes("RejectedRow")
    return Counter(zip(f["table"], f["reason"], f["column"].fillna(""), strict=True))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", list(MESSES))
def test_mess_loads_exactly_as_expected(clean, name, tmp_path):
    clean_dir, base, base_store = clean
    exp = make(name, clean_dir, tmp_path / name)
    if exp.refused:
        with pytest.raises(LoadFailed) as err:
            load_dataset(tmp_path / name, MemoryStore(), rejects_dir=tmp_path / "rej")
        problems = err.value.report.problems
        assert sorted(p["code"] for p in problems) == sorted(exp.refused)
        for p in problems:  # every refusal names what to do, for the clerk and in the message
            assert p["code"] in FIXES and FIXES[p["code"]][1]
        assert (tmp_path / "rej" / "validation-report.html").exists()
        assert (tmp_path / "rej" / "validation-report.xlsx").exists()
        return
    store = MemoryStore()
    report = load_dataset(tmp_path / name, store, rejects_dir=tmp_path / "rej")
    assert report.ok, report.problems
    got, want = report.counts(), base.counts()
    for table, counts in want.items():
        delta = exp.counts.get(table, {})
        expected = {k: v + delta.get(k, 0) for k, v in counts.items() if k != "dangling"}
        assert {k: v for k, v in got[table].items() if k != "dangling"} == expected, table
        reasons = Counter(base.tables[table].reasons)
        reasons.update(exp.reasons.get(table, {}))
        assert report.tables[table].reasons == +reasons, table
        skipped = Counter()
        for f in report.tables[table].files:
            skipped.update(f.skipped)
            assert f.accounted, f.as_dict()
        assert dict(skipped) == exp.skipped.get(table, {}), table
        blanked = Counter(report.tables[table].warnings)
        blanked.subtract(base.tables[table].warnings)
        assert dict(+blanked) == exp.blanked.get(table, {}), table
        if table in exp.files:
            assert [f.file for f in report.tables[table].files] == exp.files[table]
    assert len(report.identity_conflicts) == exp.identity_conflicts
    if exp.same_graph:
        counts = store.counts()
        assert counts == base_store.counts()
        for label in counts["nodes"]:
            if label != "RejectedRow":
                pd.testing.assert_frame_equal(_nodes(store, label), _nodes(base_store, label))
        for rtype in counts["relationships"]:
            pd.testing.assert_frame_equal(_rels(store, rtype), _rels(base_store, rtype))
        assert _rejected(store) == _rejected(base_store)


def test_excel_damaged_ids_never_reach_the_graph(clean, tmp_path):
    clean_dir, _, _ = clean
    make("excel_damaged_ids", clean_dir, tmp_path / "m")
    store = MemoryStore()
    report = load_dataset(tmp_path / "m", store)
    persons = store.nodes("Person")
    from_persons = persons[persons["_table"] == "persons"]
    assert not from_persons["id"].str.endswith("000").any()
    examples = [e for f in report.files for e in f.examples.get("excel_damaged_id", [])]
    assert examples and all("Excel" in e["message"] for e in examples)


def test_identity_conflict_keeps_both_records(clean, tmp_path):
    clean_dir, _, _ = clean
    make("identity_conflict", clean_dir, tmp_path / "m")
    store = MemoryStore()
    report = load_dataset(tmp_path / "m", store, rejects_dir=tmp_path / "rej")
    (conflict,) = report.identity_conflicts
    first, other = conflict["first"], conflict["other"]
    assert first["name"] != other["name"] and first["file"] == other["file"] == "persons.csv"
    person = store.nodes("Person").set_index("id").loc[conflict["person_id"]]
    assert person["name"] == first["name"]  # never renamed by the later record
    rejected = store.nodes("RejectedRow")
    row = rejected[rejected["reason"] == "identity_conflict"].iloc[0]
    assert row["line"] == other["line"] and str(first["line"]) in row["message"]


def test_name_spaces_keep_the_raw_name(clean, tmp_path):
    clean_dir, _, _ = clean
    make("name_spaces", clean_dir, tmp_path / "m")
    store = MemoryStore()
    load_dataset(tmp_path / "m", store)
    names = store.nodes("Person")["name"].dropna()
    assert names.str.contains("\u3000").any()


def test_validation_report_lists_what_to_fix(clean, tmp_path):
    clean_dir, _, _ = clean
    make("excel_damaged_ids", clean_dir, tmp_path / "m")
    for lang, word in (("zh", "证件号被Excel改成了数字"), ("en", "ID damaged by Excel")):
        load_dataset(tmp_path / "m", MemoryStore(), rejects_dir=tmp_path / lang, report_lang=lang)
        html = (tmp_path / lang / "validation-report.html").read_text("utf-8")
        assert word in html and "persons.csv" in html
        from openpyxl import load_workbook

        wb = load_workbook(tmp_path / lang / "validation-report.xlsx", read_only=True)
        assert len(wb.sheetnames) == 6
        rows = list(wb.worksheets[2].iter_rows(values_only=True))
        assert any("excel_damaged_id" in str(r[2]) for r in rows[1:])


def test_unreadable_households_fail_the_load_and_count_as_missing(clean, tmp_path):
    clean_dir, _, _ = clean
    make("title_rows", clean_dir, tmp_path / "m")
    (tmp_path / "m" / "households.csv").write_bytes(b"\xff\xfe\x80\x81 not text\n")
    with pytest.raises(LoadFailed) as err:
        load_dataset(tmp_path / "m", MemoryStore())
    codes = sorted(p["code"] for p in err.value.report.problems)
    assert codes == ["missing_required_table", "missing_required_table", "unreadable_file"]
    # with --allow-partial the rest loads and the problems are still reported
    report = load_dataset(tmp_path / "m", MemoryStore(), allow_partial=True)
    assert sorted(p["code"] for p in report.problems) == codes
    assert report.tables["aid_payments"].loaded > 0
