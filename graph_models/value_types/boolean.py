"""Booleans (是/否, Y/N, 1/0, ...)."""

from __future__ import annotations

import numbers

import pyarrow as pa

from graph_models.value_types._base import InvalidValue, ValueType, _is_bool

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


class BoolType(ValueType):
    """Boolean; accepts 是/否, 有/无, Y/N, yes/no, true/false, 1/0 (any case)."""

    name = "bool"
    arrow_type = pa.bool_()
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
