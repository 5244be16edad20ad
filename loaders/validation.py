"""Lazy validation of raw chunks: every cell checked, every failure kept with a reason code.

A row is rejected when a required field is blank (``missing_required``), when any contract field
fails its value type (the type's reason code, e.g. ``bad_checksum``), or when a CSV record has the
wrong number of fields (``bad_row_shape``). The first failing column (in contract order) is the
row's reason; the message names every failing column. Exact duplicate rows (identical raw cells)
are counted as ``duplicate`` and loaded once. Warnings (Luhn failures, odd phone numbers) are
counted but never reject.

Examples
--------
>>> import pandas as pd
>>> from loaders.contract import CONTRACT
>>> raw = pd.DataFrame({"person_id": ["11010519491231002X", "110105194912310021", ""],
...                     "death_date": ["2021-03-02", "2021/3/2", "2021-03-02"], "_line": [2, 3, 4]})
>>> v = validate_chunk(raw, CONTRACT["deaths"], DuplicateTracker())
>>> v.clean["person_id"].tolist(), v.rejects["reason"].tolist()
(['11010519491231002X'], ['bad_checksum', 'missing_required'])
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from graph_models.errors import DataError
from graph_models.value_types import split_region_code
from loaders.contract import TableSpec

__all__ = [
    "REJECT_COLUMNS",
    "DuplicateTracker",
    "ValidatedChunk",
    "check_columns",
    "validate_chunk",
]

REJECT_COLUMNS = ["line", "reason", "column", "message"]
#: A column whose every non-blank value fails (at least this many) is a wrong-typed column.
WRONG_TYPE_MIN_VALUES = 20


class DuplicateTracker:
    """Remembers 64-bit hashes of the rows seen so far in one table (sorted array; O(n) memory)."""

    def __init__(self) -> None:
        self.seen = np.empty(0, dtype=np.uint64)

    def mark(self, hashes: np.ndarray) -> np.ndarray:
        """Boolean mask of hashes already seen (earlier chunks or earlier in this chunk)."""
        pos = np.searchsorted(self.seen, hashes)
        pos[pos >= len(self.seen)] = 0
        before = (self.seen[pos] == hashes) if len(self.seen) else np.zeros(len(hashes), bool)
        within = pd.Series(hashes).duplicated().to_numpy()
        dup = before | within
        fresh = np.unique(hashes[~dup])
        self.seen = np.sort(np.concatenate([self.seen, fresh]), kind="stable")
        return dup


@dataclass
class ValidatedChunk:
    clean: pd.DataFrame  # canonical typed values, extras kept, provenance `_line`
    rejects: pd.DataFrame  # REJECT_COLUMNS + the raw cells
    read: int = 0
    duplicate: int = 0
    warnings: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)


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


def _raw_text(v: object) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    return str(v)


def _row_hashes(raw: pd.DataFrame) -> np.ndarray:
    """64-bit hash of each row's raw cells (CSV cells are strings already: no per-cell work)."""
    cols = {}
    for c in raw.columns:
        if c == "_line":
            continue
        col = raw[c]
        if pd.api.types.infer_dtype(col, skipna=False) != "string":
            col = col.map(_raw_text)
        cols[c] = col
    return pd.util.hash_pandas_object(pd.DataFrame(cols), index=False).to_numpy(dtype=np.uint64)


def _typed(values: pd.Series, type_name: str) -> pd.Series:
    if type_name == "date":
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        iso = np.array([d.isoformat() for d in uniques] + [None], dtype=object)
        return pd.Series(iso.take(codes), index=values.index, dtype=object)
    if type_name in ("amount", "pct", "float"):
        return pd.to_numeric(values, errors="coerce").astype("float64")
    if type_name == "int":
        return values.astype("Int64")
    if type_name == "bool":
        # Python True/False/None, as the Neo4j store returns them: a nullable "boolean" column
        # would make `if value:` raise on missing cells in detectors
        return values.astype(object)
    return values


def validate_chunk(raw: pd.DataFrame, spec: TableSpec, dups: DuplicateTracker) -> ValidatedChunk:
    """Validate one raw chunk (see module docstring). ``raw`` must carry ``_line``."""
    n = len(raw)
    bad_shape = raw.attrs.get("bad_shape", [])
    reason = pd.Series([None] * n, index=raw.index, dtype=object)
    column = pd.Series([None] * n, index=raw.index, dtype=object)
    messages: list[list[str]] = [[] for _ in range(n)]
    out: dict[str, pd.Series] = {}
    warnings: Counter = Counter()
    for name, col in spec.columns.items():
        if name not in raw.columns:
            out[name] = pd.Series(None, index=raw.index, dtype=object)
            if col.type_name == "entity_ref":
                out[f"{name}__kind"] = out[name]
            continue
        values, reasons, msgs = col.vtype.clean_series(raw[name])
        if col.type_name == "region_code" and name == "region_code":
            valid = (reasons.isna() & values.notna()).to_numpy()
            codes, uniques = pd.factorize(raw[name].where(valid, None), use_na_sentinel=True)
            village = np.array([split_region_code(u)[1] for u in uniques] + [None], dtype=object)
            out["village_code"] = pd.Series(village.take(codes), index=raw.index, dtype=object)
        if col.required:
            blank = values.isna() & reasons.isna()
            reasons = reasons.mask(blank, "missing_required")
            msgs = msgs.mask(blank, f"{name} ({col.zh}) is required but blank")
        failed = reasons.notna()
        if failed.any():
            n_failed = int((failed & (reasons != "missing_required")).sum())
            first_chunk = len(dups.seen) == 0
            if first_chunk and n_failed >= WRONG_TYPE_MIN_VALUES:
                nonblank = int((raw[name].map(_raw_text).str.strip() != "").sum())
            else:
                nonblank = -1
            if nonblank >= WRONG_TYPE_MIN_VALUES and n_failed == nonblank:
                example = raw.loc[failed, name].iloc[0]
                raise DataError(
                    "wrong_type_column",
                    f"{spec.name}.{name}: none of {nonblank} values is a valid {col.type_name} "
                    f"(e.g. {example!r}: {msgs[failed].iloc[0]}); is the column mapped correctly?",
                )
            first = failed & reason.isna()
            reason = reason.mask(first, reasons)
            column = column.mask(first, name)
            for i in np.nonzero(failed.to_numpy())[0]:
                messages[i].append(str(msgs.iat[i]))
        if col.type_name == "entity_ref":
            out[name] = values.map(lambda r: r.id if r is not None else None)
            out[f"{name}__kind"] = values.map(lambda r: r.kind if r is not None else None)
        else:
            out[name] = _typed(values, col.type_name)
        ok_values = values[reasons.isna() & values.notna()]
        if len(ok_values):
            w_reasons, _ = col.vtype.warnings_series(ok_values)
            for r, c in w_reasons.dropna().value_counts().items():
                warnings[str(r)] += int(c)
    rejected = reason.notna().to_numpy()
    raw_cells = raw.drop(columns=["_line"])
    rej = pd.DataFrame(
        {
            "line": raw["_line"].to_numpy()[rejected],
            "reason": reason.to_numpy()[rejected],
            "column": column.to_numpy()[rejected],
            "message": ["; ".join(m) for m, r in zip(messages, rejected, strict=True) if r],
        }
    )
    rej = pd.concat([rej, raw_cells[rejected].reset_index(drop=True).map(_raw_text)], axis=1)
    if bad_shape:
        width = raw_cells.shape[1]
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
        hashes = _row_hashes(raw[keep])
        dup_mask[np.nonzero(keep)[0]] = dups.mark(hashes)
    loaded = keep & ~dup_mask
    clean = pd.DataFrame(out, index=raw.index)
    extras = [c for c in raw.columns if c not in spec.columns and c != "_line"]
    for c in extras:
        clean[c] = raw[c].map(lambda v: _raw_text(v) or None)
    clean["_line"] = raw["_line"].astype("int64")
    clean = clean[loaded].reset_index(drop=True)
    return ValidatedChunk(
        clean=clean,
        rejects=rej,
        read=n + len(bad_shape),
        duplicate=int(dup_mask.sum()),
        warnings=warnings,
        reasons=Counter(rej["reason"].tolist()),
    )
