"""The synthetic dataset generator: realistic form, determinism, and planted truth that holds.

The files are read back independently of the generator (headers via the contract's aliases,
values via graph_models.value_types), and every kind of planted case is checked against what the
files actually say: a death before the payments, a cycle in the guarantee graph, a round trip in
the fund flows, a kinship path to an official, and so on.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import itertools
import json
from collections import defaultdict
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest
import yaml
from openpyxl import load_workbook

from engine.registry import detector_ids
from fixtures.synth import generate
from graph_models.value_types import TYPES, enum_type, get_type

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = yaml.safe_load((ROOT / "loaders" / "contract.yaml").read_text("utf-8"))["tables"]

# From the registry (not from the generator), so a detector the generator forgets fails.
DETECTORS = detector_ids()
REASONS = {
    "bad_checksum",
    "bad_length",
    "bad_birth_date",
    "bad_region",
    "bad_charset",
    "bad_date",
    "bad_amount",
    "negative_amount",
    "bad_pct",
    "bad_account",
    "bad_reference",
    "missing_required",
    "bad_enum",
}
GB18030_TABLES = ("households", "persons", "aid_payments", "payroll")
ROSTER_TABLES = ("households", "persons", "aid_payments")
HOUSEHOLDS = 300


# --- reading the files back without the generator ---------------------------------------------


def _encoding(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def read_raw(path: Path, table: str, renames: dict[str, str] | None = None) -> pd.DataFrame:
    """A table as written (cells as text, blanks as None) under canonical column names."""
    if path.suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=_encoding(path))
    elif path.suffix == ".xlsx":
        rows = list(load_workbook(path, read_only=True).active.iter_rows(values_only=True))
        width = len(rows[0])
        frame = pd.DataFrame([[*r, *[None] * (width - len(r))] for r in rows[1:]], columns=rows[0])
    else:
        frame = pd.read_parquet(path)
    aliases = {c["zh"]: name for name, c in CONTRACT[table]["columns"].items()}
    aliases.update(renames or {})
    frame = frame.rename(columns=lambda h: aliases.get(h, h)).astype(object)
    return frame.where(frame.notna() & (frame != ""), None)


def _value_type(spec):
    return enum_type(spec["enum"]) if isinstance(spec, dict) else get_type(spec)


def clean(frame: pd.DataFrame, table: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(clean values, first failing reason per row) by the contract's column types."""
    values, reasons = {}, pd.Series([None] * len(frame), index=frame.index, dtype=object)
    columns = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for name, spec in CONTRACT[table]["columns"].items():
        cells = frame[name] if name in frame else pd.Series([None] * len(frame), dtype=object)
        vals, why, _ = _value_type(spec["type"]).clean_series(cells)
        if spec.get("required"):
            why = why.where(cells.notna(), "missing_required")
        fresh = reasons.isna() & why.notna()
        columns[fresh] = name
        reasons = reasons.where(reasons.notna(), why)
        values[name] = vals
    checked = pd.DataFrame({"reason": reasons, "column": columns})
    return pd.DataFrame(values, index=frame.index), checked


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("synth"), households=HOUSEHOLDS, seed=7)


@pytest.fixture(scope="module")
def raw(dataset) -> dict[str, pd.DataFrame]:
    return {t: read_raw(p, t) for t, p in dataset.paths.items()}


@pytest.fixture(scope="module")
def checked(raw) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    return {t: clean(frame, t) for t, frame in raw.items()}


@pytest.fixture(scope="module")
def valid(checked) -> dict[str, pd.DataFrame]:
    """Rows that pass every check, de-duplicated, with canonical values."""
    out = {}
    for table, (values, why) in checked.items():
        rows = values[why["reason"].isna()].copy()
        key = rows.map(repr).agg("\x1f".join, axis=1)
        out[table] = rows[~key.duplicated()]
    return out


@pytest.fixture(scope="module")
def truth(dataset) -> list[dict]:
    return [json.loads(line) for line in dataset.ground_truth.read_text("utf-8").splitlines()]


def cases(truth, detector: str, negative: bool = False) -> list[dict]:
    return [t for t in truth if t["detector"] == detector and bool(t.get("negative")) == negative]


def day(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


# --- form ---------------------------------------------------------------------------------------


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(dataset, tmp_path):
    again = generate(tmp_path / "again", households=HOUSEHOLDS, seed=7)
    assert _digests(again.out_dir) == _digests(dataset.out_dir)
    other = generate(tmp_path / "other", households=HOUSEHOLDS, seed=8)
    assert (
        _digests(other.out_dir)["aid_payments.csv"] != _digests(dataset.out_dir)["aid_payments.csv"]
    )


def test_every_contract_table_is_written_in_its_format(dataset, raw):
    assert set(dataset.paths) == set(CONTRACT)
    suffixes = {t: p.suffix for t, p in dataset.paths.items()}
    assert suffixes["officials"] == ".xlsx"
    assert suffixes["fund_flows"] == ".parquet"
    assert {t for t, s in suffixes.items() if s == ".csv"} == set(CONTRACT) - {
        "officials",
        "fund_flows",
    }
    for table, frame in raw.items():
        assert len(frame) == dataset.row_counts[table] > 0, table
        assert set(frame.columns) >= {
            c for c, s in CONTRACT[table]["columns"].items() if s.get("required")
        }


def test_encodings_are_as_exported(dataset):
    for table, path in dataset.paths.items():
        if path.suffix != ".csv":
            continue
        data = path.read_bytes()
        if table in GB18030_TABLES:
            data.decode("gb18030")
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
        elif table == "bank_accounts":
            assert data.startswith(codecs.BOM_UTF8)
        else:
            assert not data.startswith(codecs.BOM_UTF8)
            data.decode("utf-8")


def test_headers_and_value_styles_vary_like_real_exports(dataset, raw):
    first = {
        t: p.read_bytes().decode(_encoding(p)).splitlines()[0]
        for t, p in dataset.paths.items()
        if p.suffix == ".csv"
    }
    assert first["households"].startswith("户编号,")
    assert first["aid_payments"].startswith("payment_id,")
    assert raw["households"]["enrolled_date"].str.contains("年").all()
    assert raw["aid_payments"]["paid_date"].dropna().str.contains("/").mean() > 0.99
    assert raw["bank_accounts"]["opened_date"].dropna().str.fullmatch(r"\d{8}").mean() > 0.99
    assert raw["aid_payments"]["amount"].dropna().str.contains(",").any()
    assert raw["loans"]["principal"].dropna().str.startswith("¥").mean() > 0.95
    assert raw["shareholdings"]["share_pct"].dropna().str.endswith("%").mean() > 0.95
    assert (raw["households"]["region_code"].str.len() == 12).any()
    assert (raw["households"]["region_code"].str.len() == 6).any()
    assert raw["households"]["status"].isin(["在册", "已脱贫"]).mean() > 0.95
    assert raw["bank_accounts"]["account_no"].dropna().str.contains(" ").any()


def test_every_reason_code_appears_at_a_small_rate(checked):
    seen = set()
    for _, why in checked.values():
        seen |= set(why["reason"].dropna())
    assert seen >= REASONS
    for table in ("persons", "aid_payments", "social_insurance"):
        assert checked[table][1]["reason"].notna().mean() < 0.02, table


def test_exact_duplicate_rows_are_present(raw):
    for table in ("persons", "aid_payments", "social_insurance"):
        assert raw[table].astype(str).duplicated().any(), table


def test_identifiers_are_valid_and_invalid_ones_are_the_planted_identities(checked, raw, truth):
    invalid = set()
    for table, (values, why) in checked.items():
        person_columns = [
            c for c, s in CONTRACT[table]["columns"].items() if s["type"] == "person_id"
        ]
        for column in person_columns:
            bad = why[
                (why["column"] == column)
                & why["reason"].isin(["bad_checksum", "bad_length", "bad_birth_date", "bad_region"])
            ]
            if table in ROSTER_TABLES:
                invalid |= set(raw[table].loc[bad.index, column].str.upper())
            else:
                assert bad.empty, (table, column)
            ok = values[column].dropna()
            assert ok.str.startswith("41").mean() > 0.99, (table, column)  # Henan-born
    planted = {t["subject_id"] for t in cases(truth, "aid.invalid_identity")}
    assert invalid == planted and len(planted) >= 4


def test_organisation_codes_carry_their_registration_kind(valid):
    assert valid["gov_units"]["unit_id"].str.startswith("11").all()
    assert valid["enterprises"]["uscc"].str.startswith("91").all()
    assert valid["business_registrations"]["uscc"].str[:2].isin(["91", "92"]).all()
    banks = valid["enterprises"][valid["enterprises"]["kind"] == "bank"]
    assert set(valid["bank_accounts"]["bank_id"]) <= set(banks["uscc"])


def test_legacy_15_digit_and_lower_case_x_ids_appear_and_resolve(raw, valid):
    ids = raw["persons"]["person_id"].dropna()
    legacy = ids[ids.str.fullmatch(r"\d{15}")]
    assert len(legacy) > 0
    assert ids.str.endswith("x").any()
    canonical = {TYPES["person_id"].clean(v) for v in legacy}
    elsewhere = set(valid["social_insurance"]["person_id"]) | set(
        valid["aid_payments"]["recipient_id"]
    )
    assert canonical & elsewhere


# --- ground truth -----------------------------------------------------------------------------


def test_ground_truth_covers_every_detector_with_near_misses(truth, dataset):
    detectors = {t["detector"] for t in truth}
    assert set(DETECTORS) <= detectors
    for detector in DETECTORS:
        assert cases(truth, detector), detector
    for detector in (
        "aid.deceased_recipient",
        "aid.public_payroll",
        "aid.asset_mismatch",
        "aid.official_relative",
        "guarantee.circle",
        "debt.circular_flow",
        "debt.disguised_equity",
    ):
        assert cases(truth, detector, negative=True), detector
    assert sum(dataset.planted.values()) == sum(1 for t in truth if not t.get("negative"))


def test_ground_truth_ids_are_canonical(truth):
    for record in truth:
        if record["subject_type"] == "person_id":
            assert TYPES["person_id"].clean(record["subject_id"]) == record["subject_id"]
        if record["subject_type"] == "enterprise":
            assert TYPES["uscc"].clean(record["subject_id"]) == record["subject_id"]
        assert all(isinstance(e, str) and e == e.strip() for e in record["entities"])


def test_deceased_cases_hold_in_the_files(valid, truth):
    died = valid["deaths"].groupby("person_id")["death_date"].min().to_dict()
    paid = defaultdict(list)
    for person, when in zip(
        valid["aid_payments"]["recipient_id"], valid["aid_payments"]["paid_date"], strict=True
    ):
        paid[person].append(when)
    for negative in (False, True):
        for case in cases(truth, "aid.deceased_recipient", negative):
            person = case["subject_id"]
            late = [p for p in paid[person] if p > died[person] + dt.timedelta(days=31)]
            assert bool(late) is not negative, case["note"]


def test_payroll_cases_overlap_the_aid_and_near_misses_do_not(valid, truth):
    payroll = valid["payroll"].set_index("person_id")
    households = valid["aid_payments"].groupby("household_id")["paid_date"].agg(["min", "max"])
    for negative in (False, True):
        for case in cases(truth, "aid.public_payroll", negative):
            household, person = case["entities"][:2]
            record = payroll.loc[[person]].iloc[0]
            end = dt.date(2099, 1, 1) if pd.isna(record["end_date"]) else record["end_date"]
            first, last = households.loc[household]
            assert (record["start_date"] <= last and end >= first) is not negative


def test_guarantee_structures_hold_in_the_files(valid, truth):
    graph = nx.DiGraph()
    guarantors = valid["guarantees"]["guarantor_id"].map(lambda ref: ref.id)
    graph.add_edges_from(zip(guarantors, valid["guarantees"]["debtor_id"], strict=True))
    for case in cases(truth, "guarantee.circle"):
        members = case["members"]
        assert len(members) >= 3
        assert nx.is_strongly_connected(graph.subgraph(members)), case["subject_id"]
    for case in cases(truth, "guarantee.circle", negative=True):
        assert not any(
            len(c) > 1 for c in nx.strongly_connected_components(graph.subgraph(case["members"]))
        )
    for case in cases(truth, "guarantee.mutual"):
        a, b = case["members"]
        assert graph.has_edge(a, b) and graph.has_edge(b, a)
    # Background guarantees never close a cycle: every cycle is planted.
    planted = {
        m
        for c in cases(truth, "guarantee.circle") + cases(truth, "guarantee.mutual")
        for m in c["members"]
    }
    for component in nx.strongly_connected_components(graph):
        assert len(component) == 1 or component <= planted


def test_fund_cycles_hold_in_the_files(valid, truth):
    flows = valid["fund_flows"]
    payer = flows["payer_id"].map(lambda r: r.id)
    payee = flows["payee_id"].map(lambda r: r.id)
    for negative in (False, True):
        for case in cases(truth, "debt.circular_flow", negative):
            members = case["members"]
            hops = list(zip(members, members[1:] + members[:1], strict=True))
            picked = [flows[(payer == a) & (payee == b)].iloc[0] for a, b in hops]
            span = (picked[-1]["date"] - picked[0]["date"]).days
            amounts = [p["amount"] for p in picked]
            assert max(amounts) <= 1.2 * min(amounts)
            assert (span > 180) is negative
            assert all(x["date"] <= y["date"] for x, y in itertools.pairwise(picked))


def test_not_registered_payments_go_to_people_on_no_roster(valid, truth):
    households = set(valid["households"]["household_id"])
    members = set(valid["persons"][valid["persons"]["household_id"].isin(households)]["person_id"])
    members |= set(valid["households"]["head_id"])
    payments = valid["aid_payments"].set_index("payment_id")
    for negative in (False, True):
        for case in cases(truth, "aid.not_registered", negative):
            recipient = payments.loc[case["subject_id"], "recipient_id"]
            assert (recipient in members) is negative


def test_shared_accounts_hold_in_the_files(valid, truth):
    payments = valid["aid_payments"]
    holders = valid["bank_accounts"].set_index("account_no")["holder_id"]
    for case in cases(truth, "aid.shared_account"):
        into = payments[payments["account_no"] == case["subject_id"]]
        households = set(into["household_id"].dropna())
        assert len(households) >= 3 or (into["recipient_id"] != holders[case["subject_id"]]).all()


def test_official_relatives_hold_in_the_files(valid, truth):
    kin = nx.Graph()
    kin.add_edges_from(zip(valid["kinship"]["person_a"], valid["kinship"]["person_b"], strict=True))
    office = valid["officials"].groupby("person_id")["region_code"].first().to_dict()
    members = valid["persons"].groupby("household_id")["person_id"].apply(set).to_dict()
    county = valid["households"].set_index("household_id")["region_code"].to_dict()
    for negative in (False, True):
        for case in cases(truth, "aid.official_relative", negative):
            household = case["subject_id"]
            near = set()
            for person in members[household] & set(kin.nodes):
                near |= set(nx.single_source_shortest_path_length(kin, person, cutoff=2))
            same_county = [o for o in near if o in office and office[o] == county[household]]
            assert bool(same_county) is not negative, case["note"]


def test_region_risk_counties_are_the_only_ones_over_the_line(valid, truth):
    regions = valid["regions"].set_index("region_code")
    revenue = regions[["general_budget_revenue", "transfer_revenue", "fund_budget_revenue"]].sum(
        axis=1
    )
    ratio = regions["statutory_debt_balance"] / revenue
    over = {c["subject_id"] for c in cases(truth, "debt.region_risk")}
    assert over and (ratio[list(over)] > 2).all()
    assert (ratio.drop(list(over)) < 0.9).all()


def test_controller_expectations_follow_majority_chains(valid, truth):
    holdings = valid["shareholdings"]
    majority = nx.DiGraph()
    for holder, company, pct in zip(
        holdings["holder_id"], holdings["company_id"], holdings["share_pct"], strict=True
    ):
        if pct > 50:
            majority.add_edge(holder.id, company)
    expectations = [t for t in truth if "expected" in t]
    assert expectations
    for record in expectations:
        (controller,) = record["expected"]["controllers"]
        assert nx.has_path(majority, controller, record["subject_id"])
        assert record["expected"]["gov_linked"] == controller.startswith("11")


# --- the "other tool" variant -------------------------------------------------------------------


def test_other_variant_has_same_data_under_a_manifest(dataset, raw, tmp_path):
    other = generate(tmp_path / "other", households=HOUSEHOLDS, seed=7, variant="other")
    manifest = yaml.safe_load(other.manifest.read_text("utf-8"))
    assert set(manifest["tables"]) == set(CONTRACT)
    for table, entry in manifest["tables"].items():
        path = other.out_dir / entry["file"]
        assert path.name != dataset.paths[table].name
        assert set(entry["columns"].values()) <= set(CONTRACT[table]["columns"])
        frame = read_raw(path, table, entry["columns"])
        pd.testing.assert_frame_equal(frame[raw[table].columns], raw[table], check_dtype=False)


def test_the_loader_reads_the_other_variant_through_its_manifest(tmp_path):
    load_dataset = pytest.importorskip("loaders.load").load_dataset
    from graph_models.memory_store import MemoryStore

    other = generate(tmp_path / "other", households=150, seed=3, variant="other")
    report = load_dataset(other.out_dir, MemoryStore(), rejects_dir=tmp_path / "rejects")
    loaded = {t: r.as_dict() for t, r in report.tables.items()}
    assert set(loaded) == set(CONTRACT)
    assert loaded["households"]["loaded"] >= 150
