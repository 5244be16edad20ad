"""Free text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph_models.value_types._base import ValueType, _is_missing

# characters str.strip() removes that Arrow's utf8_trim_whitespace may keep: a value holding one
# goes through `clean` (so the rule stays Python's)
_PY_ONLY_SPACE = ("\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\x0b", "\x0c")


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
        # nothing for Arrow to trim, not empty, and none of the few characters Python also strips
        length = pc.binary_length(arr)
        ok = pc.and_(
            pc.equal(pc.binary_length(pc.utf8_trim_whitespace(arr)), length), pc.greater(length, 0)
        ).to_numpy(zero_copy_only=False)
        for ch in _PY_ONLY_SPACE:
            ok &= ~pc.match_substring(arr, ch).to_numpy(zero_copy_only=False)
        return ok, arr.to_numpy(zero_copy_only=False)
