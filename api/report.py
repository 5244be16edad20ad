"""A self-contained, printable HTML report of a scan (zh-CN by default, English available).

Resident ID numbers are masked in the report unless ``unmasked=True`` (a printed report travels).

Examples
--------
>>> html = render_report({"flags": {}, "flags_total": 0, "load": None}, [], lang="en")
>>> "riskgraph" in html
True
"""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from engine.flags import Flag
from engine.outputs import read_flags
from graph_models.value_types import mask_person_id

__all__ = ["render_report", "write_report"]

_PID = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[\dXx](?![0-9A-Za-z])"
)

T = {
    "zh": {
        "title": "riskgraph 风险扫描报告",
        "generated": "生成时间",
        "dataset": "数据集",
        "as_of": "基准日",
        "load": "数据装载",
        "table": "数据表",
        "read": "读取",
        "loaded": "装载",
        "rejected": "拒收",
        "duplicate": "重复",
        "dangling": "悬空引用",
        "balanced": "核平",
        "flags": "风险线索",
        "detector": "检测规则",
        "total": "合计",
        "high": "高",
        "medium": "中",
        "low": "低",
        "top": "重点线索（按得分排序，每条规则前 {n} 条）",
        "score": "得分",
        "severity": "等级",
        "region": "区划",
        "explanation": "说明",
        "skipped": "未运行的规则",
        "reason": "原因",
        "none": "无",
        "masked": "身份证号已脱敏。",
        "missing": "缺少的数据表",
    },
    "en": {
        "title": "riskgraph scan report",
        "generated": "Generated",
        "dataset": "Dataset",
        "as_of": "As of",
        "load": "Data load",
        "table": "Table",
        "read": "Read",
        "loaded": "Loaded",
        "rejected": "Rejected",
        "duplicate": "Duplicate",
        "dangling": "Dangling",
        "balanced": "Balanced",
        "flags": "Flags",
        "detector": "Detector",
        "total": "Total",
        "high": "High",
        "medium": "Medium",
        "low": "Low",
        "top": "Top flags (by score, first {n} per detector)",
        "score": "Score",
        "severity": "Severity",
        "region": "Region",
        "explanation": "Explanation",
        "skipped": "Detectors not run",
        "reason": "Reason",
        "none": "None",
        "masked": "Resident ID numbers are masked.",
        "missing": "Missing tables",
    },
}

_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",system-ui,sans-serif;margin:2rem;color:#1a1a1a}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:2px solid #2b4c7e;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0}
th,td{border:1px solid #ccd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eef2f8} td.n{text-align:right;font-variant-numeric:tabular-nums}
.meta{color:#444;font-size:.9rem} .sev-high{color:#a40000;font-weight:bold} .sev-medium{color:#8a5a00} .sev-low{color:#335}
.bar{display:inline-block;height:.8rem;background:#2b4c7e;vertical-align:middle}
@media print{body{margin:1cm} h2{page-break-after:avoid} tr{page-break-inside:avoid}}
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _mask(text: str) -> str:
    return _PID.sub(lambda m: mask_person_id(m.group(0)), text)


def render_report(
    summary: dict[str, Any],
    flags: list[Flag],
    lang: str = "zh",
    top: int = 20,
    unmasked: bool = False,
) -> str:
    """Render the report as one HTML string (no external assets; prints cleanly to PDF)."""
    t = T.get(lang, T["zh"])
    clean = (lambda s: s) if unmasked else _mask
    parts = [
        f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
        f"<title>{_e(t['title'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(t['title'])}</h1>",
        f'<p class="meta">{_e(t["generated"])}: {_e(summary.get("generated_at"))} · '
        f"{_e(t['dataset'])}: {_e(summary.get('dataset'))} · {_e(t['as_of'])}: {_e(summary.get('as_of'))}"
        f"{'' if unmasked else ' · ' + _e(t['masked'])}</p>",
    ]
    load = summary.get("load")
    if load:
        parts.append(f"<h2>{_e(t['load'])}</h2><table><tr>")
        cols = ["read", "loaded", "rejected", "duplicate", "dangling"]
        parts.append(f"<th>{_e(t['table'])}</th>" + "".join(f"<th>{_e(t[c])}</th>" for c in cols))
        parts.append(f"<th>{_e(t['balanced'])}</th></tr>")
        for table, c in load.items():
            ok = c["read"] == c["loaded"] + c["rejected"] + c["duplicate"]
            parts.append(
                f"<tr><td>{_e(table)}</td>"
                + "".join(f'<td class="n">{c[k]:,}</td>' for k in cols)
                + f"<td>{'✔' if ok else '✘'}</td></tr>"
            )
        parts.append("</table>")
        missing = (summary.get("load_detail") or {}).get("missing_tables") or []
        if missing:
            parts.append(f'<p class="meta">{_e(t["missing"])}: {_e(", ".join(missing))}</p>')
    counts = summary.get("flags") or {}
    parts.append(f"<h2>{_e(t['flags'])} ({summary.get('flags_total', len(flags)):,})</h2>")
    if counts:
        peak = max(c.get("total", 0) for c in counts.values()) or 1
        parts.append(
            f"<table><tr><th>{_e(t['detector'])}</th><th>{_e(t['total'])}</th>"
            f"<th>{_e(t['high'])}</th><th>{_e(t['medium'])}</th><th>{_e(t['low'])}</th><th></th></tr>"
        )
        for det, c in counts.items():
            width = int(200 * c.get("total", 0) / peak)
            parts.append(
                f"<tr><td>{_e(det)}</td><td class='n'>{c.get('total', 0):,}</td>"
                f"<td class='n'>{c.get('high', 0):,}</td><td class='n'>{c.get('medium', 0):,}</td>"
                f"<td class='n'>{c.get('low', 0):,}</td>"
                f'<td><span class="bar" style="width:{width}px" aria-hidden="true"></span></td></tr>'
            )
        parts.append("</table>")
    else:
        parts.append(f"<p>{_e(t['none'])}</p>")
    by_det: dict[str, list[Flag]] = defaultdict(list)
    for f in flags:
        by_det[f.detector].append(f)
    if by_det:
        parts.append(f"<h2>{_e(t['top'].format(n=top))}</h2>")
        for det in sorted(by_det):
            items = sorted(by_det[det], key=lambda f: (-f.score, f.flag_id))[:top]
            parts.append(
                f"<h3>{_e(det)}</h3><table><tr><th>{_e(t['severity'])}</th><th>{_e(t['score'])}</th>"
                f"<th>{_e(t['region'])}</th><th>{_e(t['explanation'])}</th></tr>"
            )
            for f in items:
                text = f.explanation.get(lang) or f.explanation.get("en") or ""
                parts.append(
                    f'<tr><td class="sev-{_e(f.severity)}">{_e(t[f.severity])}</td>'
                    f'<td class="n">{f.score:,.2f}</td><td>{_e(f.region_code)}</td>'
                    f"<td>{_e(clean(text))}</td></tr>"
                )
            parts.append("</table>")
    skipped = summary.get("skipped") or {}
    if skipped:
        parts.append(
            f"<h2>{_e(t['skipped'])}</h2><table><tr><th>{_e(t['detector'])}</th><th>{_e(t['reason'])}</th></tr>"
        )
        for det, why in sorted(skipped.items()):
            parts.append(f"<tr><td>{_e(det)}</td><td>{_e(why)}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


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
