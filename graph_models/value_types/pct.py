"""Percentages."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import pyarrow as pa

from graph_models.value_types._base import (
    InvalidValue,
    ValueType,
    _is_missing,
    _normalise,
    _parse_number,
    _real,
)


class PctType(ValueType):
    """Percentage as a float in (0, 100]; ``"35%"``, ``"35"`` and ``35.0`` all mean 35 %.

    A single cell is always read as a percentage. ``clean_series`` also applies the contract's
    column-level rule: when no cell carries ``%`` and every parseable value is <= 1, the column is
    in fractions and is multiplied by 100.
    """

    name = "pct"
    arrow_type = pa.float64()
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
        >>> from graph_models.value_types import TYPES
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
