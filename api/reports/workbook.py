"""Flags to an Excel workbook (openpyxl), for inspectors and analysts who work in Excel.

Sheets (names and headers in Chinese or English):

* **Flags** (线索): one row per flag -- id, detector and its title, severity, score, region,
  subject, explanation (both languages), review status and number of decisions;
* **Evidence** (证据): one row per evidence record -- the flag, the evidence section, the source
  table and line, and the record's fields as ``key: value`` text;
* **Decisions** (核查记录): every review decision with its comment (when given);
* **By detector** (统计): counts per detector and severity.

The header row is frozen and filterable. Every text cell is stored as text, never as a formula,
so a value such as ``=HYPERLINK(...)`` coming from source data cannot run in Excel.

The web download passes flags as the API shows them (masked for the user's role);
:func:`write_flags_xlsx` exports a scan directory's ``flags.jsonl`` for the command line, with
resident IDs, phone and account numbers masked unless ``unmasked=True``.

Examples
--------
>>> from io import BytesIO
>>> from openpyxl import load_workbook
>>> flag = {"flag_id": "F1", "detector": "aid.paid_in_prison", "severity": "high", "score": 2.0,
...         "region_code": "410822", "subject_type": "person_id", "subject_id": "=1+1",
...         "explanation": {"zh": "示例", "en": "example"}, "evidence": {}}
>>> wb = load_workbook(BytesIO(flags_workbook_bytes([flag], lang="en")))
>>> wb.sheetnames
['Flags', 'Evidence', 'Decisions', 'By detector']
>>> wb["Flags"]["H2"].value, wb["Flags"]["H2"].data_type
('=1+1', 's')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from api.reports.i18n import STRINGS, field_name, pick_lang, value_name
from engine.flags import Flag

__all__ = [
    "flag_row",
    "flags_csv_bytes",
    "flags_workbook",
    "flags_workbook_bytes",
    "write_flags_xlsx",
]

#: The sheets, each with its name and its columns (keys of :data:`api.reports.i18n.STRINGS`).
_SHEETS = {
    "flags": ("xlsx_sheet_flags", (
        "xlsx_col_flag_id", "xlsx_col_detector", "xlsx_col_detector_title", "xlsx_col_severity",
        "xlsx_col_score", "xlsx_col_score_unit", "xlsx_col_region", "xlsx_col_subject",
        "xlsx_col_subject_type",
        "xlsx_col_explanation", "xlsx_col_explanation_other", "xlsx_col_review_status",
        "xlsx_col_review_count",
    )),
    "evidence": ("xlsx_sheet_evidence", (
        "xlsx_col_flag_id", "xlsx_col_detector", "xlsx_col_section", "xlsx_col_row",
        "xlsx_col_source_table", "xlsx_col_source_line", "xlsx_col_record",
    )),
    "decisions": ("xlsx_sheet_decisions", (
        "xlsx_col_flag_id", "xlsx_col_by", "xlsx_col_decision", "xlsx_col_comment",
        "xlsx_col_when",
    )),
    "counts": ("xlsx_sheet_counts", (
        "xlsx_col_detector", "xlsx_col_detector_title", "xlsx_col_total", "sev_high",
        "sev_medium", "sev_low",
    )),
}  # fmt: skip
_SEVERITY_FILL = {
    "high": PatternFill("solid", fgColor="F8D7DA"),
    "medium": PatternFill("solid", fgColor="FFF0C2"),
    "low": PatternFill("solid", fgColor="E2ECF7"),
}
_HEADER_FILL = PatternFill("solid", fgColor="1F3B63")
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_WIDTHS = {"flags": (24, 26, 24, 9, 10, 24, 18, 24, 14, 70, 50, 14, 10),
           "evidence": (24, 26, 18, 6, 16, 8, 100), "decisions": (24, 16, 16, 60, 22),
           "counts": (30, 30, 10, 8, 8, 8)}  # fmt: skip


def flag_row(flag: Flag) -> dict[str, Any]:
    """A flag from ``flags.jsonl`` in the shape the API returns (no review state)."""
    d = flag.to_dict()
    return {
        "flag_id": d["flag_id"], "detector": d["detector"], "severity": d["severity"],
        "score": d["score"], "region_code": d["region_code"], "subject_type": d["subject"]["type"],
        "subject_id": str(d["subject"]["id"]), "entities": d["entities"],
        "explanation": d["explanation"], "evidence": d["evidence"],
    }  # fmt: skip


def _text_cell(ws: Worksheet, value: Any) -> Cell | Any:
    """A cell whose strings stay strings (openpyxl would store ``=...`` as a formula)."""
    cell = Cell(ws, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def _append(ws: Worksheet, values: Iterable[Any]) -> None:
    ws.append([_text_cell(ws, v) for v in values])


def _header(ws: Worksheet, titles: Iterable[str], widths: Iterable[int]) -> None:
    _append(ws, titles)
    for cell in ws[1]:
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"


def _scalar(value: Any, lang: str = "zh") -> str:
    if isinstance(value, list):
        return (
            "、".join(_scalar(v, lang) for v in value)
            if lang == "zh"
            else ", ".join(_scalar(v, lang) for v in value)
        )
    if isinstance(value, dict):
        return "; ".join(f"{field_name(k, lang)}: {_scalar(v, lang)}" for k, v in value.items())
    return "" if value is None else str(value_name(value, lang))


def _evidence_records(
    evidence: dict[str, Any], lang: str = "zh"
) -> Iterator[tuple[str, int, Any, Any, str]]:
    """``(section, row number, source table, source line, "key: value; ...")`` per record, in
    ``lang``'s words (every record: the lists are complete)."""
    scalars = []
    for section, value in evidence.items():
        records = value if isinstance(value, list) else [value]
        if not any(isinstance(r, dict) for r in records):
            scalars.append(f"{field_name(section, lang)}: {_scalar(value, lang)}")
            continue
        for n, rec in enumerate(records, start=1):
            if not isinstance(rec, dict):
                yield field_name(section, lang), n, None, None, _scalar(rec, lang)
                continue
            table = rec.get("_table", rec.get("table"))
            line = rec.get("_line", rec.get("line"))
            fields = "; ".join(
                f"{field_name(k, lang)}: {_scalar(v, lang)}"
                for k, v in rec.items()
                if k not in ("_table", "_line", "table", "line")
                and not _english_message(rec, k, lang)
            )
            yield (field_name(section, lang), n,
                   value_name(table, lang) if table else table, line, fields)  # fmt: skip
    if scalars:
        yield field_name("figures", lang), 1, None, None, "; ".join(scalars)


def _english_message(rec: dict[str, Any], key: str, lang: str) -> bool:
    """A loader's (English) message beside a reason code whose Chinese name says the same."""
    reason = rec.get("reason")
    return (
        key == "message"
        and lang == "zh"
        and isinstance(reason, str)
        and (value_name(reason, lang) != reason)
    )


def _region(code: Any, names: dict[str, str], lang: str) -> str:
    if not code:
        return ""
    name = names.get(str(code))
    if not name:
        return str(code)
    return f"{name}（{code}）" if lang == "zh" else f"{name} ({code})"


def _unit(detector: str, lang: str) -> str:
    from engine.scores import score_text

    return score_text(detector, lang)


def flags_workbook(
    flags: Iterable[dict[str, Any]],
    *,
    lang: str = "zh",
    detector_titles: dict[str, dict[str, str]] | None = None,
    reviews: Iterable[Any] = (),
    region_names: dict[str, str] | None = None,
) -> Workbook:
    """Build the workbook from flags in the API's shape (see :func:`flag_row`), severity first.

    ``reviews`` are objects with ``flag_id, user_name, decision, comment, created_at`` (shown
    in the local time zone, ``RISKGRAPH_TIMEZONE``).
    """
    from api.reports.html_report import _local_time, report_zone

    lang = pick_lang(lang)
    zone = report_zone()
    names = region_names or {}
    rank = {"high": 0, "medium": 1, "low": 2}
    flags = sorted(flags, key=lambda f: (rank.get(f["severity"], 3), -float(f.get("score") or 0)))
    t = STRINGS[lang]
    other = "en" if lang == "zh" else "zh"
    titles = detector_titles or {}
    wb = Workbook()
    ws_flags = wb.active
    ws_flags.title = t[_SHEETS["flags"][0]]
    ws_ev, ws_dec, ws_counts = (
        wb.create_sheet(t[_SHEETS[name][0]]) for name in ("evidence", "decisions", "counts")
    )
    for name, ws in (("flags", ws_flags), ("evidence", ws_ev), ("decisions", ws_dec),
                     ("counts", ws_counts)):  # fmt: skip
        _header(ws, [t[key] for key in _SHEETS[name][1]], _WIDTHS[name])
    counts: dict[str, Counter[str]] = {}
    wrap = Alignment(wrap_text=True, vertical="top")
    for f in flags:
        detector = f["detector"]
        explanation = f.get("explanation") or {}
        status = f.get("status")
        _append(ws_flags, [
            f["flag_id"], detector, titles.get(detector, {}).get(lang, ""),
            t.get("sev_" + f["severity"], f["severity"]), f.get("score"), _unit(detector, lang),
            _region(f.get("region_code"), names, lang),
            f.get("subject_id") or "", field_name(f.get("subject_type") or "", lang),
            explanation.get(lang, ""),
            explanation.get(other, ""), t.get(f"status_{status}", status or ""), f.get("review_count"),
        ])  # fmt: skip
        row = ws_flags.max_row
        ws_flags.cell(row, 4).fill = _SEVERITY_FILL.get(f["severity"], PatternFill())
        ws_flags.cell(row, 5).number_format = "0.00"
        ws_flags.cell(row, 10).alignment = wrap
        for section, n, table, line, text in _evidence_records(f.get("evidence") or {}, lang):
            _append(ws_ev, [f["flag_id"], detector, section, n, table, line, text])
        c = counts.setdefault(detector, Counter())
        c["total"] += 1
        c[f["severity"]] += 1
    for r in reviews:
        _append(ws_dec, [
            r.flag_id, r.user_name, t.get(f"status_{r.decision}", r.decision), r.comment or "",
            _local_time(r.created_at, zone),
        ])  # fmt: skip
    for detector in sorted(counts):
        c = counts[detector]
        _append(ws_counts, [detector, titles.get(detector, {}).get(lang, ""), c["total"],
                            c["high"], c["medium"], c["low"]])  # fmt: skip
    for ws in (ws_flags, ws_ev, ws_dec, ws_counts):
        ws.auto_filter.ref = ws.dimensions
    return wb


def flags_csv_bytes(
    flags: Iterable[dict[str, Any]],
    *,
    lang: str = "zh",
    detector_titles: dict[str, dict[str, str]] | None = None,
    region_names: dict[str, str] | None = None,
) -> bytes:
    """The flags as CSV (UTF-8 with BOM, for Excel), severity first: one row per evidence
    record (every record), each with its flag's columns; a flag without records gets one row.
    """
    import csv
    import io

    lang = pick_lang(lang)
    t = STRINGS[lang]
    titles = detector_titles or {}
    names = region_names or {}
    rank = {"high": 0, "medium": 1, "low": 2}
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([t[k] for k in (
        "xlsx_col_flag_id", "xlsx_col_severity", "xlsx_col_score", "xlsx_col_score_unit",
        "xlsx_col_detector_title", "xlsx_col_region", "xlsx_col_subject",
        "xlsx_col_review_status", "xlsx_col_explanation", "xlsx_col_section", "xlsx_col_row",
        "xlsx_col_source_table", "xlsx_col_source_line", "xlsx_col_record",
    )])  # fmt: skip
    for f in sorted(flags, key=lambda f: (rank.get(f["severity"], 3), -float(f.get("score") or 0))):
        detector = f["detector"]
        status = f.get("status")
        head = [
            f["flag_id"], t.get("sev_" + f["severity"], f["severity"]), f.get("score"),
            _unit(detector, lang), titles.get(detector, {}).get(lang, detector),
            _region(f.get("region_code"), names, lang), f.get("subject_id") or "",
            t.get(f"status_{status}", status or ""), (f.get("explanation") or {}).get(lang, ""),
        ]  # fmt: skip
        records = list(_evidence_records(f.get("evidence") or {}, lang))
        for section, n, table, line, text in records or [("", "", "", "", "")]:
            w.writerow([*head, section, n, table, line, text])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def flags_workbook_bytes(flags: Iterable[dict[str, Any]], **kwargs: Any) -> bytes:
    """:func:`flags_workbook` saved to bytes (an ``.xlsx`` file)."""
    buffer = BytesIO()
    flags_workbook(flags, **kwargs).save(buffer)
    return buffer.getvalue()


def write_flags_xlsx(
    scan_dir: str | Path,
    out_file: str | Path,
    *,
    lang: str = "zh",
    region: str | None = None,
    unmasked: bool = False,
) -> tuple[Path, int]:
    """Export ``scan_dir/flags.jsonl`` (optionally one region and below) to ``out_file``.

    Returns the path and the number of flags written. Personal data is masked as for a role
    without clearance (:mod:`api.access.masking`) unless ``unmasked``.
    """
    from api.access.masking import OFFLINE_POLICY, Masker
    from api.access.scopes import RegionScope
    from engine.outputs import read_flags
    from engine.registry import all_detectors

    flags = read_flags(Path(scan_dir) / "flags.jsonl")
    if region is not None:
        scope = RegionScope([region])
        flags = [f for f in flags if scope.covers(f.region_code)]
    flags.sort(key=lambda f: (f.detector, -(f.score or 0.0), f.flag_id))
    masker = Masker(OFFLINE_POLICY)
    rows = []
    for f in flags:
        row = flag_row(f)
        if not unmasked:
            personal = {k: row[k] for k in ("subject_id", "entities", "explanation", "evidence")}
            row.update(masker.flag(personal, f.flag_id))
        rows.append(row)
    titles = {s.id: {"zh": s.title_zh, "en": s.title_en} for s in all_detectors()}
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(flags_workbook_bytes(rows, lang=lang, detector_titles=titles))
    return out, len(rows)
