"""Mainland mobile phone numbers (warnings only)."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph_models.value_types._base import (
    _ACCOUNT_SEPARATORS,
    InvalidValue,
    ValueType,
    ValueWarning,
    _integral_text,
    digits_mask,
)

_MOBILE = re.compile(r"1\d{10}", re.ASCII)
_MOBILE_PREFIXES = ("+86", "0086", "86")


class PhoneType(ValueType):
    """Mainland mobile number, 11 digits starting with 1.

    ``clean`` never rejects: the loader keeps the row either way. A mobile number loses its
    ``+86``/``0086``/``86`` prefix, spaces and dashes; anything else (a landline, "无") comes back with
    only spaces and dashes removed, and ``warnings`` reports it as ``bad_phone``.
    """

    name = "phone"
    reason = "bad_phone"

    def _clean_text(self, text: str) -> str:
        compact = _ACCOUNT_SEPARATORS.sub("", text)
        for prefix in _MOBILE_PREFIXES:
            if compact.startswith(prefix) and _MOBILE.fullmatch(compact[len(prefix) :]):
                return compact[len(prefix) :]
        return compact

    def _fast_arrow(self, arr: pa.Array) -> tuple[np.ndarray, pa.Array]:
        ok = digits_mask(arr, (11,)) & pc.starts_with(arr, "1").to_numpy(zero_copy_only=False)
        return ok, arr

    def _clean_other(self, raw: object) -> str:
        try:
            return self._clean_text(_integral_text(raw, "bad_phone", "phone"))
        except InvalidValue:
            return self._clean_text(str(raw))

    def warnings(self, value: object) -> list[ValueWarning]:
        """``bad_phone`` unless the value is an 11-digit mainland mobile number.

        Examples
        --------
        >>> from graph_models.value_types import TYPES
        >>> TYPES["phone"].warnings("13800138000")
        []
        """
        if isinstance(value, str) and _MOBILE.fullmatch(value):
            return []
        return [ValueWarning("bad_phone", f"phone {value!r} is not an 11-digit mainland mobile")]
