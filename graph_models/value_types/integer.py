"""Integers."""

from __future__ import annotations

import numbers
import re

import pyarrow as pa

from graph_models.value_types._base import InvalidValue, ValueType, _is_bool, _real

_INTEGER = re.compile(r"[+-]?\d+(?:\.0*)?", re.ASCII)


class IntType(ValueType):
    """Integer; accepts ``"12"``, ``12``, ``12.0`` and ``"12.0"``."""

    name = "int"
    arrow_type = pa.int64()
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
