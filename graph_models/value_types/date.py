"""Calendar dates (ISO, Chinese, compact, Excel serials)."""

from __future__ import annotations

import datetime as dt
import numbers
import re
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph_models.value_types._base import (
    InvalidValue,
    ValueType,
    _is_bool,
    days_in_month,
    fixed_width_bytes,
    matches,
)

# the text forms a column kernel reads (no time suffix: those go through `clean`)
_ARROW_PATTERNS = (
    r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})",
    r"(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})",
    r"(?P<y>\d{4})\.(?P<m>\d{1,2})\.(?P<d>\d{1,2})",
    r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日",
    r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})",
)

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

    def _arrow_value(self, value: object) -> object:
        return value.isoformat() if isinstance(value, dt.date) else value

    def _fast_arrow(self, arr: pa.Array) -> tuple[np.ndarray, pa.Array]:
        n = len(arr)
        y = np.zeros(n, dtype=np.int64)
        m = np.zeros(n, dtype=np.int64)
        d = np.zeros(n, dtype=np.int64)
        seen = np.zeros(n, dtype=bool)
        # YYYY-MM-DD (or with / or . twice), the common cases, straight from the bytes
        rows, b = fixed_width_bytes(arr, 10)
        if rows.size:
            v = b.astype(np.int64) - 48
            digit = (v >= 0) & (v <= 9)
            sep = b[:, 4]
            iso = digit[:, [0, 1, 2, 3, 5, 6, 8, 9]].all(axis=1) & (b[:, 7] == sep)
            iso &= (sep == 45) | (sep == 47) | (sep == 46)  # - / .
            r = rows[iso]
            v = v[iso]
            y[r] = v[:, 0] * 1000 + v[:, 1] * 100 + v[:, 2] * 10 + v[:, 3]
            m[r] = v[:, 5] * 10 + v[:, 6]
            d[r] = v[:, 8] * 10 + v[:, 9]
            seen[r] = True
        for pattern, hint in zip(_ARROW_PATTERNS, ("-", "/", ".", "年", None), strict=True):
            if seen.all():
                break
            if hint is not None and not pc.any(pc.match_substring(arr, hint)).as_py():
                continue
            todo = ~seen & matches(arr, pattern)
            if not todo.any():
                continue
            parts = pc.extract_regex(arr.filter(pa.array(todo)), f"^{pattern}$")
            for target, key in ((y, "y"), (m, "m"), (d, "d")):
                target[todo] = pc.cast(parts.field(key), pa.int64()).to_numpy(zero_copy_only=False)
            seen |= todo
        ok = seen & (y >= 1) & (m >= 1) & (m <= 12) & (d >= 1)
        ok &= d <= days_in_month(y, np.where(ok, m, 1))
        days = np.zeros(n, dtype="datetime64[D]")
        if ok.any():
            months = ((y[ok] - 1970) * 12 + (m[ok] - 1)).astype("datetime64[M]")
            days[ok] = months.astype("datetime64[D]") + (d[ok] - 1)
        return ok, pc.cast(pa.array(days), pa.string())  # ISO text, as clean gives it
