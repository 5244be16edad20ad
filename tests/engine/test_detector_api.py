"""The detector declaration API: the runner stamps findings, orders by uses, skips what lacks its
reference tables (one test per family, on a real synthetic dataset with a table taken away), and
the context refuses every read and use the registration does not declare."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from engine.aid_registers import PAYMENTS, aid_registers
from engine.context import UndeclaredAccess
from engine.flags import Finding, Flag
from engine.registry import all_detectors, any_of, detector, get_detector, run_order
from engine.runner import DetectorOutputError, run_detectors
from fixtures.synth import SNAPSHOT_DATE, generate
from graph_models.memory_store import MemoryStore
from graph_models.schema import SCHEMA
from loaders.load import load_dataset
from tests.engine.example_detector import large_payment

AS_OF = dt.date(2024, 1, 1)


@dataclass(frozen=True)
class NoSettings:
    pass


def spec(fn_or_id, **declared):
    """A detector registered with register=False: ``spec("t.x", reads=...)(fn).spec``."""
    declared = {"title_zh": "测试", "title_en": "test", "subject": "payment_id",
                "settings": NoSettings, "register": False, **declared}  # fmt: skip
    return lambda fn: detector(fn_or_id, **declared)(fn).spec


def finding(subject: str = "P1", **kw) -> Finding:
    return Finding(**{"subject_id": subject, "severity": "medium", "score": 1.0,
                      "explanation": {"zh": "示例", "en": "example"}, **kw})  # fmt: skip


def payments_store() -> MemoryStore:
    store = MemoryStore()
    store.upsert_nodes(
        "Payment",
        pd.DataFrame({"id": ["P1", "P2"], "program": "低保", "recipient_id": ["A", "B"],
                      "household_id": "H1", "amount": [60_000.0, 500.0],
                      "paid_date": "2021-03-10", "region_code": "410822",
                      "_table": "aid_payments", "_line": [2, 3]}),
    )  # fmt: skip
    store.upsert_nodes(
        "Person",
        pd.DataFrame({"id": ["A"], "name": ["吕一"], "_table": "persons", "_line": [2]}),
    )
    return store


# --- the example detector (tests/engine/example_detector.py, the documented template) --------------


def test_example_detector_is_stamped_by_the_runner():
    result = run_detectors(payments_store(), as_of=AS_OF, detectors=[large_payment.spec])
    assert [f.subject_id for f in result.flags] == ["P1"]
    flag = result.flags[0]
    assert (flag.detector, flag.subject_type, flag.severity) == (
        "example.large_payment", "payment_id", "high",
    )  # fmt: skip
    assert flag.settings_digest == result.digests["example.large_payment"]
    assert flag.evidence["payments"][0]["table"] == "aid_payments"
    assert flag.evidence["payments"][0]["line"] == 2
    assert "吕一" in flag.explanation["zh"] and "CNY 60,000" in flag.explanation["en"]
    assert "example.large_payment" not in {s.id for s in all_detectors()}


def test_example_detector_is_skipped_without_payments():
    result = run_detectors(MemoryStore(), detectors=[large_payment.spec])
    assert result.flags == []
    assert result.skipped == {"example.large_payment": "missing input: Payment"}


# --- what a detector yields --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yielded", "message"),
    [
        (lambda: Flag("t.bad", "payment_id", "P1", "high", 1.0), "yielded a Flag"),
        (lambda: {"subject_id": "P1"}, "yielded a dict"),
        (lambda: finding(subject_type="person_id"), "about a 'person_id'"),
        (lambda: finding(severity="urgent"), "severity 'urgent'"),
        (lambda: Finding(subject_id="P1", severity="low", score=1, explanation={"zh": "只有中文"}),
         "explanation in zh and en"),
        (lambda: finding(subject=""), "without a subject id"),
    ],
)  # fmt: skip
def test_a_detector_that_yields_the_wrong_thing_fails_loudly(yielded, message):
    @spec("t.bad", reads=("Payment",))
    def bad(ctx, settings):
        yield yielded()

    with pytest.raises(DetectorOutputError, match=message):
        run_detectors(payments_store(), detectors=[bad])


def test_two_findings_about_one_subject_fail():
    @spec("t.twice", reads=("Payment",))
    def twice(ctx, settings):
        yield finding("P1")
        yield finding("P1")

    with pytest.raises(DetectorOutputError, match="one flag per subject"):
        run_detectors(payments_store(), detectors=[twice])


def test_a_finding_may_name_one_of_several_declared_subject_types():
    @spec("t.either", reads=("Payment",), subject=("loan_id", "bond_id"))
    def either(ctx, settings):
        yield finding("L1", subject_type="loan_id")
        yield finding("B1", subject_type="bond_id")

    flags = run_detectors(payments_store(), detectors=[either]).flags
    assert sorted((f.subject_type, f.subject_id) for f in flags) == [
        ("bond_id", "B1"), ("loan_id", "L1"),
    ]  # fmt: skip


def test_a_computing_detector_must_return_its_result():
    @spec("t.compute", reads=("Payment",), computes=True)
    def compute(ctx, settings):
        yield 1

    with pytest.raises(DetectorOutputError, match="must return its result"):
        run_detectors(payments_store(), detectors=[compute])


# --- declared reads and uses are enforced --------------------------------------------------------


def test_reading_an_undeclared_label_fails():
    @spec("t.sneaky", reads=("Payment",))
    def sneaky(ctx, settings):
        ctx.frame("Person")
        return []

    with pytest.raises(
        UndeclaredAccess, match=r"t\.sneaky reads Person, which it does not declare"
    ):
        run_detectors(payments_store(), detectors=[sneaky])


def test_querying_an_undeclared_aid_register_fails():
    @spec("t.sql", reads=PAYMENTS)
    def sql(ctx, settings):
        aid_registers(ctx).rows("SELECT * FROM payments JOIN deaths ON person_id = recipient_id")
        return []

    with pytest.raises(UndeclaredAccess, match=r"reads DeathRecord \(register deaths\)"):
        run_detectors(payments_store(), detectors=[sql])


def test_an_undeclared_register_is_refused_even_after_another_detector_built_it():
    @spec("t.a", reads=(*PAYMENTS, "Person"))
    def a(ctx, settings):
        assert aid_registers(ctx).scalar("SELECT count(*) FROM persons") == 1
        return []

    @spec("t.b", reads=PAYMENTS, uses=("t.a",))
    def b(ctx, settings):
        aid_registers(ctx).scalar("SELECT count(*) FROM persons")
        return []

    with pytest.raises(UndeclaredAccess, match=r"t\.b reads Person \(register persons\)"):
        run_detectors(payments_store(), detectors=[a, b])


def test_a_shared_memo_remembers_what_it_read():
    def names(ctx):
        return ctx.memo("names", lambda: set(ctx.frame("Person")["id"]))

    @spec("t.first", reads=("Payment", "Person"))
    def first(ctx, settings):
        assert names(ctx) == {"A"}
        return []

    @spec("t.second", reads=("Payment",), uses=("t.first",))
    def second(ctx, settings):
        names(ctx)
        return []

    with pytest.raises(UndeclaredAccess, match=r"t\.second reads Person"):
        run_detectors(payments_store(), detectors=[first, second])


def test_results_go_through_uses():
    @spec("t.base", reads=("Payment",))
    def base(ctx, settings):
        yield finding("P1")

    @spec("t.user", reads=("Payment",), uses=("t.base",))
    def user(ctx, settings):
        (flag,) = ctx.result("t.base")
        assert flag.detector == "t.base"
        yield finding(flag.subject_id)

    @spec("t.rogue", reads=("Payment",))
    def rogue(ctx, settings):
        ctx.result("t.base")
        return []

    result = run_detectors(payments_store(), only=["t.user"], detectors=[user, base])
    assert [(f.detector, f.subject_id) for f in result.flags] == [("t.user", "P1")]
    with pytest.raises(UndeclaredAccess, match=r"t\.rogue uses t\.base, which it does not declare"):
        run_detectors(payments_store(), detectors=[base, rogue])


def test_a_skipped_dependency_gives_an_empty_result():
    @spec("t.needs_deaths", reads=("DeathRecord",), requires=("DeathRecord",))
    def needs_deaths(ctx, settings):
        raise AssertionError("must not run without death records")

    @spec("t.after", reads=("Payment",), uses=("t.needs_deaths",))
    def after(ctx, settings):
        assert ctx.result("t.needs_deaths") == ()
        return []

    result = run_detectors(payments_store(), detectors=[needs_deaths, after])
    assert result.skipped == {"t.needs_deaths": "missing input: DeathRecord"}


def test_run_order_follows_uses_and_refuses_cycles_and_unknown_ids():
    order = [s.id for s in all_detectors()]
    for s in all_detectors():
        assert all(order.index(u) < order.index(s.id) for u in s.uses), s.id
    a = spec("t.a", reads=("Payment",), uses=("t.b",))(lambda c, s: [])
    b = spec("t.b", reads=("Payment",), uses=("t.a",))(lambda c, s: [])
    with pytest.raises(ValueError, match="cycle"):
        run_order([a, b])
    with pytest.raises(ValueError, match="not registered"):
        run_order([a])


def test_declarations_are_checked_when_registered():
    def nothing(ctx, settings):
        return []

    with pytest.raises(ValueError, match="neither node labels nor relationship types"):
        spec("t.x", reads=("Payments",))(nothing)
    with pytest.raises(ValueError, match="not among its reads"):
        spec("t.x", reads=("Payment",), requires=("Household",))(nothing)
    with pytest.raises(ValueError, match="not among its reads"):
        spec("t.x", reads=("Vehicle",), requires=(any_of("Vehicle", "Property"),))(nothing)
    with pytest.raises(ValueError, match=r"family\.name"):
        spec("NoFamily", reads=("Payment",))(nothing)


def test_every_registered_detector_declares_what_it_needs():
    for s in all_detectors():
        assert s.reads, s.id
        assert set(s.requirement_names()) <= set(s.reads), s.id
        assert s.requires or s.computes, f"{s.id}: nothing required, so it could run on nothing"


def test_unknown_only_ids_are_an_error():
    with pytest.raises(ValueError, match="unknown detector"):
        run_detectors(MemoryStore(), only=["aid.no_such_thing"])


# --- a detector whose reference table is missing or empty is skipped (issue 16) ---------------


@pytest.fixture(scope="module")
def synth_store(tmp_path_factory):
    """A 300-household synthetic dataset, loaded once."""
    out = tmp_path_factory.mktemp("synth")
    generate(out, households=300, seed=11)
    store = MemoryStore()
    load_dataset(out, store)
    return store


def without(store: MemoryStore, *names: str) -> MemoryStore:
    """A copy of ``store`` in which ``names`` (labels or relationship types) are empty."""
    copy = MemoryStore()
    for label in SCHEMA.nodes:
        frame = store.nodes(label)
        if label not in names and len(frame):
            copy.upsert_nodes(label, frame)
    for rtype in SCHEMA.relationships:
        frame = store.relationships(rtype)
        if rtype not in names and len(frame):
            copy.upsert_relationships(rtype, frame)
    return copy


def scan(store, only):
    return run_detectors(store, only=only, as_of=SNAPSHOT_DATE)


def test_aid_detectors_without_the_roster_are_skipped_not_flooded(synth_store):
    aid = [s.id for s in all_detectors() if s.family == "aid"]
    full = scan(synth_store, aid)
    assert "aid.not_registered" not in full.skipped
    payments = len(synth_store.nodes("Payment"))
    bare = scan(without(synth_store, "Household"), aid)
    # before issue 16, aid.not_registered flagged every payment here
    assert not any(f.detector == "aid.not_registered" for f in bare.flags)
    assert len(bare.flags) < len(full.flags) < payments
    for det_id in ("aid.not_registered", "aid.shared_account", "aid.public_payroll",
                   "aid.duplicate_enrolment", "aid.anomaly", "aid.fraud_ring"):  # fmt: skip
        assert bare.skipped[det_id] == "missing input: Household", det_id
    assert "aid.deceased_recipient" not in bare.skipped  # payments and deaths are enough
    no_assets = scan(without(synth_store, "Vehicle", "Property", "REGISTERED_BUSINESS"), aid)
    assert no_assets.skipped["aid.asset_mismatch"] == (
        "missing input: one of Vehicle / Property / REGISTERED_BUSINESS"
    )


def test_debt_detectors_without_their_reference_tables_are_skipped(synth_store):
    debt = [s.id for s in all_detectors() if s.family == "debt"]
    full = scan(synth_store, debt)
    assert full.skipped == {} and any(f.detector == "debt.hidden_chain" for f in full.flags)
    bare = scan(without(synth_store, "Loan", "Bond"), debt)
    assert bare.skipped["debt.hidden_chain"] == "missing input: one of Loan / Bond"
    assert bare.skipped["debt.service_purchase_financing"] == "missing input: Loan"
    no_flows = scan(without(synth_store, "FUND_FLOW"), debt)
    for det_id in ("debt.hidden_chain", "debt.improper_injection", "debt.circular_flow"):
        assert no_flows.skipped[det_id] == "missing input: FUND_FLOW", det_id
    assert not any(f.detector == "debt.hidden_chain" for f in no_flows.flags)


def test_guarantee_detectors_without_their_reference_tables_are_skipped(synth_store):
    guarantee = [s.id for s in all_detectors() if s.family == "guarantee"]
    bare = scan(without(synth_store, "GUARANTEES", "Loan"), guarantee)
    assert bare.flags == []
    assert bare.skipped["guarantee.contagion"] == "missing input: one of GUARANTEES / Loan"
    for det_id in ("guarantee.mutual", "guarantee.circle", "guarantee.related_party"):
        assert bare.skipped[det_id] == "missing input: GUARANTEES", det_id
    no_figures = scan(without(synth_store, "Enterprise"), ["guarantee.excessive"])
    assert no_figures.skipped == {"guarantee.excessive": "missing input: Enterprise"}


def test_ownership_control_without_shareholdings_is_skipped_and_its_users_know(synth_store):
    bare = scan(
        without(synth_store, "HOLDS_SHARES"), ["ownership.control", "debt.improper_injection"]
    )
    assert bare.skipped == {"ownership.control": "missing input: HOLDS_SHARES"}
    # improper injection still runs; without control data no recipient counts as gov-linked
    flagged = [f for f in bare.flags if f.detector == "debt.improper_injection"]
    assert flagged and not any(f.evidence["recipient"]["gov_linked"] for f in flagged)


def test_the_store_counts_empty_tables_as_missing():
    store = payments_store()
    store.upsert_nodes("DeathRecord", pd.DataFrame({"id": pd.Series([], dtype=object),
                                                    "_line": np.array([], dtype="int64")}))  # fmt: skip
    result = run_detectors(store, only=["aid.deceased_recipient"], as_of=AS_OF)
    assert result.skipped == {"aid.deceased_recipient": "missing input: DeathRecord"}
    assert get_detector("aid.deceased_recipient").missing(lambda n: n == "Payment") == [
        "DeathRecord"
    ]
