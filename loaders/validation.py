"""Validation of raw chunks as column kernels: every cell checked, every failure kept with a reason.

A row is rejected only for its **required** columns: a blank one (``missing_required``) or one that
fails its value type (the type's reason code, e.g. ``bad_checksum``). The first failing required
column (in contract order) is the row's reason; the message names every failing column. A failing
**optional** cell is blanked, the row is kept, and the cell is listed in ``blanked`` (line,
column, reason, raw value) and counted as a warning. Exact duplicate rows (identical raw cells) are
counted as ``duplicate`` and loaded once. Other warnings (Luhn failures, odd phone numbers) are
counted but never reject.

Identifiers that Excel turned into numbers are never loaded (``excel_damaged_id``): a cell in
scientific notation (``4.10322E+17``) always, and, in a column where far more IDs end in ``000``
than the 1-in-1,000 of real IDs (Excel keeps 15 significant digits), every ID ending in ``000``.

Text columns read from CSV and sheets are Arrow string arrays and go through the value types'
column kernels (``ValueType.clean_arrow_values``: the clean values come back as Arrow arrays, so
a valid cell never becomes a Python object, and the clean rows are an Arrow table); a DataFrame
of Python objects (callers, tests) goes through ``clean_series``. Both give the same values,
reasons and messages.

Examples
--------
>>> import pandas as pd
>>> from loaders.contract import CONTRACT
>>> raw = pd.DataFrame({"person_id": ["11010519491231002X", "110105194912310021", ""],
...                     "death_date": ["2021-03-02", "2021/3/2", "2021-03-02"], "_line": [2, 3, 4]})
>>> v = validate_chunk(raw, CONTRACT["deaths"], DuplicateTracker())
>>> v.clean["person_id"].to_pylist(), v.rejects["reason"].tolist()
(['11010519491231002X'], ['bad_checksum', 'missing_required'])
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph_models.errors import DataError
from graph_models.value_types import ValueType, split_region_code
from graph_models.value_types._base import as_string_array, matches
from graph_models.value_types.amount import AmountType
from graph_models.value_types.names import name_key
from loaders.contract import TableSpec

__all__ = [
    "BLANKED_COLUMNS",
    "EXCEL_DAMAGED",
    "REJECT_COLUMNS",
    "DuplicateTracker",
    "FilePlan",
    "IdentityTracker",
    "ValidatedChunk",
    "check_columns",
    "plan_file",
    "validate_chunk",
]

REJECT_COLUMNS = ["line", "reason", "column", "message"]
BLANKED_COLUMNS = ["line", "column", "reason", "message", "raw_value"]
#: A column whose every non-blank value fails (at least this many) is a wrong-typed column.
WRONG_TYPE_MIN_VALUES = 20
#: reason code of an identifier Excel stored as a number
EXCEL_DAMAGED = "excel_damaged_id"
#: value types whose values are long digit strings Excel damages
_ID_TYPES = ("person_id", "uscc", "account_no", "entity_ref")
_SCIENTIFIC = r"\s*[+-]?\d+(?:\.\d*)?[eE][+-]?\d+\s*"
_ZEROED = r"\s*\d{13,22}000\s*"
#: a column is Excel-damaged when this many IDs ending in 000 would happen by chance less often
_DAMAGE_P = 1e-9


def _excel_message(raw: str, zeroed: bool) -> str:
    what = (
        "ends in 000 like most IDs in this column: Excel keeps 15 significant digits and "
        "replaced the last ones with zeros"
        if zeroed
        else "is in scientific notation: Excel turned the ID into a number"
    )
    return (
        f"ID {raw!r} {what}; the real ID cannot be recovered from this file. Format the column as "
        "Text before pasting or typing IDs, or export from the source system straight to CSV "
        "without opening it in Excel, then send the file again"
    )


class DuplicateTracker:
    """Remembers 64-bit hashes of the rows seen so far in one table (O(n) memory).

    The hashes are kept as a few sorted runs, a new run merged into the last while that is no
    larger (as a binary counter carries), so each hash is copied O(log n) times in all, and a
    chunk is looked up in sorted order (see :meth:`mark`). One sorted array, re-sorted with
    every chunk and searched in hash order, took 20.7 s for 12.7 million rows in chunks of
    50,000; this takes 6.4 s.

    Examples
    --------
    >>> d = DuplicateTracker()
    >>> d.mark(np.array([5, 3, 5], dtype=np.uint64)).tolist(), d.mark(np.array([3, 9], dtype=np.uint64)).tolist()
    ([False, False, True], [True, False])
    >>> d.seen.tolist()
    [3, 5, 9]
    """

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []
        self.chunks = 0

    @property
    def seen(self) -> np.ndarray:
        """Every hash seen, sorted and distinct."""
        if len(self._runs) > 1:
            self._runs = [np.sort(np.concatenate(self._runs), kind="stable")]
        return self._runs[0] if self._runs else np.empty(0, dtype=np.uint64)

    @seen.setter
    def seen(self, hashes: np.ndarray) -> None:
        self._runs = [np.asarray(hashes, dtype=np.uint64)] if len(hashes) else []

    def mark(self, hashes: np.ndarray) -> np.ndarray:
        """Boolean mask of hashes already seen (earlier chunks or earlier in this chunk)."""
        hashes = np.asarray(hashes, dtype=np.uint64)
        # looked up in sorted order: the searches then walk each run forwards (in hash order
        # they jump about a large run, a cache miss at every step: four times slower)
        order = np.argsort(hashes, kind="stable")
        ordered = hashes[order]
        dup_ordered = np.zeros(len(hashes), dtype=bool)
        dup_ordered[1:] = ordered[1:] == ordered[:-1]  # stable: the first of equal rows stays
        for run in self._runs:
            pos = np.searchsorted(run, ordered)
            pos[pos >= len(run)] = 0
            dup_ordered |= run[pos] == ordered
        dup = np.empty(len(hashes), dtype=bool)
        dup[order] = dup_ordered
        fresh = ordered[~dup_ordered]  # sorted and distinct
        if fresh.size:
            self._runs.append(fresh)
            while len(self._runs) > 1 and len(self._runs[-2]) <= len(self._runs[-1]):
                last = self._runs.pop()
                self._runs[-1] = np.sort(np.concatenate([self._runs[-1], last]), kind="stable")
        return dup


@dataclass
class FilePlan:
    """Per-file decisions made on whole columns before chunks are validated."""

    types: dict[str, ValueType] = field(default_factory=dict)  # column -> type (units applied)
    damaged: dict[str, int] = field(default_factory=dict)  # column -> IDs ending in 000
    checked: bool = False  # the wrong-typed-column check ran (on the file's first chunk)


@dataclass
class ValidatedChunk:
    clean: pa.Table  # canonical typed values, extras kept, provenance `_line`
    rejects: pd.DataFrame  # REJECT_COLUMNS + the raw cells
    read: int = 0
    duplicate: int = 0
    warnings: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    blanked: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BLANKED_COLUMNS))


def check_columns(spec: TableSpec, columns: list[str], file_name: str) -> None:
    """Raise DataError when a required contract column is absent from the file."""
    missing = [c for c in spec.required if c not in columns]
    if missing:
        want = ", ".join(f"{c} ({spec.columns[c].zh})" for c in missing)
        have = ", ".join(c for c in columns if c != "_line")
        raise DataError(
            "missing_column",
            f"{file_name}: required column(s) {want} not found; headers are: {have}",
        )


def plan_file(data: pa.Table, spec: TableSpec, units: dict[str, int] | None = None) -> FilePlan:
    """Decide per-column rules from the whole file: units, Excel-damaged ID columns."""
    plan = FilePlan()
    for name, unit in (units or {}).items():
        col = spec.columns.get(name)
        if col is not None and col.type_name == "amount" and unit != 1:
            plan.types[name] = AmountType(unit)
    for name, col in spec.columns.items():
        if col.type_name not in _ID_TYPES or name not in data.column_names:
            continue
        arr = as_string_array(data.column(name))
        length = pc.utf8_length(arr)
        long_ids = pc.and_(
            pc.and_(pc.greater_equal(length, 16), pc.less_equal(length, 25)),
            pc.ascii_is_decimal(arr),
        )
        n_long = int(pc.sum(long_ids).as_py() or 0)
        if n_long == 0:
            continue
        zeroed = int(pc.sum(pc.and_(long_ids, pc.ends_with(arr, "000"))).as_py() or 0)
        if zeroed >= 3 and _binomial_tail(zeroed, n_long, 0.001) < _DAMAGE_P:
            plan.damaged[name] = zeroed
    return plan


def _binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in logs from k (the terms fall fast past n*p)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    total = 0.0
    for i in range(k, min(n, k + 400) + 1):
        log_term = (
            math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
            + i * math.log(p) + (n - i) * math.log1p(-p)
        )  # fmt: skip
        term = math.exp(log_term)
        total += term
        if term < total * 1e-12:
            break
    return min(total, 1.0)


def _raw_text(v: object) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    return str(v)


def _isna(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    return pd.isna(values)


_DUCK = None


def _row_hashes(raw: pa.Table | pd.DataFrame) -> np.ndarray:
    """64-bit hash of each row's raw cells."""
    global _DUCK
    cols = [c for c in (raw.column_names if isinstance(raw, pa.Table) else raw.columns)
            if c != "_line"]  # fmt: skip
    if isinstance(raw, pa.Table):
        import duckdb

        if _DUCK is None:
            _DUCK = duckdb.connect()
        if not cols:
            return np.zeros(raw.num_rows, dtype=np.uint64)
        t = raw.select(cols).rename_columns([f"c{i}" for i in range(len(cols))])
        args = ", ".join(f"c{i}" for i in range(len(cols)))
        _DUCK.register("rows_to_hash", t)
        try:
            h = _DUCK.execute(f"SELECT hash({args}) AS h FROM rows_to_hash").fetchnumpy()["h"]
        finally:
            _DUCK.unregister("rows_to_hash")
        return h.astype(np.uint64)
    frame = {}
    for c in cols:
        col = raw[c]
        if pd.api.types.infer_dtype(col, skipna=False) != "string":
            col = col.map(_raw_text)
        frame[c] = col
    return pd.util.hash_pandas_object(pd.DataFrame(frame), index=False).to_numpy(dtype=np.uint64)


def _typed(values: np.ndarray, type_name: str) -> pd.Series | np.ndarray:
    if type_name == "date":
        return values  # ISO text: clean_arrow gives it, _clean_column converts the rest
    if type_name in ("amount", "pct", "float"):
        if values.dtype.kind == "f":
            return values
        return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy("float64")
    if type_name == "int":
        return pd.array(pd.Series(values, dtype=object), dtype="Int64")
    return values


def _clean_column(
    raw: pa.Table | pd.DataFrame, name: str, vtype: ValueType
) -> tuple[np.ndarray | pa.Array, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(values, reasons, messages, present mask, failed mask) of one column: values as Arrow
    when read as Arrow (a numpy array for a type Arrow cannot hold, and from a DataFrame)."""
    if isinstance(raw, pa.Table):
        if vtype.arrow_type is not None:
            return vtype.clean_arrow_values(raw.column(name))
        return vtype.clean_arrow_masks(raw.column(name))
    values, reasons, msgs = vtype.clean_series(raw[name])
    if vtype.name == "date":
        values = values.map(lambda v: v.isoformat() if isinstance(v, dt.date) else v)
    if getattr(vtype, "numeric", False):
        values = pd.to_numeric(values, errors="coerce").to_numpy("float64")
    else:
        values = values.to_numpy(dtype=object)
    reasons = reasons.to_numpy(dtype=object).copy()
    return (
        values.copy(),
        reasons,
        msgs.to_numpy(dtype=object).copy(),
        ~_isna(values),
        ~_isna(reasons),
    )


def _arrow_column(values: object) -> pa.Array | pa.ChunkedArray:
    """A validated column as Arrow (NaN and None become null)."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    return pa.array(values, from_pandas=True)


def _excel_damage(
    arr: pa.Array, failed: np.ndarray, whole_column: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(damaged mask, zeroed mask) for an ID column.

    Scientific notation never passes an ID type, so only failed cells are searched for it; IDs
    ending in 000 are searched for only in a column found damaged as a whole.
    """
    n = len(arr)
    sci = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(failed)
    if idx.size:
        sci[idx] = matches(arr.take(pa.array(idx)), _SCIENTIFIC)
    zeroed = matches(arr, _ZEROED) if whole_column else np.zeros(n, dtype=bool)
    return sci | zeroed, zeroed & ~sci


def validate_chunk(
    raw: pd.DataFrame | pa.Table,
    spec: TableSpec,
    dups: DuplicateTracker,
    plan: FilePlan | None = None,
) -> ValidatedChunk:
    """Validate one raw chunk (see module docstring). ``raw`` must carry ``_line``."""
    plan = plan or FilePlan()
    arrow = isinstance(raw, pa.Table)
    names = list(raw.column_names if arrow else raw.columns)
    n = raw.num_rows if arrow else len(raw)
    bad_shape = [] if arrow else raw.attrs.get("bad_shape", [])
    lines = (raw.column("_line").to_numpy() if arrow else raw["_line"].to_numpy()).astype("int64")
    reason = np.full(n, None, dtype=object)
    has_reason = np.zeros(n, dtype=bool)
    column = np.full(n, None, dtype=object)
    messages: dict[int, list[str]] = {}
    out: dict[str, object] = {}
    warnings: Counter = Counter()
    blanked: list[pd.DataFrame] = []
    first_chunk = not plan.checked
    plan.checked = True
    for name, col in spec.columns.items():
        if name not in names:
            out[name] = np.full(n, None, dtype=object)
            if col.type_name == "entity_ref":
                out[f"{name}__kind"] = np.full(n, None, dtype=object)
            continue
        vtype = plan.types.get(name, col.vtype)
        values, reasons, msgs, present, failed = _clean_column(raw, name, vtype)
        if col.type_name in _ID_TYPES:
            arr = as_string_array(raw.column(name) if arrow else pa.array(
                raw[name].map(_raw_text).to_numpy(dtype=object), pa.string()))  # fmt: skip
            damaged, zeroed = _excel_damage(arr, failed, name in plan.damaged)
            if damaged.any():
                texts = arr.filter(pa.array(damaged)).to_pylist()
                zs = zeroed[damaged]
                if isinstance(values, pa.Array):
                    values = pc.if_else(pa.array(damaged), pa.scalar(None, values.type), values)
                else:
                    values[damaged] = np.nan if values.dtype.kind == "f" else None
                reasons[damaged] = EXCEL_DAMAGED
                msgs[damaged] = [_excel_message(t, z) for t, z in zip(texts, zs, strict=True)]
                present &= ~damaged
                failed |= damaged
        if col.type_name == "region_code" and name == "region_code":
            valid = ~failed & present
            if arrow:
                out["village_code"] = col.vtype.village_arrow(
                    as_string_array(raw.column(name)), valid
                )
            else:
                cells = raw[name].where(valid, None)
                out["village_code"] = np.array(
                    [split_region_code(c)[1] if ok else None for c, ok in zip(cells, valid, strict=True)],
                    dtype=object,
                )  # fmt: skip
        if col.required:
            blank = ~present & ~failed
            if blank.any():
                reasons[blank] = "missing_required"
                msgs[blank] = f"{name} ({col.zh}) is required but blank"
                failed = failed | blank
        if failed.any():
            n_failed = int((failed & (reasons != "missing_required")).sum())
            if first_chunk and n_failed >= WRONG_TYPE_MIN_VALUES:
                if arrow:
                    trimmed = pc.utf8_trim_whitespace(as_string_array(raw.column(name)))
                    nonblank = int(pc.sum(pc.not_equal(trimmed, "")).as_py() or 0)
                else:
                    nonblank = int((raw[name].map(_raw_text).str.strip() != "").sum())
                if nonblank >= WRONG_TYPE_MIN_VALUES and n_failed == nonblank:
                    i = int(np.flatnonzero(failed)[0])
                    example = raw.column(name)[i].as_py() if arrow else raw[name].iloc[i]
                    raise DataError(
                        "wrong_type_column",
                        f"{spec.name}.{name}: none of {nonblank} values is a valid "
                        f"{col.type_name} (e.g. {example!r}: {msgs[i]}); is the column mapped "
                        "correctly?",
                    )
            idx = np.flatnonzero(failed)
            if col.required:
                first = failed & ~has_reason
                has_reason |= first
                reason[first] = reasons[first]
                column[first] = name
                for i in idx.tolist():
                    messages.setdefault(i, []).append(str(msgs[i]))
            else:
                raw_vals = (raw.column(name).take(pa.array(idx)).to_pylist() if arrow
                            else [_raw_text(v) for v in raw[name].to_numpy()[idx]])  # fmt: skip
                blanked.append(pd.DataFrame({
                    "line": lines[idx], "column": name, "reason": reasons[idx],
                    "message": msgs[idx], "raw_value": raw_vals,
                }))  # fmt: skip
                warnings.update(Counter(reasons[idx].tolist()))
        if col.type_name == "entity_ref":
            out[name] = np.array([r.id if r is not None else None for r in values], dtype=object)
            out[f"{name}__kind"] = np.array(
                [r.kind if r is not None else None for r in values], dtype=object
            )
        elif isinstance(values, pa.Array):
            out[name] = values  # typed by the value type
        else:
            out[name] = _typed(values, col.type_name)
        ok = ~failed & present
        if ok.any() and type(col.vtype).warnings is not ValueType.warnings:
            if isinstance(values, pa.Array):
                ok_values = pd.Series(
                    values.filter(pa.array(ok)).to_numpy(zero_copy_only=False), dtype=object
                )
            else:
                ok_values = pd.Series(values[ok], dtype=object)
            w_reasons, _ = col.vtype.warnings_series(ok_values)
            for r, c in w_reasons.dropna().value_counts().items():
                warnings[str(r)] += int(c)
    rejected = has_reason
    raw_names = [c for c in names if c != "_line"]
    rej_idx = np.flatnonzero(rejected)
    rej = pd.DataFrame(
        {
            "line": lines[rejected],
            "reason": reason[rejected],
            "column": column[rejected],
            "message": ["; ".join(messages.get(i, [])) for i in rej_idx.tolist()],
        }
    )
    if arrow:
        cells = raw.select(raw_names).take(pa.array(rej_idx))
        raw_cells = pd.DataFrame({c: cells.column(c).to_pylist() for c in raw_names})
    else:
        raw_cells = raw[raw_names][rejected].reset_index(drop=True).map(_raw_text)
    rej = pd.concat([rej, raw_cells], axis=1) if len(raw_names) else rej
    if bad_shape:
        width = len(raw_names)
        shape_rows = pd.DataFrame(
            {
                "line": [ln for ln, _ in bad_shape],
                "reason": "bad_row_shape",
                "column": None,
                "message": [
                    f"{len(rec)} fields where the header has {width}" for _, rec in bad_shape
                ],
                "raw": [json.dumps(rec, ensure_ascii=False) for _, rec in bad_shape],
            }
        )
        rej = pd.concat([rej, shape_rows], ignore_index=True)
    keep = ~rejected
    dup_mask = np.zeros(n, dtype=bool)
    if keep.any():
        kept = raw.filter(pa.array(keep)) if arrow else raw[keep]
        dup_mask[np.flatnonzero(keep)] = dups.mark(_row_hashes(kept))
    dups.chunks += 1
    loaded = keep & ~dup_mask
    # the clean rows as Arrow: values the column kernels gave as Arrow never become Python objects
    columns = {k: _arrow_column(v) for k, v in out.items()}
    for c in (c for c in raw_names if c not in spec.columns):
        if arrow:
            vals = as_string_array(raw.column(c))
            columns[c] = pc.if_else(pc.equal(vals, ""), pa.scalar(None, pa.string()), vals)
        else:
            columns[c] = pa.array(
                raw[c].map(lambda v: _raw_text(v) or None).to_numpy(dtype=object), pa.string()
            )
    columns["_line"] = pa.array(lines)
    clean = pa.table(columns)
    if not loaded.all():
        clean = clean.filter(pa.array(loaded))
    return ValidatedChunk(
        clean=clean,
        rejects=rej,
        read=n + len(bad_shape),
        duplicate=int(dup_mask.sum()),
        warnings=warnings,
        reasons=Counter(rej["reason"].tolist()),
        blanked=(
            pd.concat(blanked, ignore_index=True)
            if blanked
            else pd.DataFrame(columns=BLANKED_COLUMNS)
        ),
    )


class IdentityTracker:
    """One resident ID, one person: rows that give an ID already seen a different name are refused.

    Names are compared by :func:`~graph_models.value_types.names.name_key` (interior spaces of a
    Chinese name do not matter). The first record of an ID is loaded; a later record with another
    name is rejected as ``identity_conflict`` with a message naming the first record (file, line,
    name), and both are listed in :attr:`conflicts`; a person is never renamed or merged.
    """

    def __init__(self, id_column: str = "person_id", name_column: str = "name") -> None:
        self.id_column = id_column
        self.name_column = name_column
        #: resident ID -> (name key, name, file, line) of its first record: a dict, so a chunk's
        #: lookups cost its own rows (re-indexing a growing frame every chunk was quadratic: a
        #: 3.2-million-row persons file spent over ten minutes here)
        self.known: dict[object, tuple[object, object, str, object]] = {}
        self.conflicts: list[dict[str, object]] = []

    def check(self, v: ValidatedChunk, file_name: str) -> ValidatedChunk:
        c = v.clean
        if (
            not len(c)
            or self.id_column not in c.column_names
            or self.name_column not in c.column_names
        ):
            return v

        def column(name: str) -> pd.Series:
            return pd.Series(c.column(name).to_numpy(zero_copy_only=False), dtype=object)

        names = column(self.name_column)
        keys = names.map(name_key)
        frame = pd.DataFrame({"id": column(self.id_column), "key": keys, "name": names,
                              "line": c.column("_line").to_numpy()})  # fmt: skip
        known = self.known
        ref_key = np.array(
            [known[i][0] if i in known else None for i in frame["id"].to_numpy(dtype=object)],
            dtype=object,
        )
        first_here = frame.groupby("id", sort=False).transform("first")
        unseen = pd.isna(ref_key)
        ref_key[unseen] = first_here["key"].to_numpy(dtype=object)[unseen]
        conflict = frame["key"].to_numpy(dtype=object) != ref_key
        fresh = frame[unseen & ~conflict].drop_duplicates("id")
        for pid, key, name, line in fresh[["id", "key", "name", "line"]].itertuples(index=False):
            known[pid] = (key, name, file_name, line)
        if not conflict.any():
            return v
        rows = []
        for pid, name, line in frame.loc[conflict, ["id", "name", "line"]].itertuples(index=False):
            _, first_name, first_file, first_line = known[pid]
            first = {"file": first_file, "line": first_line, "name": first_name}
            msg = (
                f"resident ID {pid} is also on {first['file']} line {int(first['line'])} with "
                f"the name {first['name']!r}, here {name!r}: one ID cannot belong to two people; "
                "check both records against the ID card and correct the wrong one"
            )
            self.conflicts.append({
                "person_id": pid,
                "first": {"file": first["file"], "line": int(first["line"]), "name": first["name"]},
                "other": {"file": file_name, "line": int(line), "name": name},
            })  # fmt: skip
            rows.append({"line": int(line), "reason": "identity_conflict",
                         "column": self.name_column, "message": msg})  # fmt: skip
        raw_cols = [col for col in v.rejects.columns if col not in REJECT_COLUMNS]
        extra = pd.DataFrame(rows)
        conflicted = c.filter(pa.array(conflict))
        for col in raw_cols:
            if col in conflicted.column_names:
                extra[col] = [_raw_text(x) for x in conflicted.column(col).to_pylist()]
        v.rejects = pd.concat([v.rejects, extra], ignore_index=True)
        v.reasons = Counter(v.rejects["reason"].tolist())
        v.clean = c.filter(pa.array(~conflict))
        return v
