"""``riskgraph scan --engine spark``: the same output files as an embedded scan of the same data."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from api.cli.main import main

pytestmark = pytest.mark.spark


def _flags(path):
    return [json.loads(line) for line in (path / "flags.jsonl").read_text("utf-8").splitlines()]


def test_spark_scan_writes_the_embedded_outputs(spark, tmp_path):
    runner = CliRunner()
    data = tmp_path / "data"
    assert (
        runner.invoke(main, ["synth", str(data), "--households", "120", "--seed", "3"]).exit_code
        == 0
    )
    # one detector of each placement: register SQL, per component (with the detectors the
    # roll-up uses), on the driver; the parity tests cover every detector
    only = ["aid.deceased_recipient", "aid.fraud_ring", "guarantee.circle", "debt.region_risk"]
    common = ["--as-of", "2024-06-30", "--no-report", *(x for d in only for x in ("--only", d))]
    # a workspace each: both scans are first scans (every flag new since no previous one)
    a = runner.invoke(main, ["scan", str(data), "--out", str(tmp_path / "a"),
                             "--workspace", str(tmp_path / "wa"), *common])  # fmt: skip
    assert a.exit_code == 0, a.output
    b = runner.invoke(
        main,
        ["scan", str(data), "--out", str(tmp_path / "b"), "--workspace", str(tmp_path / "wb"),
         "--engine", "spark", "--spark-master", "local[2]", *common],
    )  # fmt: skip
    assert b.exit_code == 0, b.output
    for name in ("flags.jsonl", "flags.csv", "summary.json"):
        assert (tmp_path / "b" / name).exists()
    embedded, on_spark = _flags(tmp_path / "a"), _flags(tmp_path / "b")
    assert embedded, "the synthetic county raises flags"
    # rings are communities: their ids may differ; every other flag is byte-for-byte the same
    rest = [f for f in embedded if f["detector"] != "aid.fraud_ring"]
    assert [f for f in on_spark if f["detector"] != "aid.fraud_ring"] == rest
    assert sum(f["detector"] == "aid.fraud_ring" for f in on_spark) == sum(
        f["detector"] == "aid.fraud_ring" for f in embedded
    )
    summary_a = json.loads((tmp_path / "a" / "summary.json").read_text("utf-8"))
    summary_b = json.loads((tmp_path / "b" / "summary.json").read_text("utf-8"))
    assert summary_b["engine"] == "spark" and summary_a["engine"] == "embedded"
    assert summary_b["flags"] == summary_a["flags"]
    assert summary_b["skipped"] == summary_a["skipped"]
