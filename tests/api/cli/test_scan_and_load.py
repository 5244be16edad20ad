"""The CLI as a user runs it: real subprocesses, real files, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests import dataset_builder as db

RISKGRAPH = [sys.executable, "-m", "api.cli.main"]
ROOT = Path(__file__).resolve().parents[3]


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
    """The CLI in a subprocess; without ``--workspace`` each run gets a workspace of its own."""
    base = {**os.environ, "RISKGRAPH_STORE": "memory", "COLUMNS": "200"}
    base["RISKGRAPH_WORKSPACE"] = tempfile.mkdtemp(prefix="riskgraph-ws-")
    return subprocess.run(
        [*RISKGRAPH, *args], capture_output=True, text=True, cwd=cwd or ROOT,
        env={**base, **(env or {})},
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


def test_scan_output_in_a_file_is_plain_lines_at_full_width(tmp_path):
    """Piped to a file (no terminal, no COLUMNS): progress per table and per detector as time-
    stamped lines, tables as plain lines, nothing wrapped or cut at 80 columns."""
    dataset = db.build(tmp_path / "a-dataset-directory-with-a-rather-long-name-for-this-test")
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env.update({"RISKGRAPH_STORE": "memory", "RISKGRAPH_WORKSPACE": str(tmp_path / "ws")})
    r = subprocess.run(
        [*RISKGRAPH, "scan", str(dataset), "--out", str(tmp_path / "out"), "--as-of",
         "2024-06-30", "--no-report"],
        capture_output=True, text=True, cwd=ROOT, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert not any("\x1b" in ln for ln in lines)  # no terminal control codes
    stamped = [ln for ln in lines if ln[:2].isdigit() and ln[2] == ":"]
    tables = {ln.split()[2].rstrip(":") for ln in stamped if ln.split()[1] == "load"}
    assert tables == set(db.EXPECTED)  # every table, the Parquet one included
    detectors = [ln for ln in stamped if ln.split()[1] == "detect"]
    assert detectors and all("flags in" in ln for ln in detectors)
    assert detectors[-1].split()[2].startswith("[") and "/" in detectors[-1].split()[2]
    header = next(ln for ln in lines if ln.startswith("table ") and "dangling" in ln)
    assert len(header) > 80 and header.split() == [
        "table", "file", "encoding", "files", "read", "loaded", "rejected", "duplicate",
        "dangling"]  # fmt: skip
    flags = next(ln for ln in lines if ln.startswith("detector ") and ln.rstrip().endswith("new"))
    assert flags.split()[-1] == "new"
    assert f"outputs in {tmp_path / 'out'}" in r.stderr  # the long path whole, on one line


def test_a_second_scan_of_unchanged_files_goes_straight_to_detection(tmp_path):
    dataset = db.build(tmp_path / "ds")
    ws = tmp_path / "ws"
    for name in ("a", "b"):
        r = run("scan", str(dataset), "--out", str(tmp_path / name), "--workspace", str(ws),
                "--as-of", "2024-06-30", "--no-report")  # fmt: skip
        assert r.returncode == 0, r.stderr
    first = json.loads((tmp_path / "a" / "summary.json").read_text("utf-8"))
    second = json.loads((tmp_path / "b" / "summary.json").read_text("utf-8"))
    assert first["workspace"]["loaded_files"] and second["workspace"]["loaded_files"] == []
    assert second["load"] == first["load"] == db.EXPECTED
    assert second["new_since_previous_scan"]["new"] == 0
    assert second["new_since_previous_scan"]["previous_scan"]["generation"] == 1
    assert second["workspace"]["generation"] == 2
    flags = [
        json.loads(x) for x in (tmp_path / "b" / "flags.jsonl").read_text("utf-8").split("\n") if x
    ]
    assert flags and not any(f["new_since_previous_scan"] for f in flags)
    assert (tmp_path / "a" / "rejects").exists() and sorted(
        p.name for p in (tmp_path / "a" / "rejects").iterdir()
    ) == sorted(p.name for p in (tmp_path / "b" / "rejects").iterdir())
    r = run("load", str(dataset), "--workspace", str(ws))
    assert r.returncode == 0 and "is up to date" in r.stderr


def test_a_rescan_says_which_detectors_it_reused_and_fresh_runs_them(tmp_path):
    """Unchanged detectors are reused and the progress lines say so; ``--fresh`` runs them."""
    dataset = db.build(tmp_path / "ds")
    ws = tmp_path / "ws"
    common = ["--workspace", str(ws), "--as-of", "2024-06-30", "--no-report"]
    r = run("scan", str(dataset), "--out", str(tmp_path / "a"), *common)
    assert r.returncode == 0, r.stderr
    settings = tmp_path / "settings.yaml"
    settings.write_text("aid.shared_account:\n  min_households: 2\n", "utf-8")
    r = run(
        "scan", str(dataset), "--out", str(tmp_path / "b"), "--settings", str(settings), *common
    )
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if " detect [" in ln]
    reused = [ln for ln in lines if "reused from the previous scan" in ln]
    assert reused and not any("aid.shared_account" in ln for ln in reused)
    assert any("aid.shared_account" in ln and "flags in" in ln for ln in lines)
    # the reused ones are listed first, so the time left then counts only what runs
    assert lines[: len(reused)] == reused
    b = json.loads((tmp_path / "b" / "summary.json").read_text("utf-8"))
    assert len(reused) == len(b["reused"]) and "aid.shared_account" not in b["reused"]
    r = run("scan", str(dataset), "--out", str(tmp_path / "c"), "--settings", str(settings),
            "--fresh", *common)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "reused from the previous scan" not in r.stderr
    c = json.loads((tmp_path / "c" / "summary.json").read_text("utf-8"))
    assert c["reused"] == {} and c["flags"] == b["flags"]
    one = [ln for ln in (tmp_path / "b" / "flags.jsonl").read_text("utf-8").splitlines()]
    two = [ln for ln in (tmp_path / "c" / "flags.jsonl").read_text("utf-8").splitlines()]
    strip = lambda ln: {k: v for k, v in json.loads(ln).items() if k != "new_since_previous_scan"}  # noqa: E731
    assert [strip(x) for x in one] == [strip(x) for x in two]
