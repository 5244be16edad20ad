"""Aid detectors on hand-built stores (frames as docs/graph-model.md describes them): date logic
against brute-force oracles (hypothesis), reproducibility of rings, anomaly thresholds and
attribution, and the resident-ID columns the identity check reads."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.anomaly import path_attribution, score_anomalies
from engine.detectors.aid_identity import person_id_columns
from engine.registry import all_detectors
from engine.rings import attribute_weights, find_rings
from engine.runner import run_detectors
from engine.settings import settings_doc, settings_from_dict, settings_to_dict
from fixtures.aid import person_id
from graph_models.memory_store import MemoryStore

AS_OF = dt.date(2024, 1, 1)
DAY0 = dt.date(2020, 1, 1)
AID_IDS = [s.id for s in all_detectors() if s.family == "aid"]


def prov(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    return frame.assign(_table=table, _line=np.arange(2, len(frame) + 2), _batch="test")


def edges(src, src_label, dst, dst_label, table, **props) -> pd.DataFrame:
    f = pd.DataFrame(
        {"src": src, "src_label": src_label, "dst": dst, "dst_label": dst_label, **props}
    )
    return prov(f.assign(id=f["src"] + "|" + f["dst"]), table)


def payments_store(pays: list[tuple[str, dt.date, float]], household: str = "H1") -> MemoryStore:
    """One household whose head is paid on the given (recipient, date, amount) triples."""
    store = MemoryStore()
    head = pays[0][0] if pays else person_id("head")
    store.upsert_nodes(
        "Household",
        prov(pd.DataFrame({"id": [household], "head_id": [head], "region_code": ["410822"],
                           "village": ["东村"], "status": ["enrolled"]}), "households"),
    )  # fmt: skip
    frame = pd.DataFrame(
        {
            "id": [f"P{i}" for i in range(len(pays))],
            "program": "低保",
            "recipient_id": [p[0] for p in pays],
            "household_id": household,
            "account_no": "6222020200112230001",
            "amount": [p[2] for p in pays],
            "paid_date": [p[1].isoformat() for p in pays],
            "region_code": "410822",
        }
    )
    store.upsert_nodes("Payment", prov(frame, "aid_payments"))
    return store


def flagged_payments(flags) -> set[str]:
    return {p["payment_id"] for f in flags for p in f.evidence["payments"]}


days = st.integers(min_value=0, max_value=1200)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    paid=st.lists(days, min_size=1, max_size=12),
    death=days,
    grace=st.integers(min_value=0, max_value=60),
)
def test_deceased_matches_brute_force(paid, death, grace):
    who = person_id("dead")
    store = payments_store([(who, DAY0 + dt.timedelta(d), 100.0) for d in paid])
    store.upsert_nodes(
        "DeathRecord",
        prov(pd.DataFrame({"id": ["d1"], "person_id": [who],
                           "death_date": [(DAY0 + dt.timedelta(death)).isoformat()]}), "deaths"),
    )  # fmt: skip
    result = run_detectors(
        store,
        settings={"aid.deceased_recipient": settings_from_dict(
            all_detectors_by_id()["aid.deceased_recipient"].settings, {"grace_days": grace})},
        only=["aid.deceased_recipient"],
        as_of=AS_OF,
    )  # fmt: skip
    oracle = {f"P{i}" for i, d in enumerate(paid) if d > death + grace}
    assert flagged_payments(result.flags) == oracle
    if oracle:
        (flag,) = result.flags
        assert flag.subject_id == who
        assert flag.evidence["figures"]["amount_after_death"] == 100.0 * len(oracle)
        last = DAY0 + dt.timedelta(max(d for d in paid if d > death + grace))
        dead = DAY0 + dt.timedelta(death)
        months = max(1, (last.year - dead.year) * 12 + last.month - dead.month)
        assert flag.score == pytest.approx(months * 100.0 * len(oracle))


def all_detectors_by_id():
    return {s.id: s for s in all_detectors()}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    paid=st.lists(days, min_size=1, max_size=12),
    start=days,
    length=st.one_of(st.none(), st.integers(min_value=0, max_value=600)),
)
def test_prison_overlap_matches_brute_force(paid, start, length):
    who = person_id("inmate")
    store = payments_store([(who, DAY0 + dt.timedelta(d), 50.0) for d in paid])
    end = None if length is None else (DAY0 + dt.timedelta(start + length)).isoformat()
    store.upsert_nodes(
        "PrisonTerm",
        prov(pd.DataFrame({"id": ["t1"], "person_id": [who],
                           "start_date": [(DAY0 + dt.timedelta(start)).isoformat()],
                           "end_date": [end]}), "prisoners"),
    )  # fmt: skip
    result = run_detectors(store, only=["aid.paid_in_prison"], as_of=AS_OF)
    open_end = (AS_OF - DAY0).days if length is None else start + length
    oracle = {f"P{i}" for i, d in enumerate(paid) if start <= d <= open_end}
    assert flagged_payments(result.flags) == oracle


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    paid=st.lists(days, min_size=1, max_size=12),
    start=st.one_of(st.none(), days),
    length=st.one_of(st.none(), st.integers(min_value=0, max_value=600)),
)
def test_payroll_overlap_matches_brute_force(paid, start, length):
    head, clerk = person_id("payroll_head"), person_id("payroll_clerk")
    store = payments_store([(head, DAY0 + dt.timedelta(d), 80.0) for d in paid])
    store.upsert_relationships(
        "MEMBER_OF", edges([clerk], "Person", ["H1"], "Household", "persons")
    )
    begin = None if start is None else (DAY0 + dt.timedelta(start)).isoformat()
    end = None if length is None else (DAY0 + dt.timedelta((start or 0) + length)).isoformat()
    store.upsert_nodes(
        "PayrollRecord",
        prov(pd.DataFrame({"id": ["r1"], "person_id": [clerk], "start_date": [begin],
                           "end_date": [end], "position": ["科员"]}), "payroll"),
    )  # fmt: skip
    result = run_detectors(store, only=["aid.public_payroll"], as_of=AS_OF)
    lo = -1 if start is None else start
    hi = (AS_OF - DAY0).days if length is None else (start or 0) + length
    oracle = {f"P{i}" for i, d in enumerate(paid) if lo <= d <= hi}
    assert flagged_payments(result.flags) == oracle
    for flag in result.flags:
        assert flag.subject_id == "H1"
        assert clerk in flag.entities


def test_asset_period_ends_at_exit_date():
    """An exited household is not flagged for a car bought after its exit; before, it is."""
    head = person_id("asset_head")
    store = MemoryStore()
    store.upsert_nodes(
        "Household",
        prov(pd.DataFrame({"id": ["H1", "H2"], "head_id": [head, person_id("h2")],
                           "region_code": "410822", "status": "exited",
                           "enrolled_date": "2016-01-01", "exit_date": ["2020-06-30", None]}),
             "households"),
    )  # fmt: skip
    store.upsert_nodes(
        "Vehicle",
        prov(pd.DataFrame({"id": ["豫A1", "豫A2"], "owner_id": [head, person_id("h2")],
                           "vehicle_type": "小型轿车",
                           "registered_date": ["2020-07-01", "2015-01-01"]}), "vehicles"),
    )  # fmt: skip
    result = run_detectors(store, only=["aid.asset_mismatch"], as_of=AS_OF)
    assert [f.subject_id for f in result.flags] == ["H2"]
    assert result.flags[0].severity == "medium"  # owned before the aid period began


def test_person_id_columns_follow_the_contract():
    cols = set(person_id_columns())
    assert {
        "persons.person_id", "households.head_id", "aid_payments.recipient_id",
        "aid_payments.approver_id", "kinship.person_a", "kinship.person_b", "deaths.person_id",
    } <= cols  # fmt: skip
    assert "shareholdings.holder_id" not in cols  # an entity_ref, not a resident ID


def village(n: int, prefix: str = "H", group: str = "v1") -> pd.Series:
    return pd.Series({f"{prefix}{i}": group for i in range(n)})


def test_village_clerk_creates_no_ring():
    groups = village(40)
    m = pd.DataFrame({"node": groups.index, "attribute": "approver:clerk"})
    assert attribute_weights(m, groups)["weight"].tolist() == [0.0]
    assert find_rings(m, groups) == []


def test_rings_are_identical_run_to_run():
    rng = np.random.default_rng(7)
    groups = pd.concat([village(200, "A", "va"), village(200, "B", "vb")])
    nodes = groups.index.to_numpy()
    attrs = [f"phone:{rng.integers(0, 150)}" for _ in nodes]  # chance sharing
    m = pd.DataFrame({"node": nodes, "attribute": attrs})
    planted = pd.DataFrame({"node": [f"A{i}" for i in range(8)], "attribute": "account:ring"})
    m = pd.concat([m, planted], ignore_index=True)
    first = find_rings(m, groups, seed=3)
    again = find_rings(m.sample(frac=1.0, random_state=1), groups, seed=3)
    assert [r.members for r in first] == [r.members for r in again]
    assert [r.lift for r in first] == [r.lift for r in again]
    (ring,) = [r for r in first if "A0" in r.members]
    assert set(ring.members) >= {f"A{i}" for i in range(8)}
    assert ring.lift > 5


def test_anomaly_threshold_is_not_a_quota():
    """Ordinary data yields (almost) no flags; planted outliers are found with their feature."""
    rng = np.random.default_rng(11)
    n = 300
    feats = pd.DataFrame(
        {"amount": rng.normal(1200, 150, n), "payments": rng.poisson(6, n).astype(float),
         "members": rng.integers(1, 6, n).astype(float)}
    )  # fmt: skip
    groups = pd.Series(np.repeat(["v1", "v2", "v3"], n // 3))
    county = pd.Series(["c1"] * n)
    calm = score_anomalies(feats, groups, county)
    assert calm["anomalous"].mean() <= 0.01
    planted = feats.copy()
    planted.loc[[5, 150, 250], "amount"] = [9000.0, 12000.0, 15000.0]
    found = score_anomalies(planted, groups, county)
    assert {5, 150, 250} <= set(found.index[found["anomalous"]])
    for i in (5, 150, 250):
        contributions = found.at[i, "contributions"]
        assert contributions[0]["feature"] == "amount"
        assert sum(c["share"] for c in contributions) == pytest.approx(1.0)
    again = score_anomalies(planted, groups, county)
    assert found["score"].equals(again["score"])


def test_small_villages_fall_back_to_county_peers():
    feats = pd.DataFrame({"x": np.r_[np.linspace(0, 1, 40), 50.0]})
    villages = pd.Series(["big"] * 30 + ["tiny"] * 11)
    out = score_anomalies(feats, villages, pd.Series(["c"] * 41), min_peers=20)
    assert out["peer_group"].iloc[-1] == "fallback:c"
    assert out["peer_group"].iloc[0] == "primary:big"
    assert bool(out["anomalous"].iloc[-1])


def test_path_attribution_credits_the_isolating_feature():
    from sklearn.ensemble import IsolationForest

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    x[0, 2] = 25.0
    forest = IsolationForest(random_state=0).fit(x)
    shares = path_attribution(forest, x[:1])
    assert shares.shape == (1, 3)
    assert shares[0].sum() == pytest.approx(1.0)
    assert shares[0].argmax() == 2


def test_every_aid_detector_is_registered_with_documented_settings():
    specs = all_detectors_by_id()
    for det_id in AID_IDS:
        spec = specs[det_id]
        s = spec.default_settings()
        assert settings_from_dict(spec.settings, settings_to_dict(s)) == s
        assert all(item["doc"] for item in settings_doc(spec.settings)), det_id
        assert spec.title_zh and spec.title_en and spec.doc


def test_empty_store_gives_no_aid_flags():
    result = run_detectors(MemoryStore(), only=AID_IDS, as_of=AS_OF)
    assert result.flags == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    exited=st.booleans(),
    enrolled=days,
    exit_day=st.one_of(st.none(), days),
    paid=st.lists(days, max_size=5),
    bought=days,
)
def test_asset_period_matches_brute_force(exited, enrolled, exit_day, paid, bought):
    head = person_id("asset_oracle")
    store = (
        payments_store([(head, DAY0 + dt.timedelta(d), 100.0) for d in paid])
        if paid
        else MemoryStore()
    )

    def iso(day: int | None) -> str | None:
        return None if day is None else (DAY0 + dt.timedelta(day)).isoformat()

    store.upsert_nodes(
        "Household",
        prov(pd.DataFrame({"id": ["H1"], "head_id": [head], "region_code": ["410822"],
                           "status": ["exited" if exited else "enrolled"],
                           "enrolled_date": [iso(enrolled)], "exit_date": [iso(exit_day)]}),
             "households"),
    )  # fmt: skip
    store.upsert_nodes(
        "Vehicle",
        prov(pd.DataFrame({"id": ["豫A1"], "owner_id": [head], "vehicle_type": ["小型轿车"],
                           "registered_date": [iso(bought)]}), "vehicles"),
    )  # fmt: skip
    result = run_detectors(store, only=["aid.asset_mismatch"], as_of=AS_OF)
    start = min([enrolled, *paid])
    if not exited:
        end = (AS_OF - DAY0).days
    elif exit_day is not None:
        end = exit_day
    else:
        end = max(paid) if paid else enrolled
    assert bool(result.flags) == (bought <= end)
    if result.flags:
        assert result.flags[0].severity == ("high" if bought >= start else "medium")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pays=st.lists(
        st.tuples(days, st.sampled_from(["H1", "H2"]), st.sampled_from(["410822", "410823"])),
        min_size=1,
        max_size=10,
    ),
    period=st.sampled_from(["month", "quarter", "year"]),
    spread=st.booleans(),
)
def test_duplicate_benefit_matches_brute_force(pays, period, spread):
    if not spread:  # one household in one county: only same-period repeats count
        pays = [(day, "H1", "410822") for day, _, _ in pays]
    who = person_id("twice")
    store = MemoryStore()
    frame = pd.DataFrame(
        {
            "id": [f"P{i}" for i in range(len(pays))],
            "program": "低保",
            "recipient_id": who,
            "household_id": [p[1] for p in pays],
            "amount": 100.0,
            "paid_date": [(DAY0 + dt.timedelta(p[0])).isoformat() for p in pays],
            "region_code": [p[2] for p in pays],
        }
    )
    store.upsert_nodes("Payment", prov(frame, "aid_payments"))
    store.upsert_nodes("Person", prov(pd.DataFrame({"id": [who]}), "persons"))
    spec = all_detectors_by_id()["aid.duplicate_benefit"]
    result = run_detectors(
        store,
        settings={spec.id: settings_from_dict(spec.settings, {"period": period})},
        only=[spec.id],
        as_of=AS_OF,
    )

    def key(day: int) -> tuple[int, ...]:
        d = DAY0 + dt.timedelta(day)
        return {
            "month": (d.year, d.month),
            "quarter": (d.year, (d.month - 1) // 3),
            "year": (d.year,),
        }[period]

    per_period: dict[tuple[int, ...], int] = {}
    for p in pays:
        per_period[key(p[0])] = per_period.get(key(p[0]), 0) + 1
    whole = len({p[1] for p in pays}) >= 2 or len({p[2] for p in pays}) >= 2
    oracle = {f"P{i}" for i, p in enumerate(pays) if whole or per_period[key(p[0])] >= 2}
    assert flagged_payments(result.flags) == oracle
    assert len(result.flags) == (1 if oracle else 0)
    if oracle:
        assert result.flags[0].evidence["figures"]["payments"] == len(oracle)


def test_duplicate_enrolment_across_counties_goes_to_the_region_covering_both():
    """A county-scoped reviewer must not receive another county's households: a person on
    rosters in two counties is flagged under the city (or province) that covers both."""
    who, other = person_id("twice_enrolled"), person_id("once_enrolled")
    store = MemoryStore()
    store.upsert_nodes(
        "Household",
        prov(pd.DataFrame({"id": ["H1", "H2", "H3", "H4"],
                           "head_id": [who, person_id("h2"), person_id("h3"), person_id("h4")],
                           "region_code": ["410822", "411627", "410823", "410823"],
                           "status": "enrolled", "enrolled_date": "2020-01-01"}), "households"),
    )  # fmt: skip
    store.upsert_relationships(
        "MEMBER_OF",
        edges([who, other, other], "Person", ["H2", "H3", "H4"], "Household", "persons",
              relation="other"),
    )  # fmt: skip
    flags = run_detectors(store, only=["aid.duplicate_enrolment"], as_of=AS_OF).flags
    regions = {f.subject_id: f.region_code for f in flags}
    assert regions == {who: "410000", other: "410823"}
