"""Amounts in yuan."""

from __future__ import annotations

from graph_models.value_types._base import (
    _GROUPED_NUMBER,
    InvalidValue,
    ValueType,
    _parse_number,
    _real,
)


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
