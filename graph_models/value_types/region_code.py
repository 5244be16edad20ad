"""Region code (GB/T 2260)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph_models.value_types._base import (
    PROVINCE_PREFIXES,
    InvalidValue,
    ValueType,
    _integral_text,
    _is_missing,
    _normalise,
    digits_mask,
)
from graph_models.value_types._base import (
    PROVINCE_PREFIXES as _PROVINCES,
)


class RegionCodeType(ValueType):
    """6-digit GB/T 2260 region code; a 12-digit statistical code keeps its first 6 digits."""

    name = "region_code"
    reason = "bad_region"

    def split(self, raw: object) -> tuple[str | None, str | None]:
        """(6-digit region code, 12-digit village code or None); (None, None) when blank.

        Examples
        --------
        >>> from graph_models.value_types import TYPES
        >>> TYPES["region_code"].split("320102001001")
        ('320102', '320102001001')
        """
        if isinstance(raw, str):
            text = _normalise(raw)
        elif _is_missing(raw):
            return None, None
        else:
            text = _integral_text(raw, self.reason, "region code")
        if not text:
            return None, None
        if not (len(text) in (6, 12) and text.isascii() and text.isdigit()):
            raise InvalidValue(
                "bad_region", f"region code {text!r}: expected 6 or 12 digits (GB/T 2260)"
            )
        if text[:2] not in PROVINCE_PREFIXES:
            raise InvalidValue(
                "bad_region", f"region code {text!r}: unknown province prefix {text[:2]!r}"
            )
        return text[:6], (text if len(text) == 12 else None)

    def _clean_text(self, text: str) -> str | None:
        return self.split(text)[0]

    def _clean_other(self, raw: object) -> str | None:
        return self.split(raw)[0]

    def _fast_arrow(self, arr: pa.Array) -> tuple[np.ndarray, pa.Array]:
        return self.plain_mask(arr), pc.utf8_slice_codeunits(arr, 0, 6)

    @staticmethod
    def plain_mask(arr: pa.Array) -> np.ndarray:
        """Column kernel: True where a value is 6 or 12 ASCII digits with a known province."""
        digits = digits_mask(arr, (6, 12))
        if not digits.any():
            return digits
        prov = pc.utf8_slice_codeunits(arr, 0, 2)
        known = pc.is_in(prov, value_set=pa.array(sorted(_PROVINCES))).to_numpy(
            zero_copy_only=False
        )
        return digits & known

    def village_arrow(self, arr: pa.Array, valid: np.ndarray) -> np.ndarray:
        """12-digit village codes of the valid cells of a region-code column (None elsewhere)."""
        out = np.full(len(arr), None, dtype=object)
        plain = self.plain_mask(arr) & valid
        twelve = plain & (pc.utf8_length(arr).to_numpy(zero_copy_only=False) == 12)
        if twelve.any():
            out[twelve] = arr.filter(pa.array(twelve)).to_numpy(zero_copy_only=False)
        rest = np.flatnonzero(valid & ~plain)
        if rest.size:
            enc = pc.dictionary_encode(arr.take(pa.array(rest)))
            uniques = [self.split(u)[1] for u in enc.dictionary.to_pylist()]
            out[rest] = np.array([*uniques, None], dtype=object)[
                enc.indices.to_numpy(zero_copy_only=False)
            ]
        return out


REGION_CODE = RegionCodeType()


def split_region_code(raw: object) -> tuple[str | None, str | None]:
    """Split a region code cell into (6-digit code, 12-digit village code or None).

    Blank cells give ``(None, None)``; invalid ones raise ``InvalidValue("bad_region", ...)``.

    Examples
    --------
    >>> split_region_code("110105")
    ('110105', None)
    >>> split_region_code("110105001002")
    ('110105', '110105001002')
    """
    return REGION_CODE.split(raw)
