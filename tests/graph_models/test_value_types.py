"""Value types: published test vectors, one case per reason code, and properties."""

from __future__ import annotations

import datetime as dt
import pickle
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph_models.value_types import (
    PROVINCE_PREFIXES,
    REASON_CODES,
    TYPES,
    EntityRef,
    InvalidValue,
    ValueWarning,
    enum_type,
    get_type,
    is_person_id_shape,
    is_uscc_shape,
    mask_person_id,
    person_id_birth_date,
    person_id_check_char,
    person_id_region,
    split_region_code,
    uscc_check_char,
)

PERSON_ID = TYPES["person_id"]
USCC = TYPES["uscc"]
DATE = TYPES["date"]
AMOUNT = TYPES["amount"]
PCT = TYPES["pct"]
LEVEL = enum_type({"province": "省", "city": "市", "county": "县"})
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
EXCEL_EPOCH = dt.date(1899, 12, 30)
TODAY = dt.date.today()


def full_width(text: str) -> str:
    """ASCII digits and letters as their full-width forms (U+FF10.., U+FF21..)."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


def excel_serial(day: dt.date) -> int:
    """Excel 1900-system serial, counting the phantom 1900-02-29 (serial 60)."""
    if day < dt.date(1900, 3, 1):
        return (day - dt.date(1899, 12, 31)).days
    return (day - EXCEL_EPOCH).days


def reason_of(type_name: str, raw: object) -> str:
    with pytest.raises(InvalidValue) as caught:
        TYPES[type_name].clean(raw)
    return caught.value.reason


# --- published vectors ------------------------------------------------------------------------


def test_gb11643_standard_example():
    assert person_id_check_char("11010519491231002") == "X"
    assert PERSON_ID.clean("11010519491231002X") == "11010519491231002X"
    assert person_id_birth_date("11010519491231002X") == dt.date(1949, 12, 31)
    assert person_id_region("11010519491231002X") == "110105"


def test_gb11643_standard_example_born_1880_has_right_check_but_predates_1900():
    # The standard's second example is checksum-valid; the contract rejects births before 1900.
    assert person_id_check_char("44052418800101001") == "4"
    assert reason_of("person_id", "440524188001010014") == "bad_birth_date"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("110105491231002", "11010519491231002X"),
        ("440524800101001", "440524198001010013"),
        (" 110105491231002\t", "11010519491231002X"),
    ],
)
def test_fifteen_digit_ids_upgrade(old, new):
    assert PERSON_ID.clean(old) == new
    assert person_id_check_char(new[:17]) == new[17]


def test_gb32100_standard_example():
    assert uscc_check_char("91350100M000100Y4") == "3"
    assert USCC.clean("91350100M000100Y43") == "91350100M000100Y43"


@pytest.mark.parametrize(
    "code",
    # Codes published on company registrations and annual reports.
    ["914403001922038216", "9144030071526726XG", "91520000214434146R", "91440300708461136T"],
)
def test_published_usccs(code):
    assert uscc_check_char(code[:17]) == code[17]
    assert USCC.clean(code.lower()) == code


# --- accepted forms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "raw", "expected"),
    [
        ("person_id", "11010519491231002x", "11010519491231002X"),
        ("person_id", full_width("11010519491231002X"), "11010519491231002X"),
        ("person_id", "\u300011010519491231002X ", "11010519491231002X"),
        ("person_id", 110105491231002, "11010519491231002X"),
        ("person_id", 110105491231002.0, "11010519491231002X"),
        ("uscc", " 9135 0100 m000 100y 43 ", "91350100M000100Y43"),
        ("uscc", full_width("91350100M000100Y43"), "91350100M000100Y43"),
        ("region_code", "320102", "320102"),
        ("region_code", "320102001001", "320102"),
        ("region_code", 320102, "320102"),
        ("region_code", 320102.0, "320102"),
        ("date", "2021-03-02", dt.date(2021, 3, 2)),
        ("date", "2021/03/02", dt.date(2021, 3, 2)),
        ("date", "20210302", dt.date(2021, 3, 2)),
        ("date", "2021年3月2日", dt.date(2021, 3, 2)),
        ("date", "2021-3-2", dt.date(2021, 3, 2)),
        ("date", "2021-03-02 00:00:00", dt.date(2021, 3, 2)),
        ("date", "2021-03-02T10:20", dt.date(2021, 3, 2)),
        ("date", 20210302, dt.date(2021, 3, 2)),
        ("date", pd.Timestamp("2021-03-02 13:00"), dt.date(2021, 3, 2)),
        ("date", np.datetime64("2021-03-02"), dt.date(2021, 3, 2)),
        ("date", 1, dt.date(1900, 1, 1)),
        ("date", 59, dt.date(1900, 2, 28)),
        ("date", 61, dt.date(1900, 3, 1)),
        ("date", "44197", dt.date(2021, 1, 1)),
        ("date", 44197.75, dt.date(2021, 1, 1)),
        ("date", 2958465, dt.date(9999, 12, 31)),
        ("amount", "1,234,567.89", 1234567.89),
        ("amount", "￥１，２３４元", 1234.0),
        ("amount", " ¥ 0.5 ", 0.5),
        ("amount", "1.5e3", 1500.0),
        ("amount", Decimal("12.30"), 12.3),
        ("amount", -0.0, 0.0),
        ("pct", "35%", 35.0),
        ("pct", "35", 35.0),
        ("pct", 35.0, 35.0),
        ("pct", "３５％", 35.0),
        ("pct", "0.35", 0.35),
        ("account_no", "6222 0202-0011 2233 446", "6222020200112233446"),
        ("account_no", 6222020200112233446, "6222020200112233446"),
        ("phone", "+86 138-0013-8000", "13800138000"),
        ("phone", "0086 13800138000", "13800138000"),
        ("phone", "8613800138000", "13800138000"),
        ("phone", 13800138000, "13800138000"),
        ("phone", "025-8888 1234", "02588881234"),
        ("entity_ref", "11010519491231002x", EntityRef("person", "11010519491231002X")),
        ("entity_ref", "110105491231002", EntityRef("person", "11010519491231002X")),
        ("entity_ref", "91350100m000100y43", EntityRef("org", "91350100M000100Y43")),
        ("entity_ref", "914403001922038216", EntityRef("org", "914403001922038216")),
        (
            "entity_ref",
            EntityRef("org", "91350100M000100Y43"),
            EntityRef("org", "91350100M000100Y43"),
        ),
        ("text", "  某某村  ", "某某村"),
        ("text", 12.0, "12"),
        ("int", "12", 12),
        ("int", 12.0, 12),
        ("int", " 12.0 ", 12),
        ("float", "1.5", 1.5),
        ("float", 2, 2.0),
        ("bool", "是", True),
        ("bool", "否", False),
        ("bool", "Y", True),
        ("bool", "no", False),
        ("bool", "TRUE", True),
        ("bool", "0", False),
        ("bool", "有", True),
        ("bool", "无", False),
        ("bool", 1.0, True),
        ("bool", np.bool_(False), False),
    ],
)
def test_accepts(type_name, raw, expected):
    cleaned = TYPES[type_name].clean(raw)
    assert cleaned == expected
    assert type(cleaned) is type(expected)


@pytest.mark.parametrize("blank", [None, float("nan"), np.nan, pd.NA, pd.NaT, "", "   ", "\u3000"])
@pytest.mark.parametrize("type_name", sorted(TYPES))
def test_blank_is_none(type_name, blank):
    assert TYPES[type_name].clean(blank) is None


def test_enum_accepts_english_and_chinese_case_and_space_insensitive():
    assert LEVEL.clean(" 市 ") == "city"
    assert LEVEL.clean("County") == "county"
    assert LEVEL.clean("PROV INCE") == "province"
    assert LEVEL.name == "enum(province,city,county)"


def test_enum_aliases_that_collide_are_our_bug():
    with pytest.raises(ValueError, match="names two values"):
        enum_type({"a": "甲", "b": "A"})


# --- one case per reason code ----------------------------------------------------------------

REJECTS = [
    ("person_id", "1101051949123100", "bad_length"),
    ("person_id", "11010519491231002Y", "bad_length"),
    ("person_id", "110105 19491231002X", "bad_length"),
    ("person_id", 1.1010519491231002e17, "bad_length"),
    ("person_id", "000105194912310020", "bad_region"),
    ("person_id", "990105194912310020", "bad_region"),
    ("person_id", "110105194902300020", "bad_birth_date"),
    ("person_id", "110105490230002", "bad_birth_date"),
    ("person_id", "110105189912310020", "bad_birth_date"),
    ("person_id", "110105194912310021", "bad_checksum"),
    ("uscc", "91350100M000100Y4", "bad_length"),
    ("uscc", "91350100M000100I43", "bad_charset"),
    ("uscc", "91350100M000100Y44", "bad_checksum"),
    ("region_code", "32010", "bad_region"),
    ("region_code", "3201020010", "bad_region"),
    ("region_code", "990101", "bad_region"),
    ("region_code", "32a102", "bad_region"),
    ("date", "2021-02-30", "bad_date"),
    ("date", "2021-13-01", "bad_date"),
    ("date", "2021-03/02", "bad_date"),
    ("date", "yesterday", "bad_date"),
    ("date", 60, "bad_date"),
    ("date", 0, "bad_date"),
    ("date", 2958466, "bad_date"),
    ("date", True, "bad_date"),
    ("amount", "12,34", "bad_amount"),
    ("amount", "abc", "bad_amount"),
    ("amount", "nan", "bad_amount"),
    ("amount", "inf", "bad_amount"),
    ("amount", "1e999", "bad_amount"),
    ("amount", float("inf"), "bad_amount"),
    ("amount", True, "bad_amount"),
    ("amount", "-5", "negative_amount"),
    ("amount", "¥-1,000", "negative_amount"),
    ("amount", -0.01, "negative_amount"),
    ("pct", "0", "bad_pct"),
    ("pct", "100.5", "bad_pct"),
    ("pct", "-5%", "bad_pct"),
    ("pct", "abc", "bad_pct"),
    ("account_no", "123456789", "bad_account"),
    ("account_no", "6222abc0200112233441", "bad_account"),
    ("account_no", "1" * 26, "bad_account"),
    ("entity_ref", "hello", "bad_reference"),
    ("entity_ref", "110105194912310021", "bad_reference"),
    ("int", "1.5", "bad_int"),
    ("int", 1.5, "bad_int"),
    ("int", True, "bad_int"),
    ("float", "x", "bad_float"),
    ("float", "nan", "bad_float"),
    ("float", float("-inf"), "bad_float"),
    ("bool", "maybe", "bad_bool"),
    ("bool", 2, "bad_bool"),
]
WARNINGS = [
    ("account_no", "6222020200112233441", "luhn_failed"),
    ("phone", "02588881234", "bad_phone"),
    ("phone", "无", "bad_phone"),
]


@pytest.mark.parametrize(("type_name", "raw", "reason"), REJECTS)
def test_rejects_with_reason(type_name, raw, reason):
    assert reason_of(type_name, raw) == reason


@pytest.mark.parametrize(("type_name", "value", "reason"), WARNINGS)
def test_warns_without_rejecting(type_name, value, reason):
    value_type = TYPES[type_name]
    assert value_type.clean(value) == value
    [warning] = value_type.warnings(value)
    assert isinstance(warning, ValueWarning)
    assert warning.reason == reason


def test_valid_values_have_no_warnings():
    assert TYPES["account_no"].warnings("6222020200112233446") == []
    assert TYPES["phone"].warnings("13800138000") == []


def test_bad_enum_lists_allowed_values():
    with pytest.raises(InvalidValue) as caught:
        LEVEL.clean("village")
    assert caught.value.reason == "bad_enum"
    assert "province (省)" in caught.value.message


def test_every_reason_code_is_exercised():
    covered = {r for _, _, r in REJECTS} | {r for _, _, r in WARNINGS} | {"bad_enum"}
    assert covered == REASON_CODES


def test_future_birth_date_rejected():
    tomorrow = TODAY + dt.timedelta(days=1)
    body = f"110105{tomorrow:%Y%m%d}001"
    assert reason_of("person_id", body + person_id_check_char(body)) == "bad_birth_date"


def test_bad_reference_says_which_checks_failed():
    with pytest.raises(InvalidValue) as caught:
        TYPES["entity_ref"].clean("110105194912310021")
    assert "resident ID: bad_checksum" in caught.value.message
    assert "USCC: bad_checksum" in caught.value.message


def test_entity_ref_prefers_person_when_both_checksums_pass():
    for seq in range(1000):
        body = f"11010519491231{seq:03d}"
        pid = body + person_id_check_char(body)
        if uscc_check_char(body) == pid[17]:
            break
    else:
        pytest.fail("no 18-digit string valid as both kinds in the search range")
    assert USCC.clean(pid) == pid
    assert TYPES["entity_ref"].clean(pid) == EntityRef("person", pid)


def test_invalid_value_pickles_with_its_reason():
    exc = pickle.loads(pickle.dumps(InvalidValue("bad_date", "date 'x': nope")))
    assert (exc.reason, exc.message, str(exc)) == ("bad_date", "date 'x': nope", "date 'x': nope")


# --- helpers ----------------------------------------------------------------------------------


def test_split_region_code():
    assert split_region_code("320102001001") == ("320102", "320102001001")
    assert split_region_code(" 320102 ") == ("320102", None)
    assert split_region_code(None) == (None, None)
    with pytest.raises(InvalidValue, match="province prefix"):
        split_region_code("990102")


def test_shapes():
    assert is_person_id_shape("110105491231002")
    assert is_person_id_shape(" 11010519491231002x")
    assert not is_person_id_shape("91350100M000100Y43")
    assert not is_person_id_shape(None)
    assert is_uscc_shape("91350100m000100y43")
    assert is_uscc_shape("110105194912310021")
    assert not is_uscc_shape("91350100M000100I43")
    assert not is_uscc_shape(pd.Timestamp("2021-01-01"))


def test_mask_person_id():
    assert mask_person_id("32010219800101123X") == "3201**********123X"
    assert mask_person_id("1234567") == "*******"


def test_person_id_helpers_validate():
    assert person_id_birth_date("110105491231002") == dt.date(1949, 12, 31)
    with pytest.raises(InvalidValue):
        person_id_region("")
    with pytest.raises(InvalidValue):
        person_id_birth_date("110105194912310021")


def test_get_type():
    assert get_type("person_id") is PERSON_ID
    with pytest.raises(KeyError, match="unknown value type"):
        get_type("passport")


# --- columns ----------------------------------------------------------------------------------


def test_clean_series_shapes_and_alignment():
    s = pd.Series(["11010519491231002x", None, "bad", "11010519491231002X"], index=[5, 6, 7, 8])
    values, reasons, messages = PERSON_ID.clean_series(s)
    assert list(values.index) == [5, 6, 7, 8]
    assert values.tolist() == ["11010519491231002X", None, None, "11010519491231002X"]
    assert reasons.tolist() == [None, None, "bad_length", None]
    assert messages[7].startswith("resident ID 'bad'")


def test_clean_series_keeps_equal_values_of_different_types_apart():
    s = pd.Series([1, True, 1.0, "1", None], dtype=object)
    values, reasons, _ = TYPES["int"].clean_series(s)
    assert values.tolist() == [1, None, 1, 1, None]
    assert reasons.tolist() == [None, "bad_int", None, None, None]


def test_warnings_series():
    reasons, messages = TYPES["account_no"].warnings_series(
        pd.Series(["6222020200112233441", None, "6222020200112233446"])
    )
    assert reasons.tolist() == ["luhn_failed", None, None]
    assert messages[0].endswith("fails the Luhn check")


@pytest.mark.parametrize(
    ("column", "expected", "reasons"),
    [
        ([0.35, "0.07", None, 1], [35.0, 7.0, None, 100.0], [None, None, None, None]),
        (["0.5", "0", "x"], [50.0, None, None], [None, "bad_pct", "bad_pct"]),
        (["0.5", "35%"], [0.5, 35.0], [None, None]),
        ([0.5, 35], [0.5, 35.0], [None, None]),
        (["0.5%", "0.2%"], [0.5, 0.2], [None, None]),
    ],
)
def test_pct_column_in_fractions(column, expected, reasons):
    values, got_reasons, _ = PCT.clean_series(pd.Series(column, dtype=object))
    assert values.tolist() == expected
    assert got_reasons.tolist() == reasons


# --- properties -------------------------------------------------------------------------------

prefixes = st.sampled_from(sorted(PROVINCE_PREFIXES))
birth_dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY)


@st.composite
def person_ids(draw, births=birth_dates):
    region = f"{draw(prefixes)}{draw(st.integers(0, 9999)):04d}"
    born = draw(births)
    body = f"{region}{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    return body + person_id_check_char(body)


@st.composite
def usccs(draw):
    body = "".join(draw(st.lists(st.sampled_from(USCC_CHARSET), min_size=17, max_size=17)))
    return body + uscc_check_char(body)


@given(person_ids())
def test_generated_person_ids_accepted_and_idempotent(pid):
    assert PERSON_ID.clean(pid) == pid
    assert PERSON_ID.clean(PERSON_ID.clean(pid)) == pid
    assert person_id_region(pid) == pid[:6]


@given(person_ids())
def test_every_wrong_check_char_is_bad_checksum(pid):
    for wrong in "0123456789X":
        if wrong != pid[17]:
            assert reason_of("person_id", pid[:17] + wrong) == "bad_checksum"


@given(person_ids(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(1999, 12, 31))))
def test_fifteen_and_eighteen_digit_forms_agree(pid):
    old = pid[:6] + pid[8:17]
    assert PERSON_ID.clean(old) == PERSON_ID.clean(pid) == pid


@given(person_ids())
def test_lower_x_and_full_width_normalise(pid):
    assert PERSON_ID.clean(pid.lower()) == pid
    assert PERSON_ID.clean(full_width(pid)) == pid
    assert PERSON_ID.clean(f"  {full_width(pid.lower())}\t") == pid


@given(usccs())
def test_generated_usccs_accepted_and_check_corruption_rejected(code):
    assert USCC.clean(code) == code
    assert USCC.clean(code.lower()) == code
    for wrong in USCC_CHARSET:
        if wrong != code[17]:
            assert reason_of("uscc", code[:17] + wrong) == "bad_checksum"


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=EXCEL_EPOCH + dt.timedelta(99999)))
def test_dates_round_trip_every_format(day):
    y, m, d = day.year, day.month, day.day
    serial = excel_serial(day)
    forms = [
        day.isoformat(),
        f"{y}/{m:02d}/{d:02d}",
        f"{y}{m:02d}{d:02d}",
        f"{y}年{m}月{d}日",
        f"{y}-{m}-{d}",
        f"{day.isoformat()} 00:00:00",
        full_width(day.isoformat()),
        day,
        dt.datetime.combine(day, dt.time(13, 45)),
        pd.Timestamp(day),
        np.datetime64(day),
        int(f"{y}{m:02d}{d:02d}"),
        serial,
        float(serial) + 0.25,
        str(serial),
    ]
    for form in forms:
        assert DATE.clean(form) == day, form


@given(st.integers(0, 10**13))
def test_amounts_round_trip_with_separators_and_signs(cents):
    grouped = f"{cents // 100:,}.{cents % 100:02d}"
    expected = cents / 100
    for form in [
        grouped,
        f"¥{grouped}",
        f"￥ {grouped} 元",
        full_width(grouped).replace(",", "，"),
        f"  {cents // 100}.{cents % 100:02d}元 ",
        expected,
    ]:
        assert AMOUNT.clean(form) == expected, form


mixed_cells = st.one_of(
    person_ids().map(lambda p: p.lower()),
    usccs(),
    st.sampled_from(
        [
            "",
            " ",
            "110105194912310021",
            "91350100M000100Y43",
            "2021-03-02",
            "¥1,000",
            "35%",
            "0.5",
            "是",
            "city",
            "市",
            "13800138000",
            "6222020200112233441",
            "320102001001",
        ]
    ),
    st.text(max_size=20),
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**20), 10**20),
    st.booleans(),
    st.dates(),
)


def expected_triple(value_type, raw):
    try:
        return value_type.clean(raw), None
    except InvalidValue as exc:
        return None, exc.reason


@given(st.lists(mixed_cells, max_size=30))
def test_clean_series_agrees_with_clean(cells):
    s = pd.Series(cells, dtype=object)
    for value_type in [*TYPES.values(), LEVEL]:
        if value_type is PCT and PCT.is_fraction_column(cells):
            continue  # the column-level fraction rule is tested on its own
        values, reasons, messages = value_type.clean_series(s)
        for raw, value, reason, message in zip(s, values, reasons, messages, strict=True):
            want_value, want_reason = expected_triple(value_type, raw)
            assert (value, reason) == (want_value, want_reason), (value_type.name, raw)
            assert (message is None) == (reason is None)


@settings(deadline=None)  # runs every value type: a loaded machine can take 200 ms on one case
@given(st.lists(st.one_of(st.text(max_size=20), mixed_cells.filter(lambda c: isinstance(c, str)))))
def test_clean_series_agrees_on_string_columns(cells):
    s = pd.Series(cells, dtype="str")
    for value_type in (PERSON_ID, USCC, DATE, AMOUNT, TYPES["entity_ref"]):
        values, reasons, _ = value_type.clean_series(s)
        for raw, value, reason in zip(s, values, reasons, strict=True):
            assert (value, reason) == expected_triple(value_type, raw)
