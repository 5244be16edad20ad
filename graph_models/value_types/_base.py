"""The base of every value type: the reason codes, ``InvalidValue``, ``ValueType`` and helpers."""

from __future__ import annotations

import math
import numbers
import re
import unicodedata
from decimal import Decimal
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Every reason code a value type can report (rejects and warnings), as named in the data contract.
REASON_CODES = frozenset(
    {
        "bad_length",
        "bad_region",
        "bad_birth_date",
        "bad_checksum",
        "bad_charset",
        "bad_date",
        "bad_amount",
        "negative_amount",
        "bad_pct",
        "bad_account",
        "luhn_failed",
        "bad_phone",
        "bad_reference",
        "bad_int",
        "bad_float",
        "bad_bool",
        "bad_enum",
    }
)

#: GB/T 2260 province-level prefixes (the first two digits of a region code or resident ID).
PROVINCE_PREFIXES: frozenset[str] = frozenset(
    [str(p) for p in range(11, 16)]
    + [str(p) for p in range(21, 24)]
    + [str(p) for p in range(31, 38)]
    + [str(p) for p in range(41, 47)]
    + [str(p) for p in range(50, 55)]
    + [str(p) for p in range(61, 66)]
    + ["71", "81", "82"]
)

# A float holds every integer up to 2**53 exactly; beyond that an ID stored as a number lost digits.
_FLOAT_EXACT = 2**53
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_GROUPED_NUMBER = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?", re.ASCII)
_ACCOUNT_SEPARATORS = re.compile(r"[\s-]+")


class InvalidValue(ValueError):
    """A value that fails its type. ``reason`` is a contract reason code.

    Parameters
    ----------
    reason : str
        One of :data:`REASON_CODES`, e.g. ``"bad_checksum"``.
    message : str
        One line for a data engineer, quoting the offending value.

    Examples
    --------
    >>> from graph_models.value_types import TYPES
    >>> try:
    ...     TYPES["person_id"].clean("110105194912310021")
    ... except InvalidValue as exc:
    ...     exc.reason
    'bad_checksum'
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type[InvalidValue], tuple[str, str]]:
        # The default pickling replays ``args`` (the message only) and would lose the reason.
        return (type(self), (self.reason, self.message))


class ValueWarning(NamedTuple):
    """A value that is kept but looks suspicious (e.g. an account number failing Luhn)."""

    reason: str
    message: str


def _is_missing(raw: object) -> bool:
    if raw is None or raw is pd.NA or raw is pd.NaT:
        return True
    if isinstance(raw, float | np.floating):
        return bool(raw != raw)
    if isinstance(raw, np.datetime64 | np.timedelta64):
        return bool(np.isnat(raw))
    if isinstance(raw, Decimal):
        return raw.is_nan()
    return False


def _normalise(text: str) -> str:
    """Strip, and fold full-width digits, letters and punctuation to ASCII (NFKC)."""
    text = text.strip()
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).strip()
    return text


def _is_bool(raw: object) -> bool:
    return isinstance(raw, bool | np.bool_)


def _integral_text(raw: object, reason: str, what: str) -> str:
    """Digits of an identifier that a spreadsheet stored as a number."""
    if _is_bool(raw):
        raise InvalidValue(reason, f"{what} {raw!r}: a boolean is not an identifier")
    if isinstance(raw, numbers.Integral):
        return str(int(raw))
    if isinstance(raw, numbers.Real | Decimal):
        value = float(raw)
        if math.isfinite(value) and value.is_integer() and abs(value) <= _FLOAT_EXACT:
            return str(int(value))
        raise InvalidValue(
            reason,
            f"{what} {raw!r} was stored as a floating-point number and has lost digits; "
            "store identifiers as text",
        )
    raise InvalidValue(reason, f"{what} {raw!r}: expected text, got {type(raw).__name__}")


class ValueType:
    """Base of every value type: one ``clean`` rule, applied to cells and to whole columns.

    Subclasses implement ``_clean_text`` (for a stripped, NFKC-normalised, non-blank string) and,
    when numbers or timestamps are acceptable, ``_clean_other``.
    """

    name: str
    #: Reason code for a value of the wrong Python type.
    reason: str

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def clean(self, raw: object) -> object | None:
        """Canonical value; None for blank/missing (None, NaN, "", whitespace).

        Parameters
        ----------
        raw : object
            A cell as read from CSV, xlsx or parquet.

        Returns
        -------
        object or None
            The canonical value, or None when the cell is blank.

        Raises
        ------
        InvalidValue
            When the value fails the type; ``reason`` is the contract reason code.

        Examples
        --------
        >>> from graph_models.value_types import TYPES
        >>> TYPES["region_code"].clean("320102001001")
        '320102'
        >>> TYPES["text"].clean("   ") is None
        True
        """
        if isinstance(raw, str):
            text = _normalise(raw)
            return self._clean_text(text) if text else None
        if _is_missing(raw):
            return None
        return self._clean_other(raw)

    def _clean_text(self, text: str) -> object:
        raise NotImplementedError

    def _clean_other(self, raw: object) -> object:
        raise InvalidValue(
            self.reason, f"{self.name} {raw!r}: unexpected value of type {type(raw).__name__}"
        )

    def warnings(self, value: object) -> list[ValueWarning]:
        """Warnings about a canonical value that is kept (e.g. Luhn failure); [] by default.

        Examples
        --------
        >>> from graph_models.value_types import TYPES
        >>> TYPES["account_no"].warnings("6222020200112233441")
        [ValueWarning(reason='luhn_failed', message="account number '6222020200112233441' fails the Luhn check")]
        """
        return []

    def clean_series(self, s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
        """Vectorised ``clean``: (clean values, reason codes, messages), aligned with ``s``.

        Values are None where the cell is blank or invalid; reasons and messages are None where the
        cell is fine (or blank). ``clean`` runs once per distinct raw value and the results are
        mapped back, so the rule has exactly one implementation.

        Examples
        --------
        >>> from graph_models.value_types import TYPES
        >>> values, reasons, _ = TYPES["int"].clean_series(pd.Series(["1", "x", None, "1"]))
        >>> values.tolist(), reasons.tolist()
        ([1, None, None, 1], [None, 'bad_int', None, None])
        """
        codes, uniques = _factorize(s)
        results = self._clean_uniques(uniques)
        columns = [np.empty(len(results) + 1, dtype=object) for _ in range(3)]
        for i, triple in enumerate(results):
            for column, item in zip(columns, triple, strict=True):
                column[i] = item
        # Code -1 (a missing cell) takes the trailing None slot.
        return tuple(  # type: ignore[return-value]
            pd.Series(column.take(codes), index=s.index, name=s.name, dtype=object)
            for column in columns
        )

    def warnings_series(self, values: pd.Series) -> tuple[pd.Series, pd.Series]:
        """Vectorised ``warnings`` over clean values: (first warning reason, its message).

        Examples
        --------
        >>> from graph_models.value_types import TYPES
        >>> reasons, _ = TYPES["phone"].warnings_series(pd.Series(["13800138000", "025-1234"]))
        >>> reasons.tolist()
        [None, 'bad_phone']
        """
        codes, uniques = _factorize(values)
        columns = [np.empty(len(uniques) + 1, dtype=object) for _ in range(2)]
        for i, value in enumerate(uniques):
            found = self.warnings(value)
            if found:
                columns[0][i], columns[1][i] = found[0]
        return tuple(  # type: ignore[return-value]
            pd.Series(column.take(codes), index=values.index, name=values.name, dtype=object)
            for column in columns
        )

    def clean_arrow(self, arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, ...]:
        """Column kernel of ``clean`` for a string column: (values, reasons, messages) arrays.

        The same results as ``clean_series`` on the same strings, without a Python call per cell
        for values in the type's canonical shape: a type's ``_fast_arrow`` recognises, with numpy
        and Arrow compute, the values that are valid and computes their canonical form; every
        other distinct value (blank, odd spelling, invalid) goes through ``clean`` once.
        Values are an object array (None where blank or invalid), or float64 (NaN) for numbers.

        Examples
        --------
        >>> import pyarrow as pa
        >>> from graph_models.value_types import TYPES
        >>> values, reasons, _ = TYPES["person_id"].clean_arrow(
        ...     pa.array(["11010519491231002X", "11010519491231002x", "110105194912310021", ""]))
        >>> values.tolist(), reasons.tolist()
        (['11010519491231002X', '11010519491231002X', None, None], [None, None, 'bad_checksum', None])
        """
        return self.clean_arrow_masks(arr)[:3]

    def clean_arrow_masks(self, arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, ...]:
        """``clean_arrow`` plus two boolean masks: (values, reasons, messages, present, failed).

        ``present`` is True where a value came out, ``failed`` where a reason did, so callers need
        no per-cell test for None.
        """
        arr = as_string_array(arr)
        n = len(arr)
        numeric = self.numeric
        values = np.full(n, np.nan) if numeric else np.full(n, None, dtype=object)
        ok, fast = self._fast_arrow(arr)
        if ok is not None and ok.any():
            if isinstance(fast, pa.Array):
                values[ok] = fast.filter(pa.array(ok)).to_numpy(zero_copy_only=False)
            else:
                values[ok] = fast[ok]  # type: ignore[index]
        else:
            ok = None
        reasons, messages, present, failed, rest, u_vals, codes = self._clean_rest(arr, ok)
        if rest.size:
            u = np.full(len(u_vals), np.nan) if numeric else np.empty(len(u_vals), dtype=object)
            for i, v in enumerate(u_vals):  # element by element: a value may be a tuple
                u[i] = np.nan if numeric and v is None else self._arrow_value(v)
            values[rest] = u[codes]
        return values, reasons, messages, present, failed

    def clean_arrow_values(
        self, arr: pa.Array | pa.ChunkedArray
    ) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``clean_arrow_masks`` with the values as an Arrow array of :attr:`arrow_type` (null
        where blank or invalid): valid values in the type's canonical shape never become Python
        objects.

        Examples
        --------
        >>> import pyarrow as pa
        >>> from graph_models.value_types import TYPES
        >>> values, reasons, _, present, failed = TYPES["date"].clean_arrow_values(
        ...     pa.array(["2021/3/2", "2021-02-30", ""]))
        >>> values.to_pylist(), reasons.tolist(), present.tolist(), failed.tolist()
        (['2021-03-02', None, None], [None, 'bad_date', None], [True, False, False], [False, True, False])
        """
        if self.arrow_type is None:
            raise TypeError(f"{self.name} values have no Arrow type: use clean_arrow_masks")
        arr = as_string_array(arr)
        ok, fast = self._fast_arrow(arr)
        if ok is not None and ok.any():
            if not isinstance(fast, pa.Array):
                fast = pa.array(fast, type=self.arrow_type, from_pandas=True)
            elif fast.type != self.arrow_type:
                fast = fast.cast(self.arrow_type)
        else:
            ok, fast = None, None
        reasons, messages, present, failed, rest, u_vals, codes = self._clean_rest(arr, ok)
        if not rest.size:
            if fast is None:  # no rows
                fast = pa.nulls(len(arr), self.arrow_type)
            return fast, reasons, messages, present, failed
        slow = pa.array(
            [None if v is None else self._arrow_value(v) for v in u_vals], type=self.arrow_type
        ).take(pa.array(codes))
        values = slow if fast is None else pc.replace_with_mask(fast, pa.array(~ok), slow)
        return values, reasons, messages, present, failed

    def _clean_rest(
        self, arr: pa.Array, ok: np.ndarray | None
    ) -> tuple[
        np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[object], np.ndarray
    ]:
        """Reasons, messages, present and failed masks of every cell, with ``clean`` run once per
        distinct value outside ``ok`` (the rows the fast kernel accepted): also those rows'
        indices, the distinct values' clean values and each row's code into them."""
        n = len(arr)
        present = np.zeros(n, dtype=bool) if ok is None else ok.copy()
        failed = np.zeros(n, dtype=bool)
        reasons = np.full(n, None, dtype=object)
        messages = np.full(n, None, dtype=object)
        rest = np.arange(n) if ok is None else np.flatnonzero(~ok)
        if not rest.size:
            return reasons, messages, present, failed, rest, [], rest
        sub = arr.take(pa.array(rest)) if rest.size != n else arr
        enc = pc.dictionary_encode(sub)
        codes = enc.indices.to_numpy(zero_copy_only=False)
        results = self._clean_uniques(enc.dictionary.to_pylist())
        u_reasons = np.empty(len(results), dtype=object)
        u_messages = np.empty(len(results), dtype=object)
        u_reasons[:] = [r for _, r, _ in results]
        u_messages[:] = [m for _, _, m in results]
        u_present = np.array([v is not None for v, _, _ in results], dtype=bool)
        u_failed = np.array([r is not None for _, r, _ in results], dtype=bool)
        reasons[rest] = u_reasons[codes]
        messages[rest] = u_messages[codes]
        present[rest] = u_present[codes]
        failed[rest] = u_failed[codes]
        return reasons, messages, present, failed, rest, [v for v, _, _ in results], codes

    #: Arrow type of :meth:`clean_arrow_values` (None: values Arrow cannot hold, e.g. entity refs)
    arrow_type: pa.DataType | None = pa.string()

    #: True when ``clean_arrow`` returns float64 values (NaN for blank or invalid)
    numeric = False

    def _arrow_value(self, value: object) -> object:
        """How ``clean_arrow`` stores a value ``clean`` returned (dates become ISO text)."""
        return value

    def _fast_arrow(self, arr: pa.Array) -> tuple[np.ndarray | None, np.ndarray | pa.Array | None]:
        """(mask of values known valid, their canonical values) or (None, None): no kernel.

        The values (one per row; only those under the mask are used) are a numpy array or, better
        for text, an Arrow array of :attr:`arrow_type`."""
        return None, None

    def _clean_uniques(self, uniques: list[object]) -> list[tuple[object, str | None, str | None]]:
        results: list[tuple[object, str | None, str | None]] = []
        for raw in uniques:
            try:
                results.append((self.clean(raw), None, None))
            except InvalidValue as exc:
                results.append((None, exc.reason, exc.message))
        return results


def _factorize(s: pd.Series) -> tuple[np.ndarray, list[object]]:
    """Codes (-1 for missing) and one raw value per code, keeping 1, 1.0 and True apart."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    if s.dtype != object or len(uniques) == 0:
        return codes, list(uniques)
    # pandas hashes equal values of different types (1, 1.0, True) together, but a type may clean
    # them differently, so an object column is factorized on (value, Python type).
    cells = s.to_numpy(dtype=object)
    type_codes, kinds = pd.factorize(_type_of(cells))
    present = codes >= 0
    if len(np.unique(type_codes[present])) == 1:
        return codes, list(uniques)
    pair_codes, _ = pd.factorize(codes[present] * len(kinds) + type_codes[present])
    exact_codes = np.full(len(s), -1, dtype=np.intp)
    exact_codes[present] = pair_codes
    _, first = np.unique(pair_codes, return_index=True)
    return exact_codes, list(cells[present][first])


_type_of = np.frompyfunc(type, 1, 1)


def _parse_number(text: str, reason: str, what: str) -> float:
    if _NUMBER.fullmatch(text) is None:
        raise InvalidValue(reason, f"{what} {text!r}: not a number")
    value = float(text)
    if not math.isfinite(value):
        raise InvalidValue(reason, f"{what} {text!r}: not a finite number")
    return value


def _real(raw: object, reason: str, what: str) -> float:
    """A finite float from a numeric cell (not a boolean)."""
    if _is_bool(raw) or not isinstance(raw, numbers.Real | Decimal):
        raise InvalidValue(reason, f"{what} {raw!r}: unexpected value of type {type(raw).__name__}")
    value = float(raw)
    if not math.isfinite(value):
        raise InvalidValue(reason, f"{what} {raw!r}: not a finite number")
    return value


def as_string_array(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous ``string`` array without nulls (a null becomes "")."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    return arr


def fixed_width_bytes(arr: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(row indices whose value is exactly ``width`` bytes, those bytes as a uint8 matrix)."""
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    lengths = np.diff(offsets)
    rows = np.flatnonzero(lengths == width)
    data = arr.buffers()[2]
    if rows.size == 0 or data is None:
        return rows, np.zeros((0, width), dtype=np.uint8)
    buf = np.frombuffer(data, dtype=np.uint8)
    starts = offsets[rows].astype(np.int64)
    return rows, buf[starts[:, None] + np.arange(width)]


def digits_mask(arr: pa.Array, lengths: tuple[int, ...] | range) -> np.ndarray:
    """Boolean mask of values made of ASCII digits only, with one of the given lengths."""
    length = pc.binary_length(arr)
    lo, hi = min(lengths), max(lengths)
    ok = pc.and_(
        pc.ascii_is_decimal(arr), pc.and_(pc.greater_equal(length, lo), pc.less_equal(length, hi))
    )
    out = ok.to_numpy(zero_copy_only=False)
    if not isinstance(lengths, range) and len(lengths) != hi - lo + 1:
        out &= np.isin(length.to_numpy(zero_copy_only=False), list(lengths))
    return out


def matches(arr: pa.Array, pattern: str) -> np.ndarray:
    """Boolean mask of values that fully match an RE2 pattern."""
    return pc.match_substring_regex(arr, f"^(?:{pattern})$").to_numpy(zero_copy_only=False)


def days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Days of each (year, month) in the proleptic Gregorian calendar (month 1..12)."""
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    table = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    return table[np.clip(month, 0, 12)] + ((month == 2) & leap)
