"""Rescans reuse the flags of unchanged detectors, and write exactly what a full run writes.

The oracle is always a scan of the same workspace with ``reuse=False`` (every detector runs):
whatever a rescan reuses, its ``flags.jsonl`` and ``flags.csv`` must be those bytes (apart from
``new_since_previous_scan``, which compares against a different previous scan).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from api.scan.pipeline import scan_workspace
from engine.registry import all_detectors
from engine.reuse import PreviousFlags, code_digest, detector_key
from fixtures.synth import generate
from graph_models.memory_store import MemoryStore

AS_OF = dt.date(2024, 6, 30)
ALL = {s.id for s in all_detectors()}
FLAGGING = {s.id for s in all_detectors() if not s.computes}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("synth") / "ds"
    generate(d, households=150, seed=5)
    return d


def _flags(out: Path) -> list[dict]:
    rows = []
    for line in (out / "flags.jsonl").read_text("utf-8").splitlines():
        d = json.loads(line)
        d.pop("new_since_previous_scan", None)
        rows.append(d)
    return rows


def _csv(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "flags.csv", dtype=str).drop(columns=["new_since_previous_scan"])


def _same_as_full_run(ws: Path, dataset: Path, got: Path, tmp: Path, settings=None) -> None:
    """``got`` holds what a scan with every detector run writes on the same workspace."""
    full = scan_workspace(
        ws, dataset, tmp / "full", settings_doc=settings, as_of=AS_OF, reuse=False
    )
    assert full.summary["reused"] == {}
    assert _flags(got) == _flags(tmp / "full")
    pd.testing.assert_frame_equal(_csv(got), _csv(tmp / "full"))


def test_key_covers_settings_tables_date_engine_and_used_detectors():
    base = ("d", "s1", "2024-06-30", "embedded", {"A": "t1"}, {"u": "k1"})
    key = detector_key(*base)
    assert key == detector_key(*base)
    for i, other in [(1, "s2"), (2, "2024-07-01"), (3, "spark"), (4, {"A": "t2"}),
                     (4, {"A": "t1", "B": "absent"}), (5, {"u": "k2"})]:  # fmt: skip
        changed = list(base)
        changed[i] = other
        assert detector_key(*changed) != key, i
    assert detector_key("d", "s1", "2024-06-30", "embedded", {"A": None}, {}) is None
    assert detector_key("d", "s1", "2024-06-30", "embedded", {"A": "t"}, {"u": None}) is None
    assert len(code_digest()) == 16


def test_memory_store_tokens_follow_the_files(tmp_path):
    s = MemoryStore(tmp_path / "ws")
    assert s.table_token("Person") == "absent"
    s.upsert_nodes("Person", pd.DataFrame({"id": ["110105194912310029"]}))
    s.upsert_nodes("Household", pd.DataFrame({"id": ["H1"]}))
    assert s.table_token("Person") is None  # not written yet: nothing to vouch for
    s.flush()
    person, household = s.table_token("Person"), s.table_token("Household")
    assert person and household and person != "absent"
    s.upsert_nodes("Household", pd.DataFrame({"id": ["H2"]}))
    assert s.table_token("Household") is None
    s.flush()  # a new generation: Person hard-linked, Household rewritten
    assert s.table_token("Person") == person
    assert s.table_token("Household") not in (None, household)
    reopened = MemoryStore(tmp_path / "ws")
    assert reopened.table_token("Person") == person


def test_rescan_with_other_settings_reuses_the_rest_and_writes_a_full_runs_flags(dataset, tmp_path):
    ws = tmp_path / "ws"
    first = scan_workspace(ws, dataset, tmp_path / "o1", as_of=AS_OF)
    assert first.summary["reused"] == {}
    assert set(first.summary["detector_keys"]) <= FLAGGING
    assert first.summary["flags_total"] > 0
    settings = {"aid.deceased_recipient": {"grace_days": 400}}
    again = scan_workspace(ws, dataset, tmp_path / "o2", settings_doc=settings, as_of=AS_OF)
    reused = again.summary["reused"]
    assert "aid.deceased_recipient" not in reused
    assert "aid.deceased_recipient" in again.summary["timings"]["detectors"]
    ran = set(first.summary["detector_keys"]) - {"aid.deceased_recipient"}
    assert ran <= set(reused)
    assert reused["aid.paid_in_prison"]["generation"] == first.generation.id
    # it ran with the new settings: its flags carry their digest
    digest = again.summary["digests"]["aid.deceased_recipient"]
    assert digest != first.summary["digests"]["aid.deceased_recipient"]
    deceased = [f for f in _flags(tmp_path / "o2") if f["detector"] == "aid.deceased_recipient"]
    assert deceased and {f["settings_digest"] for f in deceased} == {digest}
    _same_as_full_run(ws, dataset, tmp_path / "o2", tmp_path, settings)


def test_a_changed_register_reruns_only_the_detectors_that_read_it(dataset, tmp_path):
    data = tmp_path / "ds"
    shutil.copytree(dataset, data)
    ws = tmp_path / "ws"
    scan_workspace(ws, data, tmp_path / "o1", as_of=AS_OF)
    deaths = data / "deaths.csv"
    text = deaths.read_text("utf-8-sig")
    lines = text.splitlines()
    deaths.write_text("\n".join(lines[:-1]) + "\n", "utf-8")  # one death record fewer
    again = scan_workspace(ws, data, tmp_path / "o2", as_of=AS_OF)
    assert "deaths.csv" in " ".join(again.summary["workspace"]["loaded_files"])
    readers = {s.id for s in all_detectors() if "DeathRecord" in s.reads}
    assert readers and not readers & set(again.summary["reused"])
    assert "guarantee.circle" in again.summary["reused"]
    _same_as_full_run(ws, data, tmp_path / "o2", tmp_path)


def test_a_detector_used_by_one_that_runs_again_runs_again(dataset, tmp_path):
    ws = tmp_path / "ws"
    scan_workspace(ws, dataset, tmp_path / "o1", as_of=AS_OF)
    settings = {"debt.region_risk": {"top_contributors": 2}}
    again = scan_workspace(ws, dataset, tmp_path / "o2", settings_doc=settings, as_of=AS_OF)
    ran = set(again.summary["timings"]["detectors"])
    # region_risk reads the flags of hidden_chain and gov_guarantee; hidden_chain reads the
    # control results: all of them are computed again, nothing else is
    assert {"debt.region_risk", "debt.hidden_chain", "debt.gov_guarantee",
            "ownership.control"} <= ran  # fmt: skip
    assert "aid.anomaly" in again.summary["reused"]
    _same_as_full_run(ws, dataset, tmp_path / "o2", tmp_path, settings)


def test_another_reference_date_or_fresh_runs_everything(dataset, tmp_path):
    ws = tmp_path / "ws"
    scan_workspace(ws, dataset, tmp_path / "o1", as_of=AS_OF)
    later = scan_workspace(ws, dataset, tmp_path / "o2", as_of=dt.date(2024, 7, 1))
    assert later.summary["reused"] == {}
    fresh = scan_workspace(ws, dataset, tmp_path / "o3", as_of=dt.date(2024, 7, 1), reuse=False)
    assert fresh.summary["reused"] == {}
    assert set(fresh.summary["detector_keys"]) == set(later.summary["detector_keys"])


def test_previous_flags_that_do_not_match_their_summary_are_computed_again(dataset, tmp_path):
    ws = tmp_path / "ws"
    first = scan_workspace(ws, dataset, tmp_path / "o1", as_of=AS_OF)
    stored = first.generation.path / "scan" / "flags.jsonl"
    lines = stored.read_text("utf-8").splitlines(keepends=True)
    victim = json.loads(lines[0])["detector"]
    # a copy without the first flag, so the hard-linked outputs of the first scan stay intact
    stored.unlink()
    stored.write_text("".join(lines[1:]), "utf-8")
    prev = PreviousFlags.from_scan_dir(stored.parent)
    assert prev is not None and victim not in prev.flags_of([victim])
    again = scan_workspace(ws, dataset, tmp_path / "o2", as_of=AS_OF)
    assert victim not in again.summary["reused"]
    assert victim in again.summary["timings"]["detectors"]
    _same_as_full_run(ws, dataset, tmp_path / "o2", tmp_path)


def test_only_scans_record_keys_for_what_they_ran(dataset, tmp_path):
    ws = tmp_path / "ws"
    one = scan_workspace(ws, dataset, tmp_path / "o1", as_of=AS_OF, only=["aid.paid_in_prison"])
    assert set(one.summary["detector_keys"]) == {"aid.paid_in_prison"}
    full = scan_workspace(ws, dataset, tmp_path / "o2", as_of=AS_OF)
    assert set(full.summary["reused"]) == {"aid.paid_in_prison"}
    assert len(full.summary["detector_keys"]) > 1
