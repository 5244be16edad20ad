"""A self-contained, printable HTML report of a scan (zh-CN by default, English available).

Personal data is masked in the report as for a role without clearance (the one policy,
:mod:`api.access.masking`) unless ``unmasked=True`` (a printed report travels).
Charts are inline SVG (flags by detector and by region, stacked by severity), so the file needs
nothing else to open or print. :func:`write_region_report` limits a report to one region and
everything under it; :func:`render_queue_report` renders the web queue's current filter (flags as
the API shows them to the user, with their review status).

Examples
--------
>>> html = render_report({"flags": {}, "flags_total": 0, "load": None}, [], lang="en")
>>> "riskgraph" in html
True
"""

from __future__ import annotations

import html
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from api.reports.i18n import STRINGS, pick_lang
from engine.flags import Flag
from engine.outputs import read_flags

__all__ = [
    "render_pdf",
    "render_queue_report",
    "render_report",
    "report_zone",
    "write_region_report",
    "write_report",
]


_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",system-ui,sans-serif;margin:2rem;color:#1a1a1a}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:2px solid #2b4c7e;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0}
th,td{border:1px solid #ccd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eef2f8} td.n{text-align:right;font-variant-numeric:tabular-nums}
.meta{color:#444;font-size:.9rem} .sev-high{color:#a40000;font-weight:bold} .sev-medium{color:#8a5a00} .sev-low{color:#335}
.bar{display:inline-block;height:.8rem;background:#2b4c7e;vertical-align:middle}
.chart{margin:.5rem 0 1rem} .chart svg{max-width:100%;height:auto} .chart text{font-size:12px;fill:#1a1a1a}
.legend span{display:inline-block;margin-right:1rem;font-size:.85rem} .legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
.nw{white-space:nowrap} td.latest{min-width:8rem} .st-open{color:#1a1a1a} .st-confirmed{color:#a40000;font-weight:bold} .st-dismissed{color:#3d5a3d} .st-needs_field_check{color:#8a5a00}
@media print{body{margin:1cm} h2{page-break-after:avoid} tr{page-break-inside:avoid} .chart{page-break-inside:avoid} .noprint{display:none}}
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


_SEVERITY_COLOURS = {"high": "#a40000", "medium": "#c77c00", "low": "#5b7db1"}


def _svg_stacked_bars(
    rows: list[tuple[str, dict[str, int]]], t: dict[str, str], title: str, width: int = 720
) -> str:
    """Horizontal bars, one per row, stacked by severity; an accessible inline SVG."""
    if not rows:
        return ""
    label_w, bar_h, gap = 250, 16, 6
    peak = max(sum(c.get(k, 0) for k in _SEVERITY_COLOURS) for _, c in rows) or 1
    scale = (width - label_w - 60) / peak
    height = len(rows) * (bar_h + gap) + gap
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{_e(title)}</title>'
    ]
    for i, (label, counts) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_h - 4}" text-anchor="end">{_e(label[:40])}</text>'
        )
        x = float(label_w)
        for sev, colour in _SEVERITY_COLOURS.items():
            n = counts.get(sev, 0)
            if n:
                w = n * scale
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                    f"<title>{_e(label)}: {_e(t['sev_' + sev])} {n:,}</title></rect>"
                )
                x += w
        total = sum(counts.get(k, 0) for k in _SEVERITY_COLOURS)
        parts.append(f'<text x="{x + 4:.1f}" y="{y + bar_h - 4}">{total:,}</text>')
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{c}"></i>{_e(t["sev_" + sev])}</span>'
        for sev, c in _SEVERITY_COLOURS.items()
    )
    return f'<div class="chart">{"".join(parts)}<div class="legend">{legend}</div></div>'


def _severity_counts(rows: list[dict[str, Any]], key: str) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        out[str(r.get(key) or "-")][r["severity"]] += 1
    return out


def _region_label(code: str, names: dict[str, str], t: dict[str, str]) -> str:
    name = names.get(code)
    return t["report_region_title"].format(name=name, code=code) if name else code


def _region_section(
    rows: list[dict[str, Any]], names: dict[str, str], t: dict[str, str], titles: dict[str, str]
) -> list[str]:
    """Chart and table of flags per region (severity and the most frequent detector)."""
    by_region = _severity_counts(rows, "region_code")
    if not by_region:
        return []
    detectors: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        detectors[str(r.get("region_code") or "-")][r["detector"]] += 1
    order = sorted(by_region, key=lambda c: (-sum(by_region[c].values()), c))
    parts = [
        f"<h2>{_e(t['report_by_region'])}</h2>",
        _svg_stacked_bars(
            [(_region_label(c, names, t), by_region[c]) for c in order[:30]],
            t,
            t["report_by_region"],
        ),
        f"<h3>{_e(t['report_region_table'])}</h3><table><tr><th>{_e(t['report_region'])}</th>"
        f"<th>{_e(t['report_total'])}</th><th>{_e(t['sev_high'])}</th><th>{_e(t['sev_medium'])}</th>"
        f"<th>{_e(t['sev_low'])}</th><th>{_e(t['report_top_detector'])}</th></tr>",
    ]
    for code in order:
        c = by_region[code]
        top_det, top_n = detectors[code].most_common(1)[0]
        parts.append(
            f"<tr><td>{_e(_region_label(code, names, t))}</td><td class='n'>{sum(c.values()):,}</td>"
            f"<td class='n'>{c['high']:,}</td><td class='n'>{c['medium']:,}</td>"
            f"<td class='n'>{c['low']:,}</td><td>{_e(titles.get(top_det, top_det))} ({top_n:,})</td></tr>"
        )
    parts.append("</table>")
    return parts


def _flag_rows(flags: list[Flag]) -> list[dict[str, Any]]:
    return [
        {"flag_id": f.flag_id, "detector": f.detector, "severity": f.severity, "score": f.score,
         "region_code": f.region_code, "explanation": f.explanation, "evidence": f.evidence}
        for f in flags
    ]  # fmt: skip


def _names_from_evidence(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Region names quoted in flags' evidence (``{"region": {"region_code", "name"}}``)."""
    out = {}
    for r in rows:
        region = (r.get("evidence") or {}).get("region")
        if isinstance(region, dict) and region.get("region_code") and region.get("name"):
            out[str(region["region_code"])] = str(region["name"])
    return out


def _table_label(table: str, lang: str) -> str:
    """A source table as a reader knows it: ``住户（households）`` in Chinese."""
    from loaders.contract import CONTRACT

    spec = CONTRACT.get(table)
    zh = getattr(spec, "zh", None) if spec is not None else None
    return f"{zh}（{table}）" if lang == "zh" and zh else table


def render_report(
    summary: dict[str, Any],
    flags: list[Flag],
    lang: str = "zh",
    top: int = 20,
    unmasked: bool = False,
) -> str:
    """Render the report as one HTML string (no external assets; prints cleanly to PDF).

    When ``summary`` has ``report_region`` (``{"code", "name"}``), the title names that region.
    """
    from api.access.masking import OFFLINE_POLICY, Masker
    from engine.registry import all_detectors
    from engine.scores import SCORES

    lang = pick_lang(lang)
    t = STRINGS[lang]
    titles = {s.id: (s.title_zh if lang == "zh" else s.title_en) for s in all_detectors()}
    masker = Masker(OFFLINE_POLICY)

    def clean(text: str, flag: Flag) -> str:
        if unmasked:
            return text
        masked = masker.flag({"text": text, "evidence": flag.evidence,
                              "entities": flag.entities}, flag.flag_id)  # fmt: skip
        return str(masked["text"])

    rows = _flag_rows(flags)
    names = _names_from_evidence(rows)
    zone = report_zone()
    region = summary.get("report_region")
    title = t["report_title"]
    if region:
        title += " · " + _region_label(region["code"], {**names, **_name_of(region)}, t)
    parts = [
        f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{_e(t["report_generated"])}: {_e(_local_time(summary.get("generated_at"), zone))} · '
        f"{_e(t['report_dataset'])}: {_e(summary.get('dataset'))} · {_e(t['report_as_of'])}: {_e(summary.get('as_of'))}</p>"
        f'<p class="meta">{_e(t["report_times_in"].format(zone=getattr(zone, "key", str(zone))))}'
        f"{'' if unmasked else ' · ' + _e(t['report_masked_offline'])}</p>",
    ]
    load = summary.get("load")
    if load:
        parts.append(f"<h2>{_e(t['report_load'])}</h2><table><tr>")
        cols = ["read", "loaded", "rejected", "duplicate", "dangling"]
        parts.append(
            f"<th>{_e(t['report_table'])}</th>"
            + "".join(f"<th>{_e(t['report_' + c])}</th>" for c in cols)
        )
        parts.append(f"<th>{_e(t['report_balanced'])}</th></tr>")
        for table, c in load.items():
            ok = c["read"] == c["loaded"] + c["rejected"] + c["duplicate"]
            parts.append(
                f"<tr><td>{_e(_table_label(table, lang))}</td>"
                + "".join(f'<td class="n">{c[k]:,}</td>' for k in cols)
                + f"<td>{'✔' if ok else '✘'}</td></tr>"
            )
        parts.append("</table>")
        missing = (summary.get("load_detail") or {}).get("missing_tables") or []
        if missing:
            parts.append(f'<p class="meta">{_e(t["report_missing"])}: {_e(", ".join(missing))}</p>')
    counts = summary.get("flags") or {}
    parts.append(f"<h2>{_e(t['report_flags'])} ({summary.get('flags_total', len(flags)):,})</h2>")
    if counts:
        parts.append(
            _svg_stacked_bars(
                [(titles.get(det, det), c) for det, c in counts.items()], t, t["report_by_detector"]
            )
        )
        parts.append(
            f"<table><tr><th>{_e(t['report_detector'])}</th><th>{_e(t['report_total'])}</th>"
            f"<th>{_e(t['sev_high'])}</th><th>{_e(t['sev_medium'])}</th><th>{_e(t['sev_low'])}</th></tr>"
        )
        for det, c in counts.items():
            parts.append(
                f"<tr><td>{_e(titles.get(det, det))}</td><td class='n'>{c.get('total', 0):,}</td>"
                f"<td class='n'>{c.get('high', 0):,}</td><td class='n'>{c.get('medium', 0):,}</td>"
                f"<td class='n'>{c.get('low', 0):,}</td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append(f"<p>{_e(t['none'])}</p>")
    parts.extend(_region_section(rows, names, t, titles))
    by_det: dict[str, list[Flag]] = defaultdict(list)
    for f in flags:
        by_det[f.detector].append(f)
    if by_det:
        parts.append(f"<h2>{_e(t['report_top'].format(n=top))}</h2>")
        rank = {"high": 0, "medium": 1, "low": 2}
        for det in sorted(by_det, key=lambda d: (min(rank[f.severity] for f in by_det[d]), d)):
            items = sorted(by_det[det], key=lambda f: (rank[f.severity], -f.score, f.flag_id))[:top]
            meaning = SCORES.get(det)
            unit = (meaning.unit_zh if lang == "zh" else meaning.unit_en) if meaning else ""
            parts.append(
                f"<h3>{_e(titles.get(det, det))} <small class='meta'>{_e(det)}</small></h3>"
                f"<table><tr><th>{_e(t['report_severity'])}</th><th>{_e(t['report_score'])}（{_e(unit)}）</th>"
                f"<th>{_e(t['report_region'])}</th><th>{_e(t['report_explanation'])}</th>"
                f"<th>{_e(t['report_flag_id'])}</th></tr>"
            )
            for f in items:
                text = f.explanation.get(lang) or f.explanation.get("en") or ""
                code = str(f.region_code or "")
                parts.append(
                    f'<tr><td class="sev-{_e(f.severity)} nw">{_e(t["sev_" + f.severity])}</td>'
                    f'<td class="n">{f.score:,.2f}</td><td>{_e(_region_label(code, names, t) if code else "")}</td>'
                    f"<td>{_e(clean(text, f))}</td><td class='nw'><code>{_e(f.flag_id)}</code></td></tr>"
                )
            parts.append("</table>")
    skipped = summary.get("skipped") or {}
    if skipped:
        parts.append(
            f"<h2>{_e(t['report_skipped'])}</h2><table><tr><th>{_e(t['report_detector'])}</th><th>{_e(t['report_reason'])}</th></tr>"
        )
        for det, why in sorted(skipped.items()):
            parts.append(f"<tr><td>{_e(titles.get(det, det))}</td><td>{_e(why)}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _name_of(region: dict[str, Any]) -> dict[str, str]:
    return {str(region["code"]): str(region["name"])} if region.get("name") else {}


def _local_time(value: Any, zone: Any) -> str:
    """An ISO timestamp (or datetime) in ``zone``, to the second, without the offset."""
    import datetime as dt

    if value is None or value == "":
        return ""
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def report_zone() -> Any:
    """The time zone reports show times in: ``RISKGRAPH_TIMEZONE``, Asia/Shanghai by default."""
    import os
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = os.environ.get("RISKGRAPH_TIMEZONE", "Asia/Shanghai")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"RISKGRAPH_TIMEZONE={name!r} is not a time zone name") from None


_TEMPLATES = Path(__file__).resolve().parent / "templates"


def render_queue_report(
    flags: list[dict[str, Any]],
    *,
    lang: str = "zh",
    filters: dict[str, str] | None = None,
    user_name: str = "",
    region_names: dict[str, str] | None = None,
    detector_titles: dict[str, dict[str, str]] | None = None,
    limit: int | None = None,
    reviews: list[Any] = (),  # type: ignore[assignment]
    generated_at: str | None = None,
    masked: bool | None = True,
    pdf: bool = False,
) -> str:
    """A printable report of flags as the API shows them to one user (already masked for
    their role), severity first, with each flag's id, score and its unit, review status and the
    latest decision comment; times in the local zone (:func:`report_zone`).

    ``masked`` says what the note under the title tells the reader: True (masked for the
    role), False (the role sees personal data in full), None (masked offline).

    Examples
    --------
    >>> row = {"flag_id": "F1", "detector": "aid.paid_in_prison", "severity": "high",
    ...        "score": 3.0, "region_code": "410822", "subject_id": "H1", "status": "open",
    ...        "explanation": {"zh": "示例", "en": "example"}}
    >>> html = render_queue_report([row], lang="en", user_name="li")
    >>> "example" in html and "F1" in html and "Asia/Shanghai" in html
    True
    """
    import datetime as dt

    from jinja2 import Environment, FileSystemLoader

    from engine.scores import SCORES

    lang = pick_lang(lang)
    t = STRINGS[lang]
    zone = report_zone()
    names = region_names or {}
    titles = {k: v.get(lang, k) for k, v in (detector_titles or {}).items()}
    latest: dict[str, str] = {}
    for r in reviews:
        if r.comment:
            latest[r.flag_id] = f"{r.user_name}（{_local_time(r.created_at, zone)}）: {r.comment}"
    generated = _local_time(generated_at or dt.datetime.now(dt.UTC), zone)
    from api.reports.i18n import field_name, value_name

    filter_text = "; ".join(
        f"{field_name(k, lang)}={value_name(v, lang)}" for k, v in sorted((filters or {}).items())
    )
    flags = sorted(
        flags, key=lambda f: (_SEVERITY_RANK.get(f["severity"], 3), -float(f.get("score") or 0))
    )
    rows = []
    for f in flags:
        status = str(f.get("status") or "open")
        explanation = f.get("explanation") or {}
        code = str(f.get("region_code") or "")
        meaning = SCORES.get(f["detector"])
        unit = (meaning.unit_zh if lang == "zh" else meaning.unit_en) if meaning else ""
        evidence = f.get("evidence") or {}
        rows.append({
            "flag_id": f["flag_id"], "severity": f["severity"], "status": status,
            "score_text": f"{float(f.get('score') or 0):,.2f}", "unit": unit if unit != "—" else "",
            "detector_title": titles.get(f["detector"], f["detector"]),
            "region": _region_label(code, names, t) if code else "",
            "subject": f.get("subject_id"),
            "explanation": explanation.get(lang) or explanation.get("en") or "",
            "evidence_n": sum(len(v) for v in evidence.values() if isinstance(v, list)),
            "latest": latest.get(f["flag_id"], ""),
        })  # fmt: skip
    by_det = _severity_counts(flags, "detector")
    order = sorted(by_det, key=lambda d: (-sum(by_det[d].values()), d))
    chart = (
        _svg_stacked_bars([(titles.get(d, d), by_det[d]) for d in order], t, t["report_by_detector"])
        if flags else ""
    )  # fmt: skip
    note = {True: "report_masked_for", False: "report_clear_for", None: "report_masked_offline"}
    env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=True)
    return env.get_template("queue_report.html").render(
        t=t, lang=lang, css=_CSS, generated=generated, user_name=user_name,
        filter_text=filter_text, pdf=pdf, flags=flags, rows=rows, limit=limit,
        limited=limit is not None and len(flags) >= limit,
        statuses=("open", "confirmed", "dismissed", "needs_field_check"),
        status_counts=Counter(str(f.get("status") or "open") for f in flags),
        detector_chart=chart, region_section=_region_section(flags, names, t, titles) if flags else [],
        times_note=t["report_times_in"].format(zone=getattr(zone, "key", str(zone))),
        masking_note=t[note[masked]],
    )  # fmt: skip


_SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


def render_pdf(document: str) -> bytes:
    """An HTML report as PDF (WeasyPrint; CJK text needs a CJK font installed, e.g. Debian's
    fonts-noto-cjk, which ``make browser-deps`` installs)."""
    from weasyprint import HTML

    return HTML(string=document).write_pdf()


def write_report(
    scan_dir: str | Path, out_file: str | Path, lang: str = "zh", unmasked: bool = False
) -> Path:
    """Render ``scan_dir``'s ``summary.json`` + ``flags.jsonl`` into ``out_file``."""
    scan = Path(scan_dir)
    summary = json.loads((scan / "summary.json").read_text("utf-8"))
    flags = read_flags(scan / "flags.jsonl") if (scan / "flags.jsonl").exists() else []
    out = Path(out_file)
    out.write_text(render_report(summary, flags, lang=lang, unmasked=unmasked), "utf-8")
    return out


def write_region_report(
    scan_dir: str | Path,
    out_file: str | Path,
    region: str,
    lang: str = "zh",
    unmasked: bool = False,
) -> Path:
    """Like :func:`write_report`, for the flags of one region and everything under it.

    ``region`` is a 6-digit code (``410800`` covers ``4108xx``); the flag counts are those of
    the region's flags, the load section is the whole dataset's.
    """
    from api.access.scopes import RegionScope, is_region_code
    from engine.outputs import flag_counts
    from graph_models.errors import DataError

    if not is_region_code(region):
        raise DataError("bad_region", f"region codes are 6 digits: {region}")
    scan = Path(scan_dir)
    summary = json.loads((scan / "summary.json").read_text("utf-8"))
    flags = read_flags(scan / "flags.jsonl") if (scan / "flags.jsonl").exists() else []
    scope = RegionScope([region])
    flags = [f for f in flags if scope.covers(f.region_code)]
    names = _names_from_evidence(_flag_rows(flags))
    summary = {
        **summary,
        "flags": flag_counts(flags),
        "flags_total": len(flags),
        "report_region": {"code": region, "name": names.get(region)},
    }
    out = Path(out_file)
    out.write_text(render_report(summary, flags, lang=lang, unmasked=unmasked), "utf-8")
    return out
