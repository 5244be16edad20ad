"""Floating-point numbers."""

from __future__ import annotations

from graph_models.value_types._base import ValueType, _parse_number, _real


class FloatType(ValueType):
    """Finite float; accepts numeric strings and numbers."""

    name = "float"
    reason = "bad_float"

    def _clean_text(self, text: str) -> float:
        return _parse_number(text, "bad_float", "number")

    def _clean_other(self, raw: object) -> float:
        return _real(raw, "bad_float", "number")
