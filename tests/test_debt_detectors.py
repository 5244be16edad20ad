"""Local-government debt detectors on the hand-drawn county case (fixtures/debt/hidden_debt.yaml),
through the real loaders, plus the settings that must change the outcome."""

from __future__ import annotations

import pytest

from engine.runner import parse_settings, run_detectors
from fixtures.debt import check_case, load_case, scan_case, subject_of, write_dataset
from graph_models.memory_store import MemoryStore
from loaders.load import load_dataset


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    case = load_case("hidden_debt")
    store = MemoryStore()
    load_dataset(write_dataset(case, tmp_path_factory.mktemp("county")), store)
    return case, store


def scan(county, detectors, settings=None):
    case, store = county
    parsed = parse_settings(settings) if settings else None
    return run_detectors(store, settings=parsed, only=detectors, as_of=case["as_of"])


def by_subject(result, detector):
    return {f.subject_id: f for f in result.flags if f.detector == detector}


def test_case_meets_expectations_and_near_misses(tmp_path):
    case, result = scan_case("hidden_debt", tmp_path)
    assert not result.skipped
    check_case(case, result)


def test_every_flag_carries_provenance_and_both_languages(county):
    result = scan(county, None)
    debt = [f for f in result.flags if f.family == "debt"]
    assert debt
    for f in debt:
        blob = str(f.to_dict()["evidence"])
        assert "_table" in blob and "_line" in blob, f.detector
        assert f.explanation["zh"] and f.explanation["en"]
    hidden = by_subject(result, "debt.hidden_chain")["L1"]
    lines = {r["id"]: r["_line"] for r in hidden.evidence["flows"]}
    assert lines == {"F1": 2, "F2": 3}  # the CSV's header is line 1


def test_ownership_control_computes_without_flagging(county):
    result = scan(county, ["ownership.control"])
    assert result.flags == [] and "ownership.control" in result.timings


def test_hidden_chain_needs_the_same_government(county):
    result = scan(
        county, ["debt.hidden_chain"], {"debt.hidden_chain": {"same_region_government": False}}
    )
    # the finance bureau pays, the SASAC owns: without the same-government rule nothing matches
    assert by_subject(result, "debt.hidden_chain") == {}


def test_circular_flow_window_is_a_setting(county):
    case, _ = county
    cycle = subject_of({"detector": "debt.circular_flow", "members": case["expect"][6]["members"]})
    assert cycle in by_subject(scan(county, ["debt.circular_flow"]), "debt.circular_flow")
    short = scan(county, ["debt.circular_flow"], {"debt.circular_flow": {"window_days": 44}})
    assert by_subject(short, "debt.circular_flow") == {}
    wide = scan(county, ["debt.circular_flow"], {"debt.circular_flow": {"window_days": 300}})
    assert len(by_subject(wide, "debt.circular_flow")) == 2, (
        "the slow round trip fits a 300-day window"
    )


def test_region_lines_and_rollup(county):
    flags = by_subject(
        scan(county, ["debt.region_risk"], {"debt.region_risk": {"warn_ratio": 0.7}}),
        "debt.region_risk",
    )
    assert set(flags) == {"410822", "410800"}
    city = flags["410800"].evidence
    assert set(city["regions_included"]) == {"410800", "410822", "410823"}
    assert city["debt_ratio"] == pytest.approx(36 / 50)
    no_hidden = scan(county, ["debt.region_risk"], {"debt.region_risk": {"include_hidden": False}})
    assert by_subject(no_hidden, "debt.region_risk")["410822"].evidence[
        "debt_ratio"
    ] == pytest.approx(1.6)


def test_flag_ids_are_stable_across_runs(county):
    first = {f.flag_id for f in scan(county, None).flags if f.family == "debt"}
    again = {f.flag_id for f in scan(county, None).flags if f.family == "debt"}
    assert first == again and first
