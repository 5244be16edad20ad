"""Unified social credit code (GB 32100)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph_models.value_types._base import (
    InvalidValue,
    ValueType,
    _integral_text,
    _normalise,
    fixed_width_bytes,
)

_USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {c: i for i, c in enumerate(_USCC_CHARSET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_LUT = np.full(256, -1, dtype=np.int32)
for _i, _c in enumerate(_USCC_CHARSET):
    _LUT[ord(_c)] = _i
    _LUT[ord(_c.lower())] = _i
_W = np.array(_USCC_WEIGHTS, dtype=np.int32)
_CHARSET_BYTES = np.frombuffer(_USCC_CHARSET.encode(), dtype=np.uint8)


def uscc_valid_mask(arr: pa.Array) -> np.ndarray:
    """Column kernel: True where a value is an 18-character USCC that ``clean`` accepts as
    written (any case, no spaces, correct GB 32100 check character)."""
    ok = np.zeros(len(arr), dtype=bool)
    rows, m = fixed_width_bytes(arr, 18)
    if not rows.size:
        return ok
    v = _LUT[m]
    good = (v >= 0).all(axis=1)
    expected = (31 - (np.clip(v[:, :17], 0, 30) * _W).sum(axis=1) % 31) % 31
    good &= v[:, 17] == expected
    ok[rows[good]] = True
    return ok


def uscc_check_char(body17: str) -> str:
    """GB 32100 check character for the first 17 characters of a USCC.

    Examples
    --------
    >>> uscc_check_char("91350100M000100Y4")
    '3'
    """
    if len(body17) != 17:
        raise InvalidValue("bad_length", f"USCC body {body17!r}: expected 17 characters")
    try:
        total = sum(_USCC_VALUES[c] * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    except KeyError as exc:
        raise InvalidValue(
            "bad_charset", f"USCC body {body17!r}: {exc.args[0]!r} is not a USCC character"
        ) from None
    return _USCC_CHARSET[(31 - total % 31) % 31]


def _uscc_candidate(text: str) -> str:
    return "".join(text.split()).upper()


def is_uscc_shape(raw: object) -> bool:
    """True when ``raw`` is 18 characters of the USCC charset (after upper-casing, spaces removed).

    Examples
    --------
    >>> is_uscc_shape("91350100m000100y43"), is_uscc_shape("91350100M000100I43")
    (True, False)
    """
    if not isinstance(raw, str):
        try:
            raw = _integral_text(raw, "bad_length", "USCC")
        except InvalidValue:
            return False
    code = _uscc_candidate(_normalise(raw))
    return len(code) == 18 and all(c in _USCC_VALUES for c in code)


class UsccType(ValueType):
    """Unified social credit code (GB 32100): 18 characters, upper case, no spaces."""

    name = "uscc"
    reason = "bad_length"

    def _clean_text(self, text: str) -> str:
        code = _uscc_candidate(text)
        if len(code) != 18:
            raise InvalidValue(
                "bad_length", f"USCC {text!r}: expected 18 characters, got {len(code)}"
            )
        wrong = sorted({c for c in code if c not in _USCC_VALUES})
        if wrong:
            raise InvalidValue(
                "bad_charset",
                f"USCC {text!r}: {''.join(wrong)!r} not in the USCC charset "
                f"{_USCC_CHARSET} (I, O, S, V, Z are never used)",
            )
        expected = uscc_check_char(code[:17])
        if code[17] != expected:
            raise InvalidValue(
                "bad_checksum",
                f"USCC {text!r}: check character should be {expected!r}, not {code[17]!r}",
            )
        return code

    def _clean_other(self, raw: object) -> str:
        return self._clean_text(_integral_text(raw, self.reason, "USCC"))

    def _fast_arrow(self, arr: pa.Array) -> tuple[np.ndarray, pa.Array]:
        return uscc_valid_mask(arr), pc.utf8_upper(arr)


USCC = UsccType()
