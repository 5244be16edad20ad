"""The CLI as a user runs it: real subprocesses, real files, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import dataset_builder as db

RISKGRAPH = [sys.executable, "-m", "api.cli.main"]
ROOT = Path(__file__).resolve().parents[3]


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
    return subprocess.run(
        [*RISKGRAPH, *args], capture_output=True, text=True, cwd=cwd or ROOT,
        env={**os.environ, "RISKGRAPH_STORE": "memory", "COLUMNS": "200", **(env or {})},
    )  # fmt: skip


def test_scan_writes_what_the_contract_lists(tmp_path):
    dataset = db.build(tmp_path / "ds")
    out = tmp_path / "out"
    r = run("scan", str(dataset), "--out", str(out), "--as-of", "2024-06-30")
    assert r.returncode == 0, r.stderr
    for name in ("flags.jsonl", "flags.csv", "summary.json", "report.html"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["load"] == db.EXPECTED
    assert set(summary) >= {"load", "flags", "settings", "digests", "timings"}
    rejects = {p.name for p in (out / "rejects").iterdir()}
    # one reject file per table with rejects, beside the clerks' validation report (and lists of
    # blanked cells / skipped lines where there are any)
    assert {n for n in rejects if n.count(".") == 1 and n.endswith(".csv")} == {
        f"{t}.csv" for t, c in db.EXPECTED.items() if c["rejected"]
    }
    assert {"validation-report.html", "validation-report.xlsx"} <= rejects
    for line in (out / "flags.jsonl").read_text("utf-8").splitlines():
        flag = json.loads(line)
        assert {"flag_id", "detector", "severity", "score", "subject", "entities", "region_code",
                "evidence", "explanation"} <= set(flag)  # fmt: skip
        assert flag["explanation"]["zh"] and flag["explanation"]["en"]


def test_scan_is_reproducible(tmp_path):
    dataset = db.build(tmp_path / "ds")
    outs = []
    for name in ("a", "b"):
        r = run("scan", str(dataset), "--out", str(tmp_path / name), "--as-of", "2024-06-30")
        assert r.returncode == 0, r.stderr
        outs.append((tmp_path / name / "flags.jsonl").read_text("utf-8"))
    assert outs[0] == outs[1]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["scan", "/nonexistent/dir", "--out", "OUT"], "no such dataset directory"),
        (["load", "/nonexistent/dir", "--workspace", "WS"], "no such dataset directory"),
    ],
)
def test_missing_directory_is_one_line_and_nonzero(tmp_path, args, needle):
    args = [a.replace("OUT", str(tmp_path / "o")).replace("WS", str(tmp_path / "w")) for a in args]
    r = run(*args)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr


def test_wrong_typed_column_and_unreadable_file(tmp_path):
    d = tmp_path / "ds"
    d.mkdir()
    (d / "deaths.csv").write_text(
        "person_id,death_date\n" + "".join(f"{db.HEAD1},{i}月\n" for i in range(30)), "utf-8"
    )
    r = run("load", str(d), "--workspace", str(tmp_path / "ws"))
    assert r.returncode == 2 and "deaths.death_date" in r.stderr and "Traceback" not in r.stderr
    (d / "deaths.csv").write_bytes(b"person_id,death_date\n\xff\xfe\x80\x81\n")
    r = run("load", str(d), "--workspace", str(tmp_path / "ws"))
    assert r.returncode == 2 and "neither UTF-8 nor GB18030" in r.stderr
    r = run("--debug", "load", str(d), "--workspace", str(tmp_path / "ws"))
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_load_json_report_balances(tmp_path):
    dataset = db.build(tmp_path / "ds")
    r = run("load", str(dataset), "--workspace", str(tmp_path / "ws"), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    for table, t in report["tables"].items():
        assert t["balanced"] and t["read"] == t["loaded"] + t["rejected"] + t["duplicate"], table
