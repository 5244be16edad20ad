"""Floating-point numbers."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph_models.value_types._base import ValueType, _parse_number, _real, matches


class FloatType(ValueType):
    """Finite float; accepts numeric strings and numbers."""

    name = "float"
    arrow_type = pa.float64()
    reason = "bad_float"
    numeric = True

    def _clean_text(self, text: str) -> float:
        return _parse_number(text, "bad_float", "number")

    def _clean_other(self, raw: object) -> float:
        return _real(raw, "bad_float", "number")

    def _fast_arrow(self, arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        ok = matches(arr, r"-?\d+(?:\.\d+)?")
        values = np.full(len(arr), np.nan)
        if ok.any():
            values[ok] = pc.cast(arr.filter(pa.array(ok)), pa.float64()).to_numpy(
                zero_copy_only=False
            )
        return ok, values
