"""Value types: the one implementation of every identifier, date and number rule in the contract.

Each type turns a raw cell (a string from CSV, a number or timestamp from xlsx/parquet) into its
canonical value with ``clean``, returns ``None`` for a blank cell and raises :class:`InvalidValue`
carrying a contract reason code when the cell fails its type. Loaders, the synthetic data generator,
detectors and the API all call these; nothing else parses identifiers.

Examples
--------
>>> TYPES["person_id"].clean(" 110105491231002 ")
'11010519491231002X'
>>> TYPES["uscc"].clean("91350100m000100y43")
'91350100M000100Y43'
>>> TYPES["amount"].clean("¥1,234.50")
1234.5
>>> TYPES["date"].clean("2021年3月2日")
datetime.date(2021, 3, 2)
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "PROVINCE_PREFIXES",
    "REASON_CODES",
    "TYPES",
    "AccountNoType",
    "AmountType",
    "BoolType",
    "DateType",
    "EntityRef",
    "EntityRefType",
    "EnumType",
    "FloatType",
    "IntType",
    "InvalidValue",
    "PctType",
    "PersonIdType",
    "PhoneType",
    "RegionCodeType",
    "TextType",
    "UsccType",
    "ValueType",
    "ValueWarning",
    "enum_type",
    "get_type",
    "is_person_id_shape",
    "is_uscc_shape",
    "mask_person_id",
    "person_id_birth_date",
    "person_id_check_char",
    "person_id_region",
    "split_region_code",
    "uscc_check_char",
]

#: Every reason code a value type can report (rejects and warnings), as named in the data contract.
REASON_CODES = frozenset(
    {
        "bad_length",
        "bad_region",
        "bad_birth_date",
        "bad_checksum",
        "bad_charset",
        "bad_date",
        "bad_amount",
        "negative_amount",
        "bad_pct",
        "bad_account",
        "luhn_failed",
        "bad_phone",
        "bad_reference",
        "bad_int",
        "bad_float",
        "bad_bool",
        "bad_enum",
    }
)

#: GB/T 2260 province-level prefixes (the first two digits of a region code or resident ID).
PROVINCE_PREFIXES: frozenset[str] = frozenset(
    [str(p) for p in range(11, 16)]
    + [str(p) for p in range(21, 24)]
    + [str(p) for p in range(31, 38)]
    + [str(p) for p in range(41, 47)]
    + [str(p) for p in range(50, 55)]
    + [str(p) for p in range(61, 66)]
    + ["71", "81", "82"]
)

_PID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_PID_CHECK_CHARS = "10X98765432"
_USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {c: i for i, c in enumerate(_USCC_CHARSET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
# A float holds every integer up to 2**53 exactly; beyond that an ID stored as a number lost digits.
_FLOAT_EXACT = 2**53
_EARLIEST_BIRTH = dt.date(1900, 1, 1)
# Excel's 1900 date system counts a 1900-02-29 that never was (serial 60), so serials from 61 on
# are days since 1899-12-30 and serials 1-59 are days since 1899-12-31.
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_EXCEL_EPOCH_BEFORE_BUG = dt.date(1899, 12, 31)
_EXCEL_MAX_SERIAL = 2958465  # 9999-12-31

_TIME_SUFFIX = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DATE_SEPARATED = re.compile(
    rf"(?P<y>\d{{4}})(?P<sep>[-/.])(?P<m>\d{{1,2}})(?P=sep)(?P<d>\d{{1,2}}){_TIME_SUFFIX}", re.ASCII
)
_DATE_CHINESE = re.compile(
    rf"(?P<y>\d{{4}})年(?P<m>\d{{1,2}})月(?P<d>\d{{1,2}})日{_TIME_SUFFIX}", re.ASCII
)
_DATE_COMPACT = re.compile(rf"(?P<y>\d{{4}})(?P<m>\d{{2}})(?P<d>\d{{2}}){_TIME_SUFFIX}", re.ASCII)
_EXCEL_SERIAL_TEXT = re.compile(r"\d{1,5}(?:\.\d*)?", re.ASCII)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_GROUPED_NUMBER = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?", re.ASCII)
_INTEGER = re.compile(r"[+-]?\d+(?:\.0*)?", re.ASCII)
_MOBILE = re.compile(r"1\d{10}", re.ASCII)
_ACCOUNT_SEPARATORS = re.compile(r"[\s-]+")
_MOBILE_PREFIXES = ("+86", "0086", "86")

_BOOL_WORDS = {
    "是": True,
    "否": False,
    "y": True,
    "n": False,
    "yes": True,
    "no": False,
    "1": True,
    "0": False,
    "true": True,
    "false": False,
    "有": True,
    "无": False,
}


class InvalidValue(ValueError):
    """A value that fails its type. ``reason`` is a contract reason code.

    Parameters
    ----------
    reason : str
        One of :data:`REASON_CODES`, e.g. ``"bad_checksum"``.
    message : str
        One line for a data engineer, quoting the offending value.

    Examples
    --------
    >>> try:
    ...     TYPES["person_id"].clean("110105194912310021")
    ... except InvalidValue as exc:
    ...     exc.reason
    'bad_checksum'
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type[InvalidValue], tuple[str, str]]:
        # The default pickling replays ``args`` (the message only) and would lose the reason.
        return (type(self), (self.reason, self.message))


class ValueWarning(NamedTuple):
    """A value that is kept but looks suspicious (e.g. an account number failing Luhn)."""

    reason: str
    message: str


class EntityRef(NamedTuple):
    """A reference to a person (by resident ID) or an organisation (by USCC)."""

    kind: Literal["person", "org"]
    id: str


def _is_missing(raw: object) -> bool:
    if raw is None or raw is pd.NA or raw is pd.NaT:
        return True
    if isinstance(raw, float | np.floating):
        return bool(raw != raw)
    if isinstance(raw, np.datetime64 | np.timedelta64):
        return bool(np.isnat(raw))
    if isinstance(raw, Decimal):
        return raw.is_nan()
    return False


def _normalise(text: str) -> str:
    """Strip, and fold full-width digits, letters and punctuation to ASCII (NFKC)."""
    text = text.strip()
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).strip()
    return text


def _is_bool(raw: object) -> bool:
    return isinstance(raw, bool | np.bool_)


def _integral_text(raw: object, reason: str, what: str) -> str:
    """Digits of an identifier that a spreadsheet stored as a number."""
    if _is_bool(raw):
        raise InvalidValue(reason, f"{what} {raw!r}: a boolean is not an identifier")
    if isinstance(raw, numbers.Integral):
        return str(int(raw))
    if isinstance(raw, numbers.Real | Decimal):
        value = float(raw)
        if math.isfinite(value) and value.is_integer() and abs(value) <= _FLOAT_EXACT:
            return str(int(value))
        raise InvalidValue(
            reason,
            f"{what} {raw!r} was stored as a floating-point number and has lost digits; "
            "store identifiers as text",
        )
    raise InvalidValue(reason, f"{what} {raw!r}: expected text, got {type(raw).__name__}")


class ValueType:
    """Base of every value type: one ``clean`` rule, applied to cells and to whole columns.

    Subclasses implement ``_clean_text`` (for a stripped, NFKC-normalised, non-blank string) and,
    when numbers or timestamps are acceptable, ``_clean_other``.
    """

    name: str
    #: Reason code for a value of the wrong Python type.
    reason: str

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def clean(self, raw: object) -> object | None:
        """Canonical value; None for blank/missing (None, NaN, "", whitespace).

        Parameters
        ----------
        raw : object
            A cell as read from CSV, xlsx or parquet.

        Returns
        -------
        object or None
            The canonical value, or None when the cell is blank.

        Raises
        ------
        InvalidValue
            When the value fails the type; ``reason`` is the contract reason code.

        Examples
        --------
        >>> TYPES["region_code"].clean("320102001001")
        '320102'
        >>> TYPES["text"].clean("   ") is None
        True
        """
        if isinstance(raw, str):
            text = _normalise(raw)
            return self._clean_text(text) if text else None
        if _is_missing(raw):
            return None
        return self._clean_other(raw)

    def _clean_text(self, text: str) -> object:
        raise NotImplementedError

    def _clean_other(self, raw: object) -> object:
        raise InvalidValue(
            self.reason, f"{self.name} {raw!r}: unexpected value of type {type(raw).__name__}"
        )

    def warnings(self, value: object) -> list[ValueWarning]:
        """Warnings about a canonical value that is kept (e.g. Luhn failure); [] by default.

        Examples
        --------
        >>> TYPES["account_no"].warnings("6222020200112233441")
        [ValueWarning(reason='luhn_failed', message="account number '6222020200112233441' fails the Luhn check")]
        """
        return []

    def clean_series(self, s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
        """Vectorised ``clean``: (clean values, reason codes, messages), aligned with ``s``.

        Values are None where the cell is blank or invalid; reasons and messages are None where the
        cell is fine (or blank). ``clean`` runs once per distinct raw value and the results are
        mapped back, so the rule has exactly one implementation.

        Examples
        --------
        >>> values, reasons, _ = TYPES["int"].clean_series(pd.Series(["1", "x", None, "1"]))
        >>> values.tolist(), reasons.tolist()
        ([1, None, None, 1], [None, 'bad_int', None, None])
        """
        codes, uniques = _factorize(s)
        results = self._clean_uniques(uniques)
        columns = [np.empty(len(results) + 1, dtype=object) for _ in range(3)]
        for i, triple in enumerate(results):
            for column, item in zip(columns, triple, strict=True):
                column[i] = item
        # Code -1 (a missing cell) takes the trailing None slot.
        return tuple(  # type: ignore[return-value]
            pd.Series(column.take(codes), index=s.index, name=s.name, dtype=object)
            for column in columns
        )

    def warnings_series(self, values: pd.Series) -> tuple[pd.Series, pd.Series]:
        """Vectorised ``warnings`` over clean values: (first warning reason, its message).

        Examples
        --------
        >>> reasons, _ = TYPES["phone"].warnings_series(pd.Series(["13800138000", "025-1234"]))
        >>> reasons.tolist()
        [None, 'bad_phone']
        """
        codes, uniques = _factorize(values)
        columns = [np.empty(len(uniques) + 1, dtype=object) for _ in range(2)]
        for i, value in enumerate(uniques):
            found = self.warnings(value)
            if found:
                columns[0][i], columns[1][i] = found[0]
        return tuple(  # type: ignore[return-value]
            pd.Series(column.take(codes), index=values.index, name=values.name, dtype=object)
            for column in columns
        )

    def _clean_uniques(self, uniques: list[object]) -> list[tuple[object, str | None, str | None]]:
        results: list[tuple[object, str | None, str | None]] = []
        for raw in uniques:
            try:
                results.append((self.clean(raw), None, None))
            except InvalidValue as exc:
                results.append((None, exc.reason, exc.message))
        return results


def _factorize(s: pd.Series) -> tuple[np.ndarray, list[object]]:
    """Codes (-1 for missing) and one raw value per code, keeping 1, 1.0 and True apart."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    if s.dtype != object or len(uniques) == 0:
        return codes, list(uniques)
    # pandas hashes equal values of different types (1, 1.0, True) together, but a type may clean
    # them differently, so an object column is factorized on (value, Python type).
    cells = s.to_numpy(dtype=object)
    type_codes, kinds = pd.factorize(_type_of(cells))
    present = codes >= 0
    if len(np.unique(type_codes[present])) == 1:
        return codes, list(uniques)
    pair_codes, _ = pd.factorize(codes[present] * len(kinds) + type_codes[present])
    exact_codes = np.full(len(s), -1, dtype=np.intp)
    exact_codes[present] = pair_codes
    _, first = np.unique(pair_codes, return_index=True)
    return exact_codes, list(cells[present][first])


_type_of = np.frompyfunc(type, 1, 1)


# --- resident ID (GB 11643) -----------------------------------------------------------------


def person_id_check_char(body17: str) -> str:
    """GB 11643 check character for the first 17 digits of a resident ID.

    Parameters
    ----------
    body17 : str
        Region (6), birth date (8) and sequence (3) digits.

    Returns
    -------
    str
        One of ``"0123456789X"``.

    Examples
    --------
    >>> person_id_check_char("11010519491231002")
    'X'
    """
    if len(body17) != 17 or not (body17.isascii() and body17.isdigit()):
        raise InvalidValue("bad_length", f"resident ID body {body17!r}: expected 17 digits")
    total = sum(int(c) * w for c, w in zip(body17, _PID_WEIGHTS, strict=True))
    return _PID_CHECK_CHARS[total % 11]


def _birth_date(body17: str, raw: str) -> dt.date:
    try:
        born = dt.date(int(body17[6:10]), int(body17[10:12]), int(body17[12:14]))
    except ValueError:
        raise InvalidValue(
            "bad_birth_date", f"resident ID {raw!r}: {body17[6:14]} is not a real date"
        ) from None
    if born < _EARLIEST_BIRTH or born > dt.date.today():
        raise InvalidValue(
            "bad_birth_date",
            f"resident ID {raw!r}: birth date {born.isoformat()} is before 1900 or in the future",
        )
    return born


def _person_id_candidate(text: str) -> tuple[str, str | None] | None:
    """(17-digit body, given check char or None for a 15-digit ID), or None if not ID-shaped."""
    text = text.upper()
    if not text.isascii():
        return None
    if len(text) == 18 and text[:17].isdigit() and (text[17].isdigit() or text[17] == "X"):
        return text[:17], text[17]
    if len(text) == 15 and text.isdigit():
        # Old 15-digit IDs have a 2-digit year, all in the 1900s, and no check character.
        return text[:6] + "19" + text[6:], None
    return None


def is_person_id_shape(raw: object) -> bool:
    """True when ``raw`` has the length and characters of a resident ID (15 digits, or 17 + digit/X).

    Examples
    --------
    >>> is_person_id_shape("11010519491231002x"), is_person_id_shape("91350100M000100Y43")
    (True, False)
    """
    if not isinstance(raw, str):
        try:
            raw = _integral_text(raw, "bad_length", "resident ID")
        except InvalidValue:
            return False
    return _person_id_candidate(_normalise(raw)) is not None


class PersonIdType(ValueType):
    """Resident ID (GB 11643): 18 characters, upper-case X; 15-digit old IDs are upgraded."""

    name = "person_id"
    reason = "bad_length"

    def _clean_text(self, text: str) -> str:
        candidate = _person_id_candidate(text)
        if candidate is None:
            raise InvalidValue(
                "bad_length",
                f"resident ID {text!r}: expected 18 characters (17 digits then a digit or X) "
                f"or an old 15-digit ID, got {len(text)} characters",
            )
        body, given = candidate
        if body[:2] not in PROVINCE_PREFIXES:
            raise InvalidValue(
                "bad_region", f"resident ID {text!r}: unknown province prefix {body[:2]!r}"
            )
        _birth_date(body, text)
        expected = person_id_check_char(body)
        if given is not None and given != expected:
            raise InvalidValue(
                "bad_checksum",
                f"resident ID {text!r}: check character should be {expected!r}, not {given!r}",
            )
        return body + expected

    def _clean_other(self, raw: object) -> str:
        return self._clean_text(_integral_text(raw, self.reason, "resident ID"))


def _require_person_id(pid: str) -> str:
    canonical = PERSON_ID.clean(pid)
    if canonical is None:
        raise InvalidValue("bad_length", "resident ID is blank")
    return canonical  # type: ignore[return-value]


def person_id_birth_date(pid: str) -> dt.date:
    """Birth date encoded in a resident ID (15- or 18-digit; validated first).

    Examples
    --------
    >>> person_id_birth_date("11010519491231002X")
    datetime.date(1949, 12, 31)
    """
    canonical = _require_person_id(pid)
    return dt.date(int(canonical[6:10]), int(canonical[10:12]), int(canonical[12:14]))


def person_id_region(pid: str) -> str:
    """The 6-digit region code of issue at the start of a resident ID (validated first).

    Examples
    --------
    >>> person_id_region("11010519491231002X")
    '110105'
    """
    return _require_person_id(pid)[:6]


def mask_person_id(pid: str) -> str:
    """Mask a resident ID for display, keeping the first 4 and last 4 characters.

    The input is masked as given (it may be an invalid value quoted in a reject file).

    Examples
    --------
    >>> mask_person_id("11010519491231002X")
    '1101**********002X'
    """
    text = str(pid).strip()
    if len(text) <= 8:
        return "*" * len(text)
    return text[:4] + "*" * (len(text) - 8) + text[-4:]


# --- unified social credit code (GB 32100) --------------------------------------------------


def uscc_check_char(body17: str) -> str:
    """GB 32100 check character for the first 17 characters of a USCC.

    Examples
    --------
    >>> uscc_check_char("91350100M000100Y4")
    '3'
    """
    if len(body17) != 17:
        raise InvalidValue("bad_length", f"USCC body {body17!r}: expected 17 characters")
    try:
        total = sum(_USCC_VALUES[c] * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    except KeyError as exc:
        raise InvalidValue(
            "bad_charset", f"USCC body {body17!r}: {exc.args[0]!r} is not a USCC character"
        ) from None
    return _USCC_CHARSET[(31 - total % 31) % 31]


def _uscc_candidate(text: str) -> str:
    return "".join(text.split()).upper()


def is_uscc_shape(raw: object) -> bool:
    """True when ``raw`` is 18 characters of the USCC charset (after upper-casing, spaces removed).

    Examples
    --------
    >>> is_uscc_shape("91350100m000100y43"), is_uscc_shape("91350100M000100I43")
    (True, False)
    """
    if not isinstance(raw, str):
        try:
            raw = _integral_text(raw, "bad_length", "USCC")
        except InvalidValue:
            return False
    code = _uscc_candidate(_normalise(raw))
    return len(code) == 18 and all(c in _USCC_VALUES for c in code)


class UsccType(ValueType):
    """Unified social credit code (GB 32100): 18 characters, upper case, no spaces."""

    name = "uscc"
    reason = "bad_length"

    def _clean_text(self, text: str) -> str:
        code = _uscc_candidate(text)
        if len(code) != 18:
            raise InvalidValue(
                "bad_length", f"USCC {text!r}: expected 18 characters, got {len(code)}"
            )
        wrong = sorted({c for c in code if c not in _USCC_VALUES})
        if wrong:
            raise InvalidValue(
                "bad_charset",
                f"USCC {text!r}: {''.join(wrong)!r} not in the USCC charset "
                f"{_USCC_CHARSET} (I, O, S, V, Z are never used)",
            )
        expected = uscc_check_char(code[:17])
        if code[17] != expected:
            raise InvalidValue(
                "bad_checksum",
                f"USCC {text!r}: check character should be {expected!r}, not {code[17]!r}",
            )
        return code

    def _clean_other(self, raw: object) -> str:
        return self._clean_text(_integral_text(raw, self.reason, "USCC"))


# --- region code (GB/T 2260) ----------------------------------------------------------------


class RegionCodeType(ValueType):
    """6-digit GB/T 2260 region code; a 12-digit statistical code keeps its first 6 digits."""

    name = "region_code"
    reason = "bad_region"

    def split(self, raw: object) -> tuple[str | None, str | None]:
        """(6-digit region code, 12-digit village code or None); (None, None) when blank.

        Examples
        --------
        >>> TYPES["region_code"].split("320102001001")
        ('320102', '320102001001')
        """
        if isinstance(raw, str):
            text = _normalise(raw)
        elif _is_missing(raw):
            return None, None
        else:
            text = _integral_text(raw, self.reason, "region code")
        if not text:
            return None, None
        if not (len(text) in (6, 12) and text.isascii() and text.isdigit()):
            raise InvalidValue(
                "bad_region", f"region code {text!r}: expected 6 or 12 digits (GB/T 2260)"
            )
        if text[:2] not in PROVINCE_PREFIXES:
            raise InvalidValue(
                "bad_region", f"region code {text!r}: unknown province prefix {text[:2]!r}"
            )
        return text[:6], (text if len(text) == 12 else None)

    def _clean_text(self, text: str) -> str | None:
        return self.split(text)[0]

    def _clean_other(self, raw: object) -> str | None:
        return self.split(raw)[0]


def split_region_code(raw: object) -> tuple[str | None, str | None]:
    """Split a region code cell into (6-digit code, 12-digit village code or None).

    Blank cells give ``(None, None)``; invalid ones raise ``InvalidValue("bad_region", ...)``.

    Examples
    --------
    >>> split_region_code("110105")
    ('110105', None)
    >>> split_region_code("110105001002")
    ('110105', '110105001002')
    """
    return REGION_CODE.split(raw)


# --- dates ----------------------------------------------------------------------------------


def _from_excel_serial(serial: float, raw: object) -> dt.date:
    if not 1 <= serial < _EXCEL_MAX_SERIAL + 1:
        raise InvalidValue("bad_date", f"date {raw!r}: Excel serial outside 1..{_EXCEL_MAX_SERIAL}")
    days = int(serial)  # the fraction is the time of day
    if days == 60:
        raise InvalidValue(
            "bad_date", f"date {raw!r}: Excel serial 60 is 1900-02-29, which does not exist"
        )
    epoch = _EXCEL_EPOCH_BEFORE_BUG if days < 60 else _EXCEL_EPOCH
    return epoch + dt.timedelta(days=days)


class DateType(ValueType):
    """Calendar date as ``datetime.date``.

    Accepts ``YYYY-MM-DD`` (also ``YYYY-M-D``, ``/`` or ``.`` separators), ``YYYYMMDD``,
    ``YYYY年M月D日``, an optional trailing time, date/datetime/Timestamp/datetime64 objects and Excel
    1900-system serial numbers (numbers 1..2958465, or digit strings of up to 5 digits). An 8-digit
    integer is read as ``YYYYMMDD``, never as a serial (serials stop at 7 digits).
    """

    name = "date"
    reason = "bad_date"

    def _clean_text(self, text: str) -> dt.date:
        match = (
            _DATE_SEPARATED.fullmatch(text)
            or _DATE_CHINESE.fullmatch(text)
            or _DATE_COMPACT.fullmatch(text)
        )
        if match is not None:
            return self._make(int(match["y"]), int(match["m"]), int(match["d"]), text)
        if _EXCEL_SERIAL_TEXT.fullmatch(text):
            return _from_excel_serial(float(text), text)
        raise InvalidValue(
            "bad_date",
            f"date {text!r}: expected YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD, YYYY年M月D日 "
            "or an Excel serial number",
        )

    def _clean_other(self, raw: object) -> dt.date:
        if isinstance(raw, dt.datetime):  # includes pd.Timestamp
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        if isinstance(raw, np.datetime64):
            return raw.astype("datetime64[D]").item()
        if _is_bool(raw) or not isinstance(raw, numbers.Real | Decimal):
            return super()._clean_other(raw)
        value = float(raw)
        if value.is_integer() and 10_000_000 <= value <= 99_999_999:
            return self._clean_text(str(int(value)))
        return _from_excel_serial(value, raw)

    @staticmethod
    def _make(year: int, month: int, day: int, raw: str) -> dt.date:
        try:
            return dt.date(year, month, day)
        except ValueError:
            raise InvalidValue("bad_date", f"date {raw!r}: not a real calendar date") from None


# --- numbers --------------------------------------------------------------------------------


def _parse_number(text: str, reason: str, what: str) -> float:
    if _NUMBER.fullmatch(text) is None:
        raise InvalidValue(reason, f"{what} {text!r}: not a number")
    value = float(text)
    if not math.isfinite(value):
        raise InvalidValue(reason, f"{what} {text!r}: not a finite number")
    return value


def _real(raw: object, reason: str, what: str) -> float:
    """A finite float from a numeric cell (not a boolean)."""
    if _is_bool(raw) or not isinstance(raw, numbers.Real | Decimal):
        raise InvalidValue(reason, f"{what} {raw!r}: unexpected value of type {type(raw).__name__}")
    value = float(raw)
    if not math.isfinite(value):
        raise InvalidValue(reason, f"{what} {raw!r}: not a finite number")
    return value


class AmountType(ValueType):
    """Amount in yuan as a float >= 0; thousands separators, ``¥``/``￥``/``元`` accepted."""

    name = "amount"
    reason = "bad_amount"

    def _clean_text(self, text: str) -> float:
        compact = "".join(text.split()).replace("¥", "").replace("元", "")
        if "," in compact:
            if _GROUPED_NUMBER.fullmatch(compact) is None:
                raise InvalidValue(
                    "bad_amount", f"amount {text!r}: thousands separators in the wrong places"
                )
            compact = compact.replace(",", "")
        return self._check(_parse_number(compact, "bad_amount", "amount"), text)

    def _clean_other(self, raw: object) -> float:
        return self._check(_real(raw, "bad_amount", "amount"), raw)

    @staticmethod
    def _check(value: float, raw: object) -> float:
        if value < 0:
            raise InvalidValue("negative_amount", f"amount {raw!r} is negative")
        return value + 0.0  # -0.0 becomes 0.0


class PctType(ValueType):
    """Percentage as a float in (0, 100]; ``"35%"``, ``"35"`` and ``35.0`` all mean 35 %.

    A single cell is always read as a percentage. ``clean_series`` also applies the contract's
    column-level rule: when no cell carries ``%`` and every parseable value is <= 1, the column is
    in fractions and is multiplied by 100.
    """

    name = "pct"
    reason = "bad_pct"

    def _clean_text(self, text: str) -> float:
        return self._clean_scaled(text, fraction=False)

    def _clean_other(self, raw: object) -> float:
        return self._clean_scaled(raw, fraction=False)

    def _clean_scaled(self, raw: object, fraction: bool) -> float:
        value, _ = self._parse(raw)
        if fraction:
            # Through the shortest decimal repr, so 0.07 becomes 7.0 rather than 7.000000000000001.
            value = float(Decimal(repr(value)) * 100)
        if not 0 < value <= 100:
            scale = " (column read as fractions, x100)" if fraction else ""
            raise InvalidValue("bad_pct", f"percentage {raw!r}{scale}: outside (0, 100]")
        return value

    def _parse(self, raw: object) -> tuple[float, bool]:
        """(number as written, whether it carried a % sign)."""
        if not isinstance(raw, str):
            return _real(raw, "bad_pct", "percentage"), False
        text = _normalise(raw)
        percent = text.endswith("%")
        if percent:
            text = text[:-1].rstrip()
        return _parse_number(text, "bad_pct", "percentage"), percent

    def is_fraction_column(self, values: Iterable[object]) -> bool:
        """True when a column is written as fractions: no ``%`` and all parseable values <= 1.

        Examples
        --------
        >>> TYPES["pct"].is_fraction_column([0.35, "0.5", None])
        True
        >>> TYPES["pct"].is_fraction_column(["0.35", "35%"])
        False
        """
        parsed = []
        for raw in values:
            if _is_missing(raw) or (isinstance(raw, str) and not _normalise(raw)):
                continue
            try:
                parsed.append(self._parse(raw))
            except InvalidValue:
                continue
        return bool(parsed) and all(not percent and value <= 1 for value, percent in parsed)

    def _clean_uniques(self, uniques: list[object]) -> list[tuple[object, str | None, str | None]]:
        if not self.is_fraction_column(uniques):
            return super()._clean_uniques(uniques)
        results: list[tuple[object, str | None, str | None]] = []
        for raw in uniques:
            if isinstance(raw, str) and not _normalise(raw):
                results.append((None, None, None))
                continue
            try:
                results.append((self._clean_scaled(raw, fraction=True), None, None))
            except InvalidValue as exc:
                results.append((None, exc.reason, exc.message))
        return results


# --- account numbers and phones -------------------------------------------------------------


def _luhn_ok_many(values: Sequence[str]) -> np.ndarray:
    """Luhn check of many digit strings at once (vectorised per length); the one Luhn rule."""
    out = np.zeros(len(values), dtype=bool)
    by_len: dict[int, list[int]] = {}
    for i, v in enumerate(values):
        by_len.setdefault(len(v), []).append(i)
    for length, idx in by_len.items():
        if length == 0:
            continue
        digits = (
            np.frombuffer("".join(values[i] for i in idx).encode("ascii"), dtype=np.uint8)
            .reshape(len(idx), length)
            .astype(np.int64)
            - 48
        )[:, ::-1]
        doubled = digits[:, 1::2] * 2
        doubled -= np.where(doubled > 9, 9, 0)
        total = digits[:, 0::2].sum(axis=1) + doubled.sum(axis=1)
        out[idx] = total % 10 == 0
    return out


def _luhn_ok(digits: str) -> bool:
    return bool(_luhn_ok_many([digits])[0])


class AccountNoType(ValueType):
    """Bank account number: 10-25 digits once spaces and dashes are removed.

    A Luhn failure is only a warning: many corporate and passbook accounts carry no Luhn digit.
    """

    name = "account_no"
    reason = "bad_account"

    def _clean_text(self, text: str) -> str:
        digits = _ACCOUNT_SEPARATORS.sub("", text)
        if not (10 <= len(digits) <= 25 and digits.isascii() and digits.isdigit()):
            raise InvalidValue(
                "bad_account", f"account number {text!r}: expected 10-25 digits (spaces, dashes ok)"
            )
        return digits

    def _clean_other(self, raw: object) -> str:
        return self._clean_text(_integral_text(raw, self.reason, "account number"))

    def warnings(self, value: object) -> list[ValueWarning]:
        """``luhn_failed`` when the account number fails the Luhn check.

        Examples
        --------
        >>> TYPES["account_no"].warnings("6222020200112233446")
        []
        """
        if isinstance(value, str) and value and not _luhn_ok(value):
            return [ValueWarning("luhn_failed", f"account number {value!r} fails the Luhn check")]
        return []

    def warnings_series(self, values: pd.Series) -> tuple[pd.Series, pd.Series]:
        """Vectorised ``warnings`` (same rule through ``_luhn_ok_many``)."""
        codes, uniques = _factorize(values)
        strs = [u if isinstance(u, str) and u.isascii() and u.isdigit() else "" for u in uniques]
        ok = _luhn_ok_many(strs) | np.array([s == "" for s in strs], dtype=bool)
        reason = np.array([None if good else "luhn_failed" for good in ok] + [None], dtype=object)
        message = np.array(
            [
                None if good else f"account number {u!r} fails the Luhn check"
                for u, good in zip(uniques, ok, strict=True)
            ]
            + [None],
            dtype=object,
        )
        return (
            pd.Series(reason.take(codes), index=values.index, name=values.name, dtype=object),
            pd.Series(message.take(codes), index=values.index, name=values.name, dtype=object),
        )


class PhoneType(ValueType):
    """Mainland mobile number, 11 digits starting with 1.

    ``clean`` never rejects: the loader keeps the row either way. A mobile number loses its
    ``+86``/``0086``/``86`` prefix, spaces and dashes; anything else (a landline, "无") comes back with
    only spaces and dashes removed, and ``warnings`` reports it as ``bad_phone``.
    """

    name = "phone"
    reason = "bad_phone"

    def _clean_text(self, text: str) -> str:
        compact = _ACCOUNT_SEPARATORS.sub("", text)
        for prefix in _MOBILE_PREFIXES:
            if compact.startswith(prefix) and _MOBILE.fullmatch(compact[len(prefix) :]):
                return compact[len(prefix) :]
        return compact

    def _clean_other(self, raw: object) -> str:
        try:
            return self._clean_text(_integral_text(raw, "bad_phone", "phone"))
        except InvalidValue:
            return self._clean_text(str(raw))

    def warnings(self, value: object) -> list[ValueWarning]:
        """``bad_phone`` unless the value is an 11-digit mainland mobile number.

        Examples
        --------
        >>> TYPES["phone"].warnings("13800138000")
        []
        """
        if isinstance(value, str) and _MOBILE.fullmatch(value):
            return []
        return [ValueWarning("bad_phone", f"phone {value!r} is not an 11-digit mainland mobile")]


# --- entity references ----------------------------------------------------------------------


class EntityRefType(ValueType):
    """A person (resident ID) or an organisation (USCC), told apart by shape.

    A string that passes every resident-ID check is a person; otherwise one that passes every USCC
    check is an organisation; otherwise ``bad_reference`` names the checks that failed.
    """

    name = "entity_ref"
    reason = "bad_reference"

    def _clean_text(self, text: str) -> EntityRef:
        failures = []
        if is_person_id_shape(text):
            try:
                return EntityRef("person", PERSON_ID._clean_text(text))
            except InvalidValue as exc:
                failures.append(f"as a resident ID: {exc.reason}")
        if is_uscc_shape(text):
            try:
                return EntityRef("org", USCC._clean_text(text))
            except InvalidValue as exc:
                failures.append(f"as a USCC: {exc.reason}")
        detail = "; ".join(failures) or "shaped like neither a resident ID nor a USCC"
        raise InvalidValue("bad_reference", f"entity reference {text!r}: {detail}")

    def _clean_other(self, raw: object) -> EntityRef:
        if isinstance(raw, EntityRef):
            return self._clean_text(raw.id)
        return self._clean_text(_integral_text(raw, self.reason, "entity reference"))


# --- generic types --------------------------------------------------------------------------


class TextType(ValueType):
    """Free text, stripped; None when blank. Integral floats lose their ``.0`` (``12.0`` -> ``"12"``)."""

    name = "text"

    def clean(self, raw: object) -> str | None:
        if isinstance(raw, str):
            return raw.strip() or None
        if _is_missing(raw):
            return None
        if isinstance(raw, float | np.floating) and float(raw).is_integer():
            # A text column with blanks read as float turns id 12 into 12.0.
            return str(int(raw))
        return str(raw).strip() or None

    def clean_series(self, s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
        """Vectorised ``clean`` for all-string columns (the common CSV case); same rule."""
        if s.dtype != object or pd.api.types.infer_dtype(s, skipna=False) != "string":
            return super().clean_series(s)
        stripped = s.str.strip()
        values = stripped.where(stripped != "", None).astype(object)

        def none() -> pd.Series:
            return pd.Series([None] * len(s), index=s.index, name=s.name, dtype=object)

        return values, none(), none()


class IntType(ValueType):
    """Integer; accepts ``"12"``, ``12``, ``12.0`` and ``"12.0"``."""

    name = "int"
    reason = "bad_int"

    def _clean_text(self, text: str) -> int:
        if _INTEGER.fullmatch(text) is None:
            raise InvalidValue("bad_int", f"integer {text!r}: not a whole number")
        return int(text.split(".")[0])

    def _clean_other(self, raw: object) -> int:
        if isinstance(raw, numbers.Integral) and not _is_bool(raw):
            return int(raw)
        value = _real(raw, "bad_int", "integer")
        if not value.is_integer():
            raise InvalidValue("bad_int", f"integer {raw!r}: not a whole number")
        return int(value)


class FloatType(ValueType):
    """Finite float; accepts numeric strings and numbers."""

    name = "float"
    reason = "bad_float"

    def _clean_text(self, text: str) -> float:
        return _parse_number(text, "bad_float", "number")

    def _clean_other(self, raw: object) -> float:
        return _real(raw, "bad_float", "number")


class BoolType(ValueType):
    """Boolean; accepts 是/否, 有/无, Y/N, yes/no, true/false, 1/0 (any case)."""

    name = "bool"
    reason = "bad_bool"

    def _clean_text(self, text: str) -> bool:
        value = _BOOL_WORDS.get(text.casefold())
        if value is None:
            raise InvalidValue(
                "bad_bool", f"boolean {text!r}: expected 是/否, 有/无, Y/N, yes/no, true/false, 1/0"
            )
        return value

    def _clean_other(self, raw: object) -> bool:
        if _is_bool(raw):
            return bool(raw)
        if isinstance(raw, numbers.Real) and raw in (0, 1):
            return bool(raw)
        raise InvalidValue("bad_bool", f"boolean {raw!r}: expected 1 or 0")


def _enum_key(word: str) -> str:
    return "".join(_normalise(word).split()).casefold()


class EnumType(ValueType):
    """One of a fixed set of English words, each with a Chinese alias; returns the English word.

    Parameters
    ----------
    values : Mapping[str, str]
        Canonical English word -> Chinese alias.
    """

    reason = "bad_enum"

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.name = f"enum({','.join(self.values)})"
        self._lookup: dict[str, str] = {}
        for canonical, alias in self.values.items():
            for word in (canonical, alias):
                key = _enum_key(word)
                if self._lookup.setdefault(key, canonical) != canonical:
                    raise ValueError(f"{self.name}: {word!r} names two values")

    def _clean_text(self, text: str) -> str:
        canonical = self._lookup.get(_enum_key(text))
        if canonical is None:
            allowed = ", ".join(f"{k} ({v})" for k, v in self.values.items())
            raise InvalidValue("bad_enum", f"{text!r} is not one of: {allowed}")
        return canonical

    def _clean_other(self, raw: object) -> str:
        return self._clean_text(_normalise(str(raw)))


def enum_type(values: Mapping[str, str]) -> EnumType:
    """An enum value type from canonical English words to their Chinese aliases.

    Examples
    --------
    >>> level = enum_type({"province": "省", "city": "市", "county": "县"})
    >>> level.clean(" 市 "), level.clean("County")
    ('city', 'county')
    """
    return EnumType(values)


PERSON_ID = PersonIdType()
USCC = UsccType()
REGION_CODE = RegionCodeType()

TYPES: dict[str, ValueType] = {
    t.name: t
    for t in (
        PERSON_ID,
        USCC,
        REGION_CODE,
        DateType(),
        AmountType(),
        PctType(),
        AccountNoType(),
        PhoneType(),
        EntityRefType(),
        TextType(),
        IntType(),
        FloatType(),
        BoolType(),
    )
}


def get_type(spec: str) -> ValueType:
    """The value type named ``spec`` (enums are built with :func:`enum_type`).

    Examples
    --------
    >>> get_type("uscc").name
    'uscc'
    """
    try:
        return TYPES[spec]
    except KeyError:
        raise KeyError(f"unknown value type {spec!r}; known: {', '.join(TYPES)}") from None
