"""Local-government debt detectors on the hand-drawn county case (fixtures/debt/hidden_debt.yaml),
through the real loaders, plus the settings that must change the outcome."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.runner import parse_settings, run_detectors
from fixtures.debt import check_case, load_case, scan_case, subject_of, uscc, write_dataset
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
        assert "'table':" in blob and "'line':" in blob, f.detector
        assert f.explanation["zh"] and f.explanation["en"]
    hidden = by_subject(result, "debt.hidden_chain")["L1"]
    lines = {r["id"]: r["line"] for r in hidden.evidence["flows"]}
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


def test_lapsed_government_guarantee_is_a_violation_but_not_regional_debt():
    store = MemoryStore()
    store.upsert_nodes(
        "Region",
        pd.DataFrame(
            [
                {
                    "id": "410822",
                    "name": "博爱县",
                    "level": "county",
                    "general_budget_revenue": 50.0,
                    "transfer_revenue": 30.0,
                    "fund_budget_revenue": 20.0,
                    "statutory_debt_balance": 100.0,
                    "_table": "regions",
                    "_line": 2,
                }
            ]
        ),
    )
    store.upsert_nodes(
        "GovUnit",
        pd.DataFrame(
            [{"id": uscc("g", "fin"), "name": "博爱县财政局", "region_code": "410822",
              "unit_type": "finance_bureau", "_table": "gov_units", "_line": 2}]
        ),
    )  # fmt: skip
    store.upsert_nodes(
        "Enterprise",
        pd.DataFrame(
            [{"id": uscc("e", "lgfv"), "name": "博爱县城投", "region_code": "410822",
              "kind": "lgfv", "_table": "enterprises", "_line": 2}]
        ),
    )  # fmt: skip
    rows = [("GL", "2018-01-01", "2022-12-31", 40.0), ("GA", "2021-01-01", "2027-12-31", 30.0)]
    store.upsert_relationships(
        "GUARANTEES",
        pd.DataFrame(
            [
                {"id": gid, "src": uscc("g", "fin"), "src_label": "GovUnit", "dst": uscc("e", "lgfv"),
                 "dst_label": "Enterprise", "amount": amount, "start_date": start, "end_date": end,
                 "_table": "guarantees", "_line": i + 2}
                for i, (gid, start, end, amount) in enumerate(rows)
            ]
        ),
    )  # fmt: skip
    result = run_detectors(
        store,
        only=["debt.gov_guarantee", "debt.region_risk"],
        as_of=pd.Timestamp("2024-06-30").date(),
        settings=parse_settings({"debt.region_risk": {"warn_ratio": 1.0}}),
    )
    assert set(by_subject(result, "debt.gov_guarantee")) == {"GL", "GA"}
    region = by_subject(result, "debt.region_risk")["410822"].evidence
    assert region["hidden_debt"] == pytest.approx(30.0)  # the live guarantee only
    assert region["debt_ratio"] == pytest.approx(1.3)
