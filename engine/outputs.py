"""Write what a scan produces (docs/data-contract.md, "What the engine writes").

``flags.jsonl`` (one flag per line, compact JSON), ``flags.csv`` (flattened, UTF-8 with BOM so
Excel shows Chinese correctly; a cell a spreadsheet would run as a formula starts with an
apostrophe, ``loaders.csv_cells``), ``summary.json`` (load counts, flag counts per detector and severity,
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

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from engine.flags import Flag, json_line, jsonable
from loaders.csv_cells import safe_row

__all__ = [
    "encode_flag", "flag_counts", "read_flag_line", "read_flags", "write_flags", "write_summary"
]  # fmt: skip

CSV_COLUMNS = [
    "flag_id", "detector", "severity", "score", "subject_type", "subject_id", "region_code",
    "entities", "explanation_zh", "explanation_en", "evidence", "settings_digest",
]  # fmt: skip


#: stands in for the evidence while the rest of a flag is encoded; with its key before it, the
#: text cannot occur anywhere else in the line (a quote inside a string is written escaped)
_EVIDENCE = "\x00evidence\x00"
_EVIDENCE_KEY = b'"evidence":'
_PLACEHOLDER = _EVIDENCE_KEY + orjson.dumps(_EVIDENCE)
#: what follows the evidence in a line (Flag.to_dict's order); the last occurrence is the key's
_AFTER_EVIDENCE = b',"explanation":'
_NEW = b',"new_since_previous_scan":'
_NEW_SUFFIXES = (_NEW + b"true}", _NEW + b"false}")
_BOM = "\ufeff".encode()
#: a CSV cell with one of these is quoted, its quotes doubled (what ``csv.writer`` does)
_QUOTE = re.compile('[",\r\n]')


def _json(value: Any) -> bytes:
    """Compact UTF-8 JSON (orjson; the standard library for what orjson cannot write)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError: e.g. an int beyond 64 bits
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def encode_flag(flag: Flag) -> tuple[bytes, int, int]:
    """The ``flags.jsonl`` line of a flag (without ``new_since_previous_scan`` and the line
    break) and where its evidence lies in it; a flag reused from a previous scan keeps the line
    that scan wrote (:attr:`Flag.written`).

    The evidence (most of a flag's bytes) is encoded once and spliced in, so the CSV can take it
    from the line.
    """
    if flag.written is not None:
        return flag.written
    d = flag.to_dict()
    evidence = _json(d["evidence"])
    d["evidence"] = _EVIDENCE
    line = _json(d)
    at = line.index(_PLACEHOLDER) + len(_EVIDENCE_KEY)
    line = line[:at] + evidence + line[at + len(_PLACEHOLDER) - len(_EVIDENCE_KEY) :]
    return line, at, at + len(evidence)


def read_flag_line(line: bytes) -> Flag:
    """A ``flags.jsonl`` line back as a packed Flag (:meth:`Flag.pack`): it keeps the line, so
    writing it again copies the bytes, and its evidence is decoded only when read (a line
    written otherwise is parsed whole)."""
    line = line.rstrip(b"\r\n")
    for suffix in _NEW_SUFFIXES:
        if line.endswith(suffix):
            line = line[: -len(suffix)] + b"}"
            break
    start = line.find(_EVIDENCE_KEY) + len(_EVIDENCE_KEY)
    end = line.rfind(_AFTER_EVIDENCE)
    if start >= len(_EVIDENCE_KEY) and end > start:
        # the evidence (most of the line) stays bytes until read (Flag.pack)
        d = json_line(line[:start] + b"{}" + line[end:])
        if d.get("fingerprint"):  # else the fingerprint is computed from the evidence
            return Flag.from_dict(d).pack((line, start, end))
    return Flag.from_dict(json_line(line))


def _cell(value: Any) -> str:
    text = "" if value is None else value if isinstance(value, str) else str(value)
    return '"' + text.replace('"', '""') + '"' if _QUOTE.search(text) else text


def _csv_cells(cells: list[Any]) -> bytes:
    """Neutralised cells as CSV (``csv.writer``'s minimal quoting), without the line end."""
    return ",".join(_cell(c) for c in safe_row(cells)).encode()


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
    # written under other names and renamed into place: a reader never sees half a file, and
    # a file an earlier scan wrote here (which a workspace's generation may share, as a hard
    # link) is replaced, never rewritten
    tmp = {name: out / f".{name}.{os.getpid()}.tmp" for name in ("flags.jsonl", "flags.csv")}
    with open(tmp["flags.jsonl"], "wb") as jf, open(tmp["flags.csv"], "wb") as cf:
        header = CSV_COLUMNS + (["new_since_previous_scan"] if new else [])
        cf.write(_BOM + _csv_cells(header) + b"\r\n")
        for f in flags:
            line, start, end = encode_flag(f)
            is_new = new(f) if new else None
            if new:
                line = line[:-1] + (_NEW_SUFFIXES[0] if is_new else _NEW_SUFFIXES[1])
            jf.write(line + b"\n")
            # the evidence is JSON (no line breaks): quoted when it holds a quote or a comma;
            # it starts with { or [, which no spreadsheet runs as a formula
            evidence = line[start:end]
            if b'"' in evidence or b"," in evidence:
                evidence = b'"' + evidence.replace(b'"', b'""') + b'"'
            head = _csv_cells([
                f.flag_id, f.detector, f.severity, jsonable(f.score), f.subject_type,
                f.subject_id, f.region_code or "", ";".join(f.entities),
                f.explanation.get("zh", ""), f.explanation.get("en", ""),
            ])  # fmt: skip
            tail = _csv_cells([f.settings_digest] + ([str(is_new).lower()] if new else []))
            cf.write(head + b"," + evidence + b"," + tail + b"\r\n")
            n += 1
    for name, path in tmp.items():
        os.replace(path, out / name)
    return n


def read_flags(path: str | Path) -> list[Flag]:
    """Read a ``flags.jsonl`` back into Flag objects."""
    with open(path, "rb") as f:
        return [Flag.from_dict(json_line(line)) for line in f if line.strip()]


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
