"""Amounts in yuan: grouping commas, ``¥``, unit suffixes and accounting negatives understood."""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph_models.value_types._base import (
    _GROUPED_NUMBER,
    InvalidValue,
    ValueType,
    _parse_number,
    _real,
    matches,
)

#: unit words a cell may end with, and their multiplier to yuan
AMOUNT_UNITS = {
    "元": 1,
    "千元": 1000,
    "万元": 10_000,
    "万": 10_000,
    "亿元": 100_000_000,
    "亿": 100_000_000,
}
_UNIT_SUFFIX = re.compile(r"(亿元|万元|千元|元|亿|万)$")


class AmountType(ValueType):
    """Amount in yuan as a float >= 0.

    Accepts thousands separators, ``¥``/``￥``, a unit suffix (``元``, ``千元``, ``万元``/``万``,
    ``亿元``/``亿``: ``1.124万`` is 11,240 yuan) and accounting negatives in brackets
    (``(1,234.50)``, rejected as ``negative_amount`` like ``-1234.5``). ``unit`` is the multiplier
    of a column whose header names a unit (``金额（万元）``): it applies to every cell without a unit
    of its own.

    Examples
    --------
    >>> AmountType().clean("1.124万"), AmountType(unit=10_000).clean("3"), AmountType(10_000).clean("5元")
    (11240.0, 30000.0, 5.0)
    >>> try:
    ...     AmountType().clean("(1,234.50)")
    ... except InvalidValue as exc:
    ...     exc.reason
    'negative_amount'
    """

    name = "amount"
    arrow_type = pa.float64()
    reason = "bad_amount"
    numeric = True

    def __init__(self, unit: int = 1) -> None:
        self.unit = unit

    def __repr__(self) -> str:
        return f"<AmountType amount unit={self.unit}>" if self.unit != 1 else "<AmountType amount>"

    def _clean_text(self, text: str) -> float:
        compact = "".join(text.split())
        bracketed = len(compact) > 2 and compact[0] == "(" and compact[-1] == ")"
        if bracketed:
            compact = compact[1:-1]
        compact = compact.replace("¥", "")
        explicit = None
        m = _UNIT_SUFFIX.search(compact)
        if m:
            explicit = AMOUNT_UNITS[m.group(1)]
            compact = compact[: m.start()]
        if "," in compact:
            if _GROUPED_NUMBER.fullmatch(compact) is None:
                raise InvalidValue(
                    "bad_amount", f"amount {text!r}: thousands separators in the wrong places"
                )
            compact = compact.replace(",", "")
        value = _parse_number(compact, "bad_amount", "amount")
        multiplier = explicit if explicit is not None else self.unit
        if multiplier != 1:
            value = float(Decimal(compact) * multiplier)
        if bracketed:
            if value < 0:
                raise InvalidValue("bad_amount", f"amount {text!r}: a sign inside brackets")
            value = -value
        return self._check(value, text, bracketed)

    def _clean_other(self, raw: object) -> float:
        value = _real(raw, "bad_amount", "amount")
        if self.unit != 1:
            value = float(Decimal(repr(value)) * self.unit)
        return self._check(value, raw)

    @staticmethod
    def _check(value: float, raw: object, bracketed: bool = False) -> float:
        if value < 0:
            how = " (an accounting negative in brackets)" if bracketed else ""
            raise InvalidValue("negative_amount", f"amount {raw!r} is negative{how}")
        return value + 0.0  # -0.0 becomes 0.0

    def _fast_arrow(self, arr: pa.Array) -> tuple[np.ndarray | None, np.ndarray | None]:
        if self.unit != 1:
            return None, None
        ok = matches(arr, r"\d+(?:\.\d+)?|\d{1,3}(?:,\d{3})+(?:\.\d+)?")
        grouped = ok & pc.match_substring(arr, ",").to_numpy(zero_copy_only=False)
        values = np.full(len(arr), np.nan)
        if ok.any():
            text = arr.filter(pa.array(ok))
            if grouped.any():
                text = pc.replace_substring(text, ",", "")
            values[ok] = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
        return ok, values
