"""Bank account numbers (Luhn as a warning)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from graph_models.value_types._base import (
    _ACCOUNT_SEPARATORS,
    InvalidValue,
    ValueType,
    ValueWarning,
    _factorize,
    _integral_text,
    digits_mask,
)


def _luhn_ok_many(values: Sequence[str]) -> np.ndarray:
    """Luhn check of many digit strings at once (vectorised per length); the one Luhn rule."""
    out = np.zeros(len(values), dtype=bool)
    by_len: dict[int, list[int]] = {}
    for i, v in enumerate(values):
        by_len.setdefault(len(v), []).append(i)
    for length, idx in by_len.items():
        if length == 0:
            continue
        digits = (
            np.frombuffer("".join(values[i] for i in idx).encode("ascii"), dtype=np.uint8)
            .reshape(len(idx), length)
            .astype(np.int64)
            - 48
        )[:, ::-1]
        doubled = digits[:, 1::2] * 2
        doubled -= np.where(doubled > 9, 9, 0)
        total = digits[:, 0::2].sum(axis=1) + doubled.sum(axis=1)
        out[idx] = total % 10 == 0
    return out


def _luhn_ok(digits: str) -> bool:
    return bool(_luhn_ok_many([digits])[0])


class AccountNoType(ValueType):
    """Bank account number: 10-25 digits once spaces and dashes are removed.

    A Luhn failure is only a warning: many corporate and passbook accounts carry no Luhn digit.
    """

    name = "account_no"
    reason = "bad_account"

    def _clean_text(self, text: str) -> str:
        digits = _ACCOUNT_SEPARATORS.sub("", text)
        if not (10 <= len(digits) <= 25 and digits.isascii() and digits.isdigit()):
            raise InvalidValue(
                "bad_account", f"account number {text!r}: expected 10-25 digits (spaces, dashes ok)"
            )
        return digits

    def _clean_other(self, raw: object) -> str:
        return self._clean_text(_integral_text(raw, self.reason, "account number"))

    def _fast_arrow(self, arr: pa.Array) -> tuple[np.ndarray, pa.Array]:
        return digits_mask(arr, range(10, 26)), arr

    def warnings(self, value: object) -> list[ValueWarning]:
        """``luhn_failed`` when the account number fails the Luhn check.

        Examples
        --------
        >>> from graph_models.value_types import TYPES
        >>> TYPES["account_no"].warnings("6222020200112233446")
        []
        """
        if isinstance(value, str) and value and not _luhn_ok(value):
            return [ValueWarning("luhn_failed", f"account number {value!r} fails the Luhn check")]
        return []

    def warnings_series(self, values: pd.Series) -> tuple[pd.Series, pd.Series]:
        """Vectorised ``warnings`` (same rule through ``_luhn_ok_many``)."""
        codes, uniques = _factorize(values)
        strs = [u if isinstance(u, str) and u.isascii() and u.isdigit() else "" for u in uniques]
        ok = _luhn_ok_many(strs) | np.array([s == "" for s in strs], dtype=bool)
        reason = np.array([None if good else "luhn_failed" for good in ok] + [None], dtype=object)
        message = np.array(
            [
                None if good else f"account number {u!r} fails the Luhn check"
                for u, good in zip(uniques, ok, strict=True)
            ]
            + [None],
            dtype=object,
        )
        return (
            pd.Series(reason.take(codes), index=values.index, name=values.name, dtype=object),
            pd.Series(message.take(codes), index=values.index, name=values.name, dtype=object),
        )
