"""Free text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph_models.value_types._base import ValueType, _is_missing, as_string_array


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

    def clean_arrow_masks(self, arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, ...]:
        """``clean_arrow_values`` with the values as an object array (None where blank)."""
        values, *rest = self.clean_arrow_values(arr)
        return (values.to_numpy(zero_copy_only=False), *rest)

    def clean_arrow_values(
        self, arr: pa.Array | pa.ChunkedArray
    ) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Trimmed text, null where blank. Arrow's ``utf8_trim_whitespace`` strips exactly what
        ``str.strip`` strips (every character ``str.isspace`` accepts; a test checks it), so no
        value needs Python."""
        trimmed = pc.utf8_trim_whitespace(as_string_array(arr))
        has_text = pc.greater(pc.binary_length(trimmed), 0)
        values = pc.if_else(has_text, trimmed, pa.scalar(None, pa.string()))
        n = len(values)
        none = np.full(n, None, dtype=object)
        present = has_text.to_numpy(zero_copy_only=False)
        return values, none, none.copy(), present, np.zeros(n, dtype=bool)
