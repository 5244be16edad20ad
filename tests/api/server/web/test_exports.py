"""Excel exports and HTML reports: command line and web downloads."""

from __future__ import annotations

import json
import re
from io import BytesIO

from click.testing import CliRunner
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from api.cli.main import main
from api.reports.html_report import render_report, write_region_report
from api.reports.workbook import flags_workbook_bytes
from api.server.state.models import AuditEntry
from tests.api.server.web.conftest import INSPECTOR_COUNTY, OTHER_COUNTY
from tests.api.server.web.test_session import sign_in

_PERSON_ID = re.compile(r"(?<![0-9A-Z])\d{17}[\dX](?![0-9A-Z])")


def _jsonl(scan_dir):
    return [json.loads(line) for line in (scan_dir / "flags.jsonl").read_text("utf-8").splitlines()]


def _org_codes(scan_dir) -> set[str]:
    """Every organisation code of the dataset (never masked, even when shaped like an ID)."""
    import csv

    codes = set()
    for name in ("gov_units.csv", "enterprises.csv"):
        with open(scan_dir.parent / "dataset" / name, encoding="utf-8-sig") as fh:
            codes |= {row[0] for row in list(csv.reader(fh))[1:]}
    return codes


def _person_ids(texts, orgs) -> list[str]:
    return [m for t in texts for m in _PERSON_ID.findall(t) if m not in orgs]


def _cells(ws):
    return [c.value for row in ws.iter_rows(min_row=2) for c in row if c.value is not None]


def test_cli_export_flags_writes_every_flag_masked(web_site, tmp_path):
    out = tmp_path / "flags.xlsx"
    result = CliRunner().invoke(main, ["export-flags", str(web_site.scan_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    wb = load_workbook(out)
    assert wb.sheetnames == ["线索", "证据", "核查记录", "统计"]
    flags = _jsonl(web_site.scan_dir)
    ids = [r[0].value for r in wb["线索"].iter_rows(min_row=2)]
    assert sorted(ids) == sorted(f["flag_id"] for f in flags)
    assert wb["线索"].freeze_panes == "A2" and wb["线索"].auto_filter.ref
    evidence_rows = wb["证据"].max_row - 1
    assert evidence_rows >= len(flags)
    texts = [str(v) for ws in wb for v in _cells(ws)]
    orgs = _org_codes(web_site.scan_dir)
    assert not _person_ids(texts, orgs), "resident IDs must be masked"
    shown = {m for t in texts for m in _PERSON_ID.findall(t)}
    assert shown and shown <= orgs  # organisation codes stay readable
    counts = {r[0].value: r[2].value for r in wb["统计"].iter_rows(min_row=2)}
    assert sum(counts.values()) == len(flags)


def test_cli_export_flags_unmasked_and_by_region(web_site, tmp_path):
    out = tmp_path / "region.xlsx"
    args = ["export-flags", str(web_site.scan_dir), "--out", str(out), "--lang", "en"]
    result = CliRunner().invoke(main, [*args, "--region", OTHER_COUNTY, "--unmasked"])
    assert result.exit_code == 0, result.output
    ws = load_workbook(out)["Flags"]
    assert ws["F1"].value == "Score meaning" and ws["G1"].value == "Region"
    regions = [r[6].value for r in ws.iter_rows(min_row=2)]
    expected = [f for f in _jsonl(web_site.scan_dir) if f["region_code"] == OTHER_COUNTY]
    assert len(regions) == len(expected) > 0 and set(regions) == {OTHER_COUNTY}
    subjects = {str(r[7].value) for r in ws.iter_rows(min_row=2)}
    assert subjects == {str(f["subject"]["id"]) for f in expected}
    bad = CliRunner().invoke(main, ["export-flags", str(web_site.scan_dir), "--out",
                                    str(out), "--region", "4116"])  # fmt: skip
    assert bad.exit_code == 2 and "6 digits" in bad.output


def test_text_from_data_never_becomes_a_formula():
    evil = '=HYPERLINK("http://x","click")'
    flag = {"flag_id": "F1", "detector": "aid.paid_in_prison", "severity": "high", "score": 1.0,
            "region_code": "410822", "subject_type": "person_id", "subject_id": evil,
            "explanation": {"zh": "+1", "en": "@SUM(A1)"},
            "evidence": {"records": [{"_table": "t", "_line": 2, "name": "-2+3"}]}}  # fmt: skip
    wb = load_workbook(BytesIO(flags_workbook_bytes([flag], lang="en")))
    cells = [c for ws in wb for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert wb["Flags"]["H2"].value == evil
    assert "Name: -2+3" in wb["Evidence"]["G2"].value


def test_web_downloads_follow_the_filter_and_the_role(web_site):
    client = TestClient(web_site.app, follow_redirects=False)
    sign_in(client, web_site.tokens["inspector"])
    r = client.get("/web/export.xlsx", params={"severity": "high", "lang": "en"})
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    ws = load_workbook(BytesIO(r.content))["Flags"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert rows and all(row[3] == "High" for row in rows)
    assert all(str(row[6]).endswith(f"({INSPECTOR_COUNTY})") for row in rows)  # name (code)
    assert all(str(row[1]).startswith("aid.") for row in rows)
    report = client.get("/web/report.html", params={"status": "open"})
    assert report.status_code == 200 and "attachment" in report.headers["content-disposition"]
    assert "<svg" in report.text and "线索核查报告" in report.text
    assert OTHER_COUNTY not in report.text
    with web_site.db.read() as s:
        actions = set(s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "inspector")))
    assert {"web_export", "web_report"} <= actions
    assert client.get("/web/export.xlsx", params={"region": OTHER_COUNTY}).status_code == 403
    # the same filter as CSV (one row per evidence record) and as PDF
    csv_r = client.get("/web/export.csv", params={"severity": "high"})
    assert csv_r.status_code == 200 and csv_r.content.startswith("\ufeff".encode())
    lines = csv_r.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("线索编号,风险等级,得分,得分含义") and len(lines) > len(rows)
    assert OTHER_COUNTY not in csv_r.text
    pdf = client.get("/web/report.pdf", params={"severity": "high"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"


def test_region_report_only_has_that_regions_flags(web_site, tmp_path):
    out = write_region_report(web_site.scan_dir, tmp_path / "r.html", OTHER_COUNTY, lang="en")
    text = out.read_text("utf-8")
    expected = [f for f in _jsonl(web_site.scan_dir) if f["region_code"] == OTHER_COUNTY]
    assert f"Flags ({len(expected):,})" in text
    assert "<svg" in text and "Flags by region" in text
    others = {f["region_code"] for f in _jsonl(web_site.scan_dir)} - {OTHER_COUNTY}
    region_cells = re.findall(r"<tr><td>([^<]*)</td><td class='n'>", text)
    assert region_cells and not [c for c in region_cells if any(o in c for o in others)]
    valid_ids = [f["subject"]["id"] for f in expected if f["subject"]["type"] == "person_id"]
    assert valid_ids and not [i for i in valid_ids if i in text]


def test_full_report_charts_by_detector_and_region(web_site):
    summary = json.loads((web_site.scan_dir / "summary.json").read_text("utf-8"))
    from engine.outputs import read_flags

    flags = read_flags(web_site.scan_dir / "flags.jsonl")
    text = render_report(summary, flags, lang="zh")
    assert text.count("<svg") == 2 and "各区划线索数" in text
    for code in {f.region_code for f in flags if f.region_code}:
        assert code in text
