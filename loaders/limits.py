"""Limits that make a hostile or broken file fail fast instead of running for minutes.

Every limit is checked before the expensive work it protects (a CSV's line count and longest line
before parsing, an xlsx sheet's cell extent before the sheet is built in memory). A file over a
limit is refused with ``limit_exceeded`` naming the limit and its value; the rest of the dataset is
still read so that every problem is listed at once.

The defaults are far above any departmental export seen so far; a dataset can change them in its
``manifest.yaml`` (``limits: {max_columns: 2000}``) and a caller of ``load_dataset`` through
``limits=``.

Examples
--------
>>> ReadLimits().max_columns
1000
>>> ReadLimits.from_mapping({"max_columns": 50}).max_columns
50
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from graph_models.errors import DataError

__all__ = ["ReadLimits"]


@dataclass(frozen=True)
class ReadLimits:
    #: columns in a header (a 10,000-column CSV is refused at its header line)
    max_columns: int = 1000
    #: physical lines of a CSV file, or rows of a sheet (its declared or real extent)
    max_rows: int = 50_000_000
    #: cells of a sheet (rows x columns of its extent), checked before the sheet is loaded
    max_sheet_cells: int = 200_000_000
    #: bytes of one physical CSV line (a field this large is not a departmental export)
    max_line_bytes: int = 1 << 20
    #: characters of one field (Excel's own limit is 32,767)
    max_field_chars: int = 32_767
    #: physical lines one quoted field with embedded newlines may span
    max_record_lines: int = 20
    #: rows searched for the header row (title and blank rows above it are skipped)
    max_header_scan: int = 30

    @classmethod
    def from_mapping(cls, doc: dict[str, Any] | None, base: ReadLimits | None = None) -> ReadLimits:
        """Limits from a mapping (the ``limits`` section of ``manifest.yaml``)."""
        base = base or cls()
        if not doc:
            return base
        if not isinstance(doc, dict):
            raise DataError("bad_manifest", "manifest.yaml: 'limits' must be a mapping")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise DataError(
                "bad_manifest",
                f"manifest.yaml: unknown limit(s) {unknown}; known: {', '.join(sorted(known))}",
            )
        values = {}
        for k, v in doc.items():
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise DataError(
                    "bad_manifest", f"manifest.yaml: limits.{k} must be a positive integer"
                )
            values[k] = v
        return replace(base, **values)
