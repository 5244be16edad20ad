"""Write what a scan produces (docs/data-contract.md, "What the engine writes").

``flags.jsonl`` (one flag per line), ``flags.csv`` (flattened, UTF-8 with BOM so Excel shows
Chinese correctly; a cell a spreadsheet would run as a formula starts with an apostrophe,
``loaders.csv_cells``), ``summary.json`` (load counts, flag counts per detector and severity,
settings and their digests, timings). Rejects are written by the loaders into ``OUT_DIR/rejects/``.

Examples
--------
>>> import tempfile, pathlib
>>> from engine.flags import Flag
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> f = Flag("aid.paid_in_prison", "person_id", "11010519491231002X", "high", 2.0,
...          explanation={"zh": "示例", "en": "example"})
>>> write_flags(out, [f])
1
>>> read_flags(out / "flags.jsonl")[0].subject_id
'11010519491231002X'
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from engine.flags import Flag
from loaders.csv_cells import safe_row

__all__ = ["flag_counts", "read_flags", "write_flags", "write_summary"]

CSV_COLUMNS = [
    "flag_id", "detector", "severity", "score", "subject_type", "subject_id", "region_code",
    "entities", "explanation_zh", "explanation_en", "evidence", "settings_digest",
]  # fmt: skip


_dumps = json.JSONEncoder(ensure_ascii=False).encode
#: stands in for the evidence while the rest of a flag is encoded; with its key before it, the
#: text cannot occur anywhere else in the line (a quote inside a string is written escaped)
_EVIDENCE = "\x00evidence\x00"
_EVIDENCE_KEY = '"evidence": ' + _dumps(_EVIDENCE)


def write_flags(
    out_dir: str | Path, flags: Iterable[Flag], new: Callable[[Flag], bool] | None = None
) -> int:
    """Write ``flags.jsonl`` and ``flags.csv``; returns the number of flags.

    With ``new``, each flag also says whether it is new since the previous scan
    (``new_since_previous_scan``: true or false, the last CSV column).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    with (
        open(out / "flags.jsonl", "w", encoding="utf-8") as jf,
        open(out / "flags.csv", "w", encoding="utf-8-sig", newline="") as cf,
    ):
        writer = csv.writer(cf)
        writer.writerow(safe_row(CSV_COLUMNS + (["new_since_previous_scan"] if new else [])))
        for f in flags:
            d = f.to_dict()
            is_new = new(f) if new else None
            if new:
                d["new_since_previous_scan"] = is_new
            # the evidence (most of a flag's bytes) is encoded once, for the line and the CSV
            evidence = _dumps(d["evidence"])
            d["evidence"] = _EVIDENCE
            jf.write(_dumps(d).replace(_EVIDENCE_KEY, '"evidence": ' + evidence, 1) + "\n")
            row = [
                d["flag_id"], d["detector"], d["severity"], d["score"], d["subject"]["type"],
                d["subject"]["id"], d["region_code"] or "", ";".join(d["entities"]),
                d["explanation"].get("zh", ""), d["explanation"].get("en", ""),
                evidence, d["settings_digest"],
            ] + ([str(is_new).lower()] if new else [])  # fmt: skip
            writer.writerow(safe_row(row))
            n += 1
    return n


def read_flags(path: str | Path) -> list[Flag]:
    """Read a ``flags.jsonl`` back into Flag objects."""
    with open(path, encoding="utf-8") as f:
        return [Flag.from_dict(json.loads(line)) for line in f if line.strip()]


def flag_counts(flags: Iterable[Flag]) -> dict[str, dict[str, int]]:
    """``{detector: {"total": n, "high": n, "medium": n, "low": n}}``."""
    out: dict[str, Counter] = {}
    for f in flags:
        c = out.setdefault(f.detector, Counter())
        c["total"] += 1
        c[f.severity] += 1
    return {k: dict(sorted(v.items())) for k, v in sorted(out.items())}


def write_summary(out_dir: str | Path, summary: dict[str, Any]) -> Path:
    path = Path(out_dir) / "summary.json"
    path.write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str), "utf-8")
    return path
