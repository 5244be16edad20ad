"""A small, deliberately messy contract dataset written by hand for loader and store tests.

Every quirk the contract allows appears once: GB18030 + Chinese headers, UTF-8 with BOM, xlsx,
parquet, a 15-digit ID, lower-case x, a 12-digit region code, duplicates, dangling local ids, an
unknown extra column, and rejects with known reason codes. ``EXPECTED`` holds the counts.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from graph_models.value_types import person_id_check_char, uscc_check_char


def pid(region: str, birth: str, seq: str) -> str:
    body = region + birth + seq
    return body + person_id_check_char(body)


def uscc(body17: str) -> str:
    return body17 + uscc_check_char(body17)


GOV = uscc("11410822MB0000001")  # 博爱县人民政府
SASAC = uscc("11410822MB0000002")
LGFV = uscc("91410822MA0000001")
BANK = uscc("91410800MA0000009")
OUTSIDER = uscc("91410100MA00000X1")  # referenced by a shareholding, defined nowhere
HEAD1 = pid("410822", "19650304", "123")
HEAD1_15 = HEAD1[:6] + HEAD1[8:17]  # legacy 15-digit form of HEAD1
HEAD2 = next(
    p for p in (pid("410822", "19700101", f"{i:03d}") for i in range(1000)) if p.endswith("X")
)
MEMBER = pid("410822", "19900512", "234")
SHAREHOLDER = pid("410822", "19720709", "345")
BAD_CHECK = HEAD1[:17] + ("0" if HEAD1[17] != "0" else "1")

EXPECTED = {
    "regions": {"read": 5, "loaded": 3, "rejected": 1, "duplicate": 1, "dangling": 0},
    "gov_units": {"read": 3, "loaded": 2, "rejected": 1, "duplicate": 0, "dangling": 0},
    "enterprises": {"read": 3, "loaded": 2, "rejected": 1, "duplicate": 0, "dangling": 0},
    "shareholdings": {"read": 4, "loaded": 3, "rejected": 1, "duplicate": 0, "dangling": 0},
    "households": {"read": 3, "loaded": 2, "rejected": 1, "duplicate": 0, "dangling": 0},
    "persons": {"read": 6, "loaded": 3, "rejected": 3, "duplicate": 0, "dangling": 1},
    "aid_payments": {"read": 3, "loaded": 2, "rejected": 1, "duplicate": 0, "dangling": 1},
    "fund_flows": {"read": 2, "loaded": 2, "rejected": 0, "duplicate": 0, "dangling": 0},
}


def _csv(path: Path, header: list[str], rows: list[list[object]], encoding: str = "utf-8") -> None:
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def build(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    _csv(
        root / "regions.csv",
        ["region_code", "name", "parent_code", "level", "general_budget_revenue"],
        [
            ["410000", "河南省", "", "province", "450,000,000,000"],
            ["410800", "焦作市", "410000", "市", "25,000,000,000"],
            ["410822", "博爱县", "410800", "county", "¥1,500,000,000"],
            ["410822", "博爱县", "410800", "county", "¥1,500,000,000"],  # exact duplicate
            ["990101", "不存在", "410000", "county", "1"],  # bad_region
        ],
    )
    _csv(
        root / "gov_units.csv",
        ["统一社会信用代码", "单位名称", "区划代码", "单位类型"],
        [
            [GOV, "博爱县人民政府", "410822", "人民政府"],
            [SASAC, "博爱县国资委", "410822", "国资委"],
            [
                GOV[:17] + ("0" if GOV[17] != "0" else "1"),
                "坏代码",
                "410822",
                "其他",
            ],  # bad_checksum
        ],
        encoding="gb18030",
    )
    pd.DataFrame(
        {
            "uscc": [LGFV, BANK, LGFV[:-1]],
            "企业名称": ["博爱县城投公司", "焦作银行", "短代码"],
            "region_code": ["410822", "410800", "410822"],
            "kind": ["融资平台", "bank", "lgfv"],
            "net_assets": [1.2e9, 3e10, 1.0],
        }
    ).to_excel(root / "enterprises.xlsx", index=False)
    with open(root / "shareholdings.csv", "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["holder_id", "company_id", "share_pct"])
        w.writerow([SASAC, LGFV, "60%"])
        w.writerow([OUTSIDER, LGFV, "40%"])
        w.writerow([SHAREHOLDER.lower(), BANK, "35"])
        w.writerow([SASAC, BANK, "150%"])  # bad_pct
    _csv(
        root / "households.csv",
        ["户编号", "户主身份证号", "区划代码", "行政村", "贫困户状态"],
        [
            ["H1", HEAD1_15, "410822101001", "东村", "在册"],
            ["H2", HEAD2.lower(), "410822", "西村", "enrolled"],
            ["H3", BAD_CHECK, "410822", "西村", "在册"],  # bad_checksum
        ],
        encoding="gb18030",
    )
    with open(root / "persons.csv", "w", encoding="utf-8", newline="") as f:
        f.write("person_id,name,household_id,relation,phone\n")
        f.write(f"{HEAD1},张三,H1,户主,138 0013 8000\n")
        f.write(f"{MEMBER},李四,H1,spouse,+86-13900139000\n")
        f.write(f"{HEAD2},王五,H9,head,\n")  # dangling household H9
        f.write(f"{HEAD1[:6]}19651332{HEAD1[14:]},赵六,H1,child,\n")  # bad_birth_date
        f.write(f"{MEMBER[:17]}0,,H1,child,\n")  # bad_checksum AND missing name
        f.write(f"{MEMBER},多一列,H1,child,,extra\n")  # bad_row_shape
    pd.DataFrame(
        {
            "payment_id": ["P1", "P2", "P3"],
            "program": ["低保", "低保", "低保"],
            "recipient_id": [HEAD1, HEAD2, HEAD1],
            "household_id": ["H1", "H9", "H1"],
            "account_no": ["6222 0202 0011 2233 445", "6222020200112233446", "6222020200112233447"],
            "amount": ["300", "300", "-5"],  # negative_amount
            "paid_date": ["2021/03/02", "20210402", "2021年5月2日"],
            "region_code": ["410822", "410822", "410822"],
        }
    ).to_parquet(root / "aid_payments.parquet", index=False)
    _csv(
        root / "fund_flows.csv",
        ["flow_id", "payer_id", "payee_id", "amount", "date", "purpose", "备注"],
        [
            ["F1", GOV, LGFV, "1000000", "2021-01-05", "还本付息", "季度付息"],
            ["F2", LGFV, BANK, "990000", "2021-01-06", "other", ""],
        ],
    )
    return root
