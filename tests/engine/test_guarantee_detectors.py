"""Guarantee-network detectors on fixtures/debt/guarantee_network.yaml (real loaders), plus a
hand-computed DebtRank check of guarantee.contagion and the cap on dense circles."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest

from engine.runner import parse_settings, run_detectors
from fixtures.debt import check_case, scan_case, uscc
from graph_models.memory_store import MemoryStore


def test_case_meets_expectations_and_near_misses(tmp_path):
    case, result = scan_case("guarantee_network", tmp_path)
    assert not result.skipped
    check_case(case, result)


def firms_store(firms, guarantees, loans=()):
    store = MemoryStore()
    store.upsert_nodes(
        "Enterprise",
        pd.DataFrame(
            [
                {
                    "id": uscc("e", f),
                    "name": f,
                    "region_code": "410822",
                    "kind": k,
                    "net_assets": na,
                    "total_assets": ta,
                    "_table": "enterprises",
                    "_line": i + 2,
                }
                for i, (f, k, na, ta) in enumerate(firms)
            ]
        ),
    )
    store.upsert_relationships(
        "GUARANTEES",
        pd.DataFrame(
            [
                {
                    "id": gid,
                    "src": uscc("e", a),
                    "src_label": "Enterprise",
                    "dst": uscc("e", b),
                    "dst_label": "Enterprise",
                    "amount": amt,
                    "_table": "guarantees",
                    "_line": i + 2,
                }
                for i, (gid, a, b, amt) in enumerate(guarantees)
            ]
        ),
    )
    if loans:
        store.upsert_nodes(
            "Loan",
            pd.DataFrame(
                [
                    {
                        "id": lid,
                        "borrower_id": uscc("e", b),
                        "lender_id": uscc("e", lender),
                        "principal": p,
                        "status": st,
                        "maturity_date": "2030-01-01",
                        "_table": "loans",
                        "_line": i + 2,
                    }
                    for i, (lid, b, lender, p, st) in enumerate(loans)
                ]
            ),
        )
    return store


def test_contagion_matches_hand_computed_debtrank():
    # g guarantees 30 for d (g's equity 60 -> W = .5); bank lent 50 to d (equity 500 -> W = .1)
    firms = [
        ("d", "private", 10.0, 100.0),
        ("g", "private", 60.0, 100.0),
        ("bank", "bank", 500.0, 800.0),
    ]
    store = firms_store(firms, [("G1", "g", "d", 30.0)], [("L1", "d", "bank", 50.0, "default")])
    result = run_detectors(
        store, only=["guarantee.contagion"], as_of=pd.Timestamp("2024-06-30").date()
    )
    flag = {f.subject_id: f for f in result.flags}[uscc("e", "d")]
    # v = (100, 100, 800) / 1000 ; R_d = .5 * .1 + .1 * .8
    assert flag.evidence["debtrank"] == pytest.approx(0.5 * 0.1 + 0.1 * 0.8)
    stress = flag.evidence["stress"]
    assert stress["expected_loss_by_bank"] == [
        {
            "id": uscc("e", "bank"),
            "name": "bank",
            "equity_loss": pytest.approx(50.0),
            "distress": pytest.approx(0.1),
        }
    ]
    assert stress["expected_loss_by_region"][0]["equity_loss"] == pytest.approx(80.0)  # 30 + 50
    assert flag.severity == "high" and uscc("e", "g") in flag.entities


def test_dense_circle_is_capped_not_stalled():
    names = [f"f{i}" for i in range(14)]
    firms = [(n, "private", 1e8, 2e8) for n in names]
    guarantees = [(f"G{a}-{b}", a, b, 1e6) for a, b in itertools.permutations(names, 2)]
    store = firms_store(firms, guarantees)
    settings = parse_settings({"guarantee.circle": {"cycles_per_circle": 200}})
    result = run_detectors(
        store, settings=settings, only=["guarantee.circle"], as_of=pd.Timestamp("2024-06-30").date()
    )
    [flag] = result.flags
    ev = flag.evidence
    assert ev["cycles_truncated"] and ev["cycle_count"] == 200 and ev["size"] == 14
    assert math.isclose(ev["density"], 1.0) and math.isclose(ev["reciprocity"], 1.0)
    assert flag.severity == "high"  # 14 firms >= high_size


def test_insolvent_guarantor_crosses_both_net_asset_lines():
    store = firms_store(
        [("x", "private", -5e6, 1e7), ("y", "private", 1e7, 2e7)], [("G1", "x", "y", 1e6)]
    )
    [flag] = run_detectors(
        store, only=["guarantee.excessive"], as_of=pd.Timestamp("2024-06-30").date()
    ).flags
    assert flag.evidence["lines_crossed"] == {
        "total_over_net_assets": True,
        "single_over_net_assets": True,
        "debtor_over_leverage": False,
    }
    assert flag.severity == "high"


def test_chain_reaction_is_flagged_however_large_the_network():
    # hub's default wipes out three guarantors (15 guaranteed on 10 of equity each); a firm with
    # no exposures but 1e9 of assets makes the network so large that R stays far below 1 %
    firms = [("hub", "private", 100.0, 1000.0), ("big", "private", 5e8, 1e9)]
    firms += [(f"g{i}", "private", 10.0, 20.0) for i in range(3)]
    # near miss: two guarantors pushed over, the third loses 40 % of its equity
    firms += [("hub2", "private", 100.0, 1000.0)] + [
        (f"n{i}", "private", 10.0, 20.0) for i in range(3)
    ]
    firms += [("d", "private", 10.0, 50.0), ("bank", "bank", 1e6, 1e7)]
    guarantees = [(f"G{i}", f"g{i}", "hub", 15.0) for i in range(3)]
    guarantees += [
        ("N0", "n0", "hub2", 15.0),
        ("N1", "n1", "hub2", 15.0),
        ("N2", "n2", "hub2", 4.0),
    ]
    loans = [("L1", "d", "bank", 40.0, "default")]
    store = firms_store(firms, guarantees, loans)
    as_of = pd.Timestamp("2024-06-30").date()
    flags = {
        f.subject_id: f
        for f in run_detectors(store, only=["guarantee.contagion"], as_of=as_of).flags
    }
    assert set(flags) == {uscc("e", "hub")}
    flag = flags[uscc("e", "hub")]
    assert flag.score < 0.01 and flag.severity == "medium"
    assert flag.evidence["firms_pushed_over"] == 3
    assert {uscc("e", f"g{i}") for i in range(3)} <= set(flag.entities)
    # the defaulted borrower's stress run (its bank loses 4e-5 of its equity) is flagged only on request
    every = parse_settings({"guarantee.contagion": {"flag_every_stress_run": True}})
    flags = {
        f.subject_id: f
        for f in run_detectors(
            store, settings=every, only=["guarantee.contagion"], as_of=as_of
        ).flags
    }
    assert flags[uscc("e", "d")].severity == "low" and "stress" in flags[uscc("e", "d")].evidence
    assert uscc("e", "hub2") not in flags
    off = parse_settings({"guarantee.contagion": {"cascade_firms": 0}})
    assert run_detectors(store, settings=off, only=["guarantee.contagion"], as_of=as_of).flags == []
