"""A contract dataset whose flags span two counties, for the region-scope tests (issue 15).

宜阳县 (410327, 洛阳市 410300) and 西华县 (411622, 周口市 411600), both in 河南省 (410000):

* an account (``SHARED_ACCOUNT``) receives aid for three 宜阳 households, but its holder 钱八
  lives in 西华 (a member of household HB1), with a phone and a village post (村会计, 西村)
  there: ``aid.shared_account`` is filed under 宜阳 and names a 西华 person, household and
  office;
* 孙九 is on the rosters of HA4 (宜阳) and HB2 (西华) at once: ``aid.duplicate_enrolment``
  names households, payments and people of both counties;
* 宜阳城投 and 西华建设 guarantee each other: ``guarantee.mutual`` across the two counties.

Everything is written as the contract's CSV files and goes through the real loaders and
detectors (``api.scan.pipeline.scan_dataset``). :func:`out_of_scope_tokens` lists, from these
tables (not from the code under test), the ids and names a user of one county must never see.
"""

from __future__ import annotations

import csv
from pathlib import Path

from fixtures.aid import person_id
from graph_models.value_types import uscc_check_char

__all__ = [
    "AS_OF",
    "COUNTY_A",
    "COUNTY_B",
    "SHARED_ACCOUNT",
    "TABLES",
    "build",
    "out_of_scope_tokens",
]

AS_OF = "2024-01-01"
COUNTY_A, CITY_A = "410327", "410300"
COUNTY_B, CITY_B = "411622", "411600"
PROVINCE = "410000"


def _uscc(body17: str) -> str:
    return body17 + uscc_check_char(body17)


def _pid(alias: str, region: str) -> str:
    return person_id(alias, region)


A = {f"a{i}": _pid(f"a{i}", COUNTY_A) for i in range(1, 5)}
B = {f"b{i}": _pid(f"b{i}", COUNTY_B) for i in range(1, 3)}
BROKER = _pid("broker", COUNTY_B)
DUP = _pid("dup", COUNTY_A)  # issued in 宜阳, on rosters of both counties
SHARED_ACCOUNT = "6222020200119990001"
EA = _uscc("91410327MA0000001")
EB = _uscc("91411622MA0000002")

TABLES: dict[str, list[dict[str, object]]] = {
    "regions": [
        {"region_code": PROVINCE, "name": "河南省", "level": "province"},
        {"region_code": CITY_A, "name": "洛阳市", "parent_code": PROVINCE, "level": "city"},
        {"region_code": COUNTY_A, "name": "宜阳县", "parent_code": CITY_A, "level": "county"},
        {"region_code": CITY_B, "name": "周口市", "parent_code": PROVINCE, "level": "city"},
        {"region_code": COUNTY_B, "name": "西华县", "parent_code": CITY_B, "level": "county"},
    ],
    "households": [
        *(
            {
                "household_id": f"HA{i}",
                "head_id": A[f"a{i}"],
                "region_code": COUNTY_A,
                "village": "东村",
                "enrolled_date": "2020-01-01",
                "status": "enrolled",
            }
            for i in range(1, 5)
        ),
        *(
            {
                "household_id": f"HB{i}",
                "head_id": B[f"b{i}"],
                "region_code": COUNTY_B,
                "village": "西村",
                "enrolled_date": "2020-01-01",
                "status": "enrolled",
            }
            for i in range(1, 3)
        ),
    ],
    "persons": [
        {"person_id": A["a1"], "name": "柏一", "household_id": "HA1", "relation": "head"},
        {"person_id": A["a2"], "name": "水二", "household_id": "HA2", "relation": "head"},
        {"person_id": A["a3"], "name": "窦三", "household_id": "HA3", "relation": "head"},
        {"person_id": A["a4"], "name": "章四", "household_id": "HA4", "relation": "head"},
        {"person_id": B["b1"], "name": "西门五", "household_id": "HB1", "relation": "head"},
        {"person_id": B["b2"], "name": "欧阳六", "household_id": "HB2", "relation": "head"},
        {
            "person_id": BROKER,
            "name": "钱八",
            "household_id": "HB1",
            "relation": "spouse",
            "phone": "13900001111",
        },
        {"person_id": DUP, "name": "孙九", "household_id": "HA4", "relation": "child"},
        {"person_id": DUP, "name": "孙九", "household_id": "HB2", "relation": "other"},
    ],
    "bank_accounts": [{"account_no": SHARED_ACCOUNT, "holder_id": BROKER, "bank_id": ""}],
    "officials": [
        {"person_id": BROKER, "position": "村会计", "region_code": COUNTY_B, "village": "西村"}
    ],
    "aid_payments": [
        *(
            {
                "payment_id": f"PA{i}",
                "program": "低保",
                "recipient_id": A[f"a{i}"],
                "household_id": f"HA{i}",
                "account_no": SHARED_ACCOUNT,
                "amount": 500,
                "paid_date": "2021-03-10",
                "region_code": COUNTY_A,
            }
            for i in range(1, 4)
        ),
        {
            "payment_id": "PA4",
            "program": "低保",
            "recipient_id": A["a4"],
            "household_id": "HA4",
            "account_no": "6222020200119990004",
            "amount": 400,
            "paid_date": "2021-04-10",
            "region_code": COUNTY_A,
        },
        {
            "payment_id": "PB1",
            "program": "低保",
            "recipient_id": B["b1"],
            "household_id": "HB1",
            "account_no": "6222020200119990011",
            "amount": 450,
            "paid_date": "2021-04-10",
            "region_code": COUNTY_B,
        },
        {
            "payment_id": "PB2",
            "program": "产业奖补",
            "recipient_id": B["b2"],
            "household_id": "HB2",
            "account_no": "6222020200119990012",
            "amount": 900,
            "paid_date": "2021-05-10",
            "region_code": COUNTY_B,
        },
    ],
    "enterprises": [
        {
            "uscc": EA,
            "name": "宜阳城投",
            "region_code": COUNTY_A,
            "kind": "lgfv",
            "net_assets": 200000000,
        },
        {
            "uscc": EB,
            "name": "西华建设",
            "region_code": COUNTY_B,
            "kind": "soe",
            "net_assets": 100000000,
        },
    ],
    "guarantees": [
        {
            "guarantee_id": "GA",
            "guarantor_id": EA,
            "debtor_id": EB,
            "amount": 50000000,
            "start_date": "2021-01-01",
            "end_date": "2026-01-01",
        },
        {
            "guarantee_id": "GB",
            "guarantor_id": EB,
            "debtor_id": EA,
            "amount": 40000000,
            "start_date": "2021-01-01",
            "end_date": "2026-01-01",
        },
    ],
}


def build(directory: Path) -> Path:
    """Write :data:`TABLES` as UTF-8 CSV files into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for table, rows in TABLES.items():
        columns = list(dict.fromkeys(c for row in rows for c in row))
        with open(directory / f"{table}.csv", "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({c: row.get(c, "") for c in columns})
    return directory


def out_of_scope_tokens(county: str) -> set[str]:
    """Ids, names and phone numbers a user scoped to ``county`` (or its city) must never see,
    read off the tables: the other county's regions, households, their payments and the accounts
    only they are paid into (and no person of ``county`` holds), the people none of whose
    households is in ``county``, the other county's firms."""
    other = COUNTY_B if county == COUNTY_A else COUNTY_A
    other_city = CITY_B if county == COUNTY_A else CITY_A
    tokens: set[str] = set()
    for r in TABLES["regions"]:
        if r["region_code"] in (other, other_city):
            tokens |= {str(r["region_code"]), str(r["name"])}
    hidden_households = {
        str(h["household_id"]) for h in TABLES["households"] if h["region_code"] == other
    }
    tokens |= hidden_households
    homes: dict[str, set[str]] = {}
    for p in TABLES["persons"]:
        homes.setdefault(str(p["person_id"]), set()).add(str(p["household_id"]))
    for p in TABLES["persons"]:
        if homes[str(p["person_id"])] <= hidden_households:
            tokens |= {str(p["person_id"]), str(p["name"])}
            if p.get("phone"):
                tokens.add(str(p["phone"]))
    # an account is the county's when it is paid aid there or held by one of its people
    in_scope_accounts = {
        str(p["account_no"]) for p in TABLES["aid_payments"] if p["region_code"] == county
    } | {str(a["account_no"]) for a in TABLES["bank_accounts"] if a["holder_id"] not in tokens}
    for p in TABLES["aid_payments"]:
        if p["region_code"] == other:
            tokens.add(str(p["payment_id"]))
            if p["account_no"] not in in_scope_accounts:
                tokens.add(str(p["account_no"]))
    for e in TABLES["enterprises"]:
        if e["region_code"] == other:
            tokens |= {str(e["uscc"]), str(e["name"])}
    return tokens
