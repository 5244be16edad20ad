"""Value types' Arrow column kernels give exactly what the per-value rules give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph_models.value_types import TYPES
from graph_models.value_types.amount import AmountType

# -- column kernels give exactly what the per-value rules give ------------------------------

_ALPHABETS = {
    "person_id": "0123456789Xx 　１",
    "uscc": "0123456789ABCDGHJKLMNPQRTUWXYabcIO ",
    "region_code": "0123456789 ",
    "date": "0123456789-/.年月日 :T",
    "amount": "0123456789.,-()¥元万 ",
    "float": "0123456789.-+e ",
    "account_no": "0123456789- ",
    "phone": "0123456789+- ",
    "text": "ab 　\t合",
    "entity_ref": "0123456789XABCDGHJKLMNPQRTUWY ",
}


def _samples(type_name: str) -> st.SearchStrategy[list[str]]:
    valid = {
        "person_id": ["11010519491231002X", "11010519491231002x", "110105491231002"],
        "uscc": ["91350100M000100Y43", "91350100m000100y43"],
        "region_code": ["110105", "320102001001"],
        "date": [
            "2021-03-02",
            "2021/3/2",
            "2021年3月2日",
            "20210302",
            "2021-02-29",
            "2021/03/02",
            "2021.03.02",
            "2021/03-02",
            "2021.02.29",
        ],
        "amount": ["1,234.50", "(1,234.50)", "1.124万", "12", "-3"],
        "entity_ref": ["11010519491231002X", "91350100M000100Y43"],
    }.get(type_name, [])
    cell = st.text(alphabet=_ALPHABETS[type_name], max_size=20)
    if valid:
        cell = st.one_of(cell, st.sampled_from(valid))
    return st.lists(cell, max_size=30)


@pytest.mark.parametrize("type_name", list(_ALPHABETS))
def test_column_kernel_equals_the_rule(type_name):
    vtype = TYPES[type_name]

    @settings(max_examples=150, deadline=None)
    @given(cells=_samples(type_name))
    def check(cells):
        got = vtype.clean_arrow(pa.array(cells, pa.string()))
        want = vtype.clean_series(pd.Series(cells, dtype=object))
        for g, w, what in zip(got, want, ("values", "reasons", "messages"), strict=True):
            w = w.to_numpy(dtype=object)
            if what == "values" and type_name == "date":
                w = np.array([v.isoformat() if v is not None else None for v in w], dtype=object)
            if g.dtype.kind == "f":
                w = pd.to_numeric(pd.Series(w, dtype=object)).to_numpy("float64")
                np.testing.assert_array_equal(g, w)
            else:
                assert g.tolist() == w.tolist(), (what, cells)

    check()


@pytest.mark.parametrize("type_name", [t for t in _ALPHABETS if t != "entity_ref"])
def test_arrow_values_equal_the_rule(type_name):
    """``clean_arrow_values`` (Arrow values, what the loader uses) gives what the per-value rule
    gives: its values (null where the rule gives None), reasons and messages."""
    vtype = TYPES[type_name]

    @settings(max_examples=150, deadline=None)
    @given(cells=_samples(type_name))
    def check(cells):
        got = vtype.clean_arrow_values(pa.array(cells, pa.string()))
        want = vtype.clean_series(pd.Series(cells, dtype=object))
        assert got[0].type == vtype.arrow_type and len(got[0]) == len(cells)
        values = want[0].tolist()
        if type_name == "date":
            values = [v.isoformat() if v is not None else None for v in values]
        if pa.types.is_floating(vtype.arrow_type):
            values = [None if v is None else float(v) for v in values]
        assert got[0].to_pylist() == values, cells
        assert got[1].tolist() == want[1].tolist(), cells
        assert got[2].tolist() == want[2].tolist(), cells
        assert got[3].tolist() == [v is not None for v in want[0].tolist()], cells
        assert got[4].tolist() == [r is not None for r in want[1].tolist()], cells

    check()


def test_amount_units_apply_to_cells_without_their_own():
    values, reasons, _ = AmountType(10_000).clean_arrow(pa.array(["1.5", "3元", "2万", "x"]))
    assert values[:3].tolist() == [15000.0, 3.0, 20000.0] and reasons[3] == "bad_amount"


def test_arrow_trims_exactly_what_python_strips():
    import sys

    import pyarrow.compute as pc

    chars = [chr(c) for c in range(sys.maxunicode + 1) if c < 0xD800 or c > 0xDFFF]
    values = pa.array([f"a{c}" for c in chars])
    trimmed = pc.utf8_trim_whitespace(values).to_pylist()
    assert [c for c, t in zip(chars, trimmed, strict=True) if t == "a"] == [
        c for c in chars if c.isspace()
    ]
