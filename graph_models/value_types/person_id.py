"""Resident ID (GB 11643)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph_models.value_types._base import (
    PROVINCE_PREFIXES,
    InvalidValue,
    ValueType,
    _integral_text,
    _normalise,
    days_in_month,
    fixed_width_bytes,
)

_PID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_PID_CHECK_CHARS = "10X98765432"
_EARLIEST_BIRTH = dt.date(1900, 1, 1)
_PROVINCE_OK = np.zeros(100, dtype=bool)
_PROVINCE_OK[[int(p) for p in PROVINCE_PREFIXES]] = True
_WEIGHTS = np.array(_PID_WEIGHTS, dtype=np.int32)
_CHECK_BYTES = np.frombuffer(_PID_CHECK_CHARS.encode(), dtype=np.uint8)


def _body_ok(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(valid mask, check byte) for rows of 17 body digits (already 0-9 checked by the caller)."""
    good = _PROVINCE_OK[np.clip(d[:, 0] * 10 + d[:, 1], 0, 99)]
    y = d[:, 6] * 1000 + d[:, 7] * 100 + d[:, 8] * 10 + d[:, 9]
    mo = d[:, 10] * 10 + d[:, 11]
    dd = d[:, 12] * 10 + d[:, 13]
    good &= (mo >= 1) & (mo <= 12) & (dd >= 1) & (dd <= days_in_month(y, mo))
    today = dt.date.today()
    ymd = y * 10000 + mo * 100 + dd
    good &= (ymd >= 19000101) & (ymd <= today.year * 10000 + today.month * 100 + today.day)
    return good, _CHECK_BYTES[(np.clip(d, 0, 9) * _WEIGHTS).sum(axis=1) % 11]


def person_id_valid_mask(arr: pa.Array) -> np.ndarray:
    """Column kernel: True where a value is an 18-character resident ID that ``clean`` accepts
    as written (17 digits, a digit or X/x, known province, real birth date from 1900 to today,
    correct GB 11643 check character). Anything else is left to ``clean``."""
    ok = np.zeros(len(arr), dtype=bool)
    rows, m = fixed_width_bytes(arr, 18)
    if not rows.size:
        return ok
    d = m[:, :17].astype(np.int32) - 48
    good = ((d >= 0) & (d <= 9)).all(axis=1)
    last = m[:, 17].astype(np.int32)
    last = np.where(last == ord("x"), ord("X"), last)
    good &= ((last >= 48) & (last <= 57)) | (last == ord("X"))
    body_ok, check = _body_ok(d)
    good &= body_ok & (check == last)
    ok[rows[good]] = True
    return ok


def _upgrade_15(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Column kernel for old 15-digit IDs: (valid mask, their 18-digit form)."""
    n = len(arr)
    ok = np.zeros(n, dtype=bool)
    values = np.full(n, None, dtype=object)
    rows, m = fixed_width_bytes(arr, 15)
    if not rows.size:
        return ok, values
    digits = m.astype(np.int32) - 48
    good = ((digits >= 0) & (digits <= 9)).all(axis=1)
    body = np.concatenate(
        [digits[:, :6], np.tile([1, 9], (len(rows), 1)), digits[:, 6:]], axis=1
    ).astype(np.int32)
    body_ok, check = _body_ok(body)
    good &= body_ok
    if good.any():
        text = np.concatenate([body[good] + 48, check[good][:, None]], axis=1).astype(np.uint8)
        values[rows[good]] = [b.decode("ascii") for b in map(bytes, text)]
        ok[rows[good]] = True
    return ok, values


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

    def _fast_arrow(self, arr: pa.Array) -> tuple[np.ndarray, pa.Array]:
        ok = person_id_valid_mask(arr)
        old, upgraded = _upgrade_15(arr)
        values = pc.utf8_upper(arr)
        if old.any():
            values = pc.replace_with_mask(
                values, pa.array(old), pa.array(upgraded[old], pa.string())
            )
        return ok | old, values


PERSON_ID = PersonIdType()


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
