"""Free text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from graph_models.value_types._base import ValueType, _is_missing, matches

# every character str.strip() removes (str.isspace), as an RE2 class
_PY_SPACE = (
    r"[\t\n\x{0b}\x{0c}\r\x{1c}-\x{1f} \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}"
    r"\x{2029}\x{202f}\x{205f}\x{3000}]"
)


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

    def _fast_arrow(self, arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        # a value with nothing to strip is its own canonical form
        ok = ~matches(arr, f"(?s:{_PY_SPACE}.*|.*{_PY_SPACE}|)")
        return ok, arr.to_numpy(zero_copy_only=False)
