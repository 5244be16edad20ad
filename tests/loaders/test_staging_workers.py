"""Tables staged by worker processes: the oracle is the same load in one process.

Whatever the workers stage, the graph, the load report, the rejects and what the workspace says
it read must be exactly those of a load that reads every file itself, in order.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from fixtures.synth import generate
from graph_models.errors import DataError
from graph_models.memory_store import MemoryStore
from loaders.staging_workers import MIN_ROWS, stage_workers
from loaders.workspace import Workspace
from tests.loaders.test_workspace import assert_same_graph


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("synth") / "ds"
    generate(d, households=150, seed=11)
    # an unreadable file and a second payments file: a table that stays in the loading
    # process and a table of two files in one worker
    (d / "vehicles.csv").unlink()
    (d / "vehicles.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    pay = pd.read_csv(d / "aid_payments.csv", dtype=str, encoding="gb18030")
    (d / "aid_payments.csv").unlink()
    (d / "aid_payments").mkdir()
    pay.iloc[: len(pay) // 2].to_csv(d / "aid_payments" / "2024-01.csv", index=False)
    pay.iloc[len(pay) // 3 :].to_csv(d / "aid_payments" / "2024-02.csv", index=False)
    return d


def _load(ws: Path, data: Path, workers: int, monkeypatch):
    monkeypatch.setenv("RISKGRAPH_LOAD_WORKERS", str(workers))
    with Workspace(ws).load(data, allow_partial=True) as build:
        build.commit()
    return build


def _report(build) -> dict:
    doc = json.loads(json.dumps(build.report.as_dict(), default=str))
    doc.pop("seconds", None)
    for t in doc["tables"].values():
        t.pop("seconds", None)
    return doc


def _rejects(ws: Path) -> dict[str, bytes]:
    folder = ws / "current" / "rejects"
    return {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if not p.name.startswith("validation-report")  # these say when they were written
    }


def test_tables_staged_by_workers_give_the_load_of_one_process(tmp_path, dataset, monkeypatch):
    one = _load(tmp_path / "one", dataset, 1, monkeypatch)
    two = _load(tmp_path / "two", dataset, 2, monkeypatch)
    assert_same_graph(MemoryStore(tmp_path / "two"), MemoryStore(tmp_path / "one"))
    assert _report(two) == _report(one)
    assert two.report.problems and two.report.problems == one.report.problems  # vehicles.xlsx
    assert _rejects(tmp_path / "two") == _rejects(tmp_path / "one")
    assert two.loaded_files == one.loaded_files and two.reused_files == []
    assert "aid_payments/2024-02.csv" in two.loaded_files
    # what the workspace keeps of each file is the same: the next load reads nothing again
    again = _load(tmp_path / "two", dataset, 2, monkeypatch)
    assert again.loaded_files == [] and sorted(again.reused_files) == sorted(one.loaded_files)
    assert again.report.problems == one.report.problems  # the unreadable file, tried again


def test_a_delivery_staged_by_a_worker_equals_a_fresh_load(tmp_path, dataset, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(dataset, data)
    ws = tmp_path / "ws"
    _load(ws, data, 2, monkeypatch)
    month = data / "aid_payments" / "2024-01.csv"
    shutil.copyfile(month, data / "aid_payments" / "2024-03.csv")  # the same rows again
    build = _load(ws, data, 2, monkeypatch)
    assert build.loaded_files == ["aid_payments/2024-03.csv"]
    fresh = _load(tmp_path / "fresh", data, 1, monkeypatch)
    assert_same_graph(MemoryStore(ws), MemoryStore(tmp_path / "fresh"))
    assert _report(build)["tables"] == _report(fresh)["tables"]
    (delivery,) = build.report.deliveries
    assert delivery["file"] == "aid_payments/2024-03.csv" and delivery["identical_rows"] > 0


def test_how_many_workers(monkeypatch):
    monkeypatch.delenv("RISKGRAPH_LOAD_WORKERS", raising=False)
    assert stage_workers(MIN_ROWS - 1, 5, cpus=8) == 1
    assert stage_workers(MIN_ROWS, 5, cpus=8) == 5
    assert stage_workers(MIN_ROWS, 5, cpus=2) == 2
    assert stage_workers(10**8, 1, cpus=2) == 1
    monkeypatch.setenv("RISKGRAPH_LOAD_WORKERS", "3")
    assert stage_workers(10, 5, cpus=1) == 3
    monkeypatch.setenv("RISKGRAPH_LOAD_WORKERS", "many")
    with pytest.raises(DataError, match="RISKGRAPH_LOAD_WORKERS"):
        stage_workers(10, 5)


def test_progress_lines_count_every_row_of_every_table(tmp_path, dataset, monkeypatch):
    """Tables staged side by side are each shown done with all their rows (a worker says a
    table is done on the queue its rows came by, so no row arrives after the table's line)."""
    import io
    import re

    from rich.console import Console

    from api.cli.progress import Reporter

    monkeypatch.setenv("RISKGRAPH_LOAD_WORKERS", "2")
    out = io.StringIO()
    with (
        Reporter(Console(file=out, width=200), terminal=False) as reporter,
        Workspace(tmp_path / "ws").load(dataset, allow_partial=True, progress=reporter) as build,
    ):
        build.commit()
    shown = {m[1]: int(m[2].replace(",", ""))
             for m in re.finditer(r"load (\w+): ([\d,]+) rows in", out.getvalue())}  # fmt: skip
    # every table, the unreadable vehicles.xlsx with its 0 rows too
    assert shown == {t: r.read for t, r in build.report.tables.items()}
