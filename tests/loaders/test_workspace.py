"""Workspaces: load once, scan many; a changed file reloads its table; monthly deliveries.

The oracle is always a fresh load of the same directory into an empty workspace: whatever a
workspace reuses, the graph and the per-table counts must be exactly those.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from fixtures.synth import generate
from graph_models import generations
from graph_models.memory_store import MemoryStore
from loaders.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("synth") / "ds"
    generate(d, households=120, seed=3)
    return d


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def load(ws: Path, dataset: Path, **kw):
    with Workspace(ws).load(dataset, **kw) as build:
        build.commit()
    return build


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in frame.columns if frame[c].notna().any()]
    out = frame.loc[:, sorted(keep)].sort_values("id", kind="stable").reset_index(drop=True)
    return out


def assert_same_graph(a: MemoryStore, b: MemoryStore) -> None:
    ca, cb = a.counts(), b.counts()
    assert ca == cb
    for label in ca["nodes"]:
        pd.testing.assert_frame_equal(_canonical(a.nodes(label)), _canonical(b.nodes(label)))
    for rtype in ca["relationships"]:
        pd.testing.assert_frame_equal(
            _canonical(a.relationships(rtype)), _canonical(b.relationships(rtype))
        )


def fresh(tmp_path: Path, dataset: Path, name: str = "fresh"):
    ws = tmp_path / name
    build = load(ws, dataset)
    return MemoryStore(ws), build


def test_an_unchanged_dataset_is_not_read_again(tmp_path, dataset):
    ws = tmp_path / "ws"
    first = load(ws, dataset)
    assert first.changed and first.reused_files == []
    gen = generations.current(ws)
    second = load(ws, dataset)
    assert not second.changed and second.loaded_files == []
    assert sorted(second.reused_files) == sorted(first.loaded_files)
    assert generations.current(ws) == gen  # nothing was written
    # a scan of the same files gets a new generation with the same graph (hard links)
    with Workspace(ws).load(dataset, always=True) as build:
        assert build.loaded_files == [] and build.path is not None
        new = build.commit()
    assert new.id == gen.id + 1
    for f in (new.graph / "nodes").glob("*.parquet"):
        assert f.stat().st_ino == (gen.graph / "nodes" / f.name).stat().st_ino
    manifest = json.loads((ws / "workspace.json").read_text("utf-8"))
    assert {s["file"] for s in manifest["sources"]} == set(first.loaded_files)
    assert all(len(s["digest"]) == 16 and s["size"] > 0 for s in manifest["sources"])


def _age(directory: Path, seconds: float = 3600) -> None:
    """Make every file look written ``seconds`` ago (a delivery copied in earlier)."""
    past = time.time() - seconds
    for f in directory.rglob("*"):
        if f.is_file():
            os.utime(f, (past, past))


def test_files_unchanged_since_they_were_hashed_are_not_hashed_again(
    tmp_path, dataset, monkeypatch
):
    import loaders.workspace as workspace

    data = _copy(dataset, tmp_path / "data")
    _age(data)
    hashed: list[str] = []
    real = workspace._digest_and_rows

    def counting(src):
        hashed.append(src.path.name)
        return real(src)

    monkeypatch.setattr(workspace, "_digest_and_rows", counting)
    # setting the times changed the files' changed time: let the racy window (made short
    # here) pass before they are hashed
    monkeypatch.setattr(workspace, "_RACY_NS", 100_000_000)
    time.sleep(0.2)
    ws = tmp_path / "ws"
    load(ws, data)
    files = sorted(f.name for f in data.iterdir() if f.is_file() and f.suffix != ".jsonl")
    assert sorted(hashed) == files
    # the workspace's clock: hashed long enough after the files were written to trust
    cache = ws / "parts" / "file-digests.json"
    doc = json.loads(cache.read_text("utf-8"))
    assert len(doc) == len(files)
    hashed.clear()
    second = load(ws, data)
    assert hashed == [] and second.loaded_files == []
    # the same bytes count, the content differs, the modified time is set back: the changed
    # time (which no tool sets back) still gives it away
    target = data / "households.csv"
    st = target.stat()
    raw = bytearray(target.read_bytes())
    at = raw.rindex(b"\n", 0, len(raw) - 1) + 1  # the last line
    raw[at:] = (
        raw[at:].replace(b"1", b"2", 1) if b"1" in raw[at:] else raw[at:].replace(b"0", b"9", 1)
    )
    target.write_bytes(bytes(raw))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert target.stat().st_size == st.st_size and target.stat().st_mtime_ns == st.st_mtime_ns
    third = load(ws, data)
    assert hashed == ["households.csv"] and third.loaded_files == ["households.csv"]


def test_a_file_hashed_right_after_it_was_written_is_hashed_again(tmp_path, dataset, monkeypatch):
    """Racy entries (git's word): a write in the same clock tick may keep every file time, so a
    digest taken within seconds of the last write is not trusted next time."""
    import loaders.workspace as workspace

    data = _copy(dataset, tmp_path / "data")  # just written
    hashed: list[str] = []
    real = workspace._digest_and_rows
    monkeypatch.setattr(
        workspace, "_digest_and_rows", lambda s: hashed.append(s.path.name) or real(s)
    )
    ws = tmp_path / "ws"
    load(ws, data)
    n = len(hashed)
    load(ws, data)
    assert len(hashed) == 2 * n


def test_a_changed_file_reloads_its_table_and_equals_a_fresh_load(tmp_path, dataset):
    data = _copy(dataset, tmp_path / "data")
    ws = tmp_path / "ws"
    load(ws, data)
    # drop the last household: its payments' PAID_FOR relationships go, their rows dangle
    lines = (data / "households.csv").read_bytes().splitlines(keepends=True)
    (data / "households.csv").write_bytes(b"".join(lines[:-1]))
    build = load(ws, data)
    assert build.loaded_files == ["households.csv"]
    assert len(build.reused_files) == len(list(data.glob("*.csv"))) + 2 - 1  # xlsx, parquet
    want, fresh_build = fresh(tmp_path, data)
    assert_same_graph(MemoryStore(ws), want)
    assert build.report.counts() == fresh_build.report.counts()
    assert build.report.counts()["aid_payments"]["dangling"] > 0


def test_monthly_deliveries_load_only_the_new_file(tmp_path, dataset):
    data = _copy(dataset, tmp_path / "data")
    pay = pd.read_csv(data / "aid_payments.csv", dtype=str, encoding="gb18030")
    pay = pay.drop_duplicates()  # the synthetic registers plant a few repeated rows
    (data / "aid_payments.csv").unlink()
    folder = data / "aid_payments"
    folder.mkdir()
    thirds = [pay.iloc[: len(pay) // 3], pay.iloc[len(pay) // 3 : 2 * len(pay) // 3]]
    for i, part in enumerate(thirds, start=1):
        part.to_csv(folder / f"2024-0{i}.csv", index=False)
    ws = tmp_path / "ws"
    load(ws, data)
    rest = pay.iloc[2 * len(pay) // 3 :]
    rest.to_csv(folder / "2024-03.csv", index=False)
    build = load(ws, data)
    assert build.loaded_files == ["aid_payments/2024-03.csv"]
    want, _ = fresh(tmp_path, data)
    assert_same_graph(MemoryStore(ws), want)
    assert build.report.deliveries == []  # no overlap with earlier months
    # the same delivery again: nothing is read, nothing changes
    again = load(ws, data)
    assert not again.changed and again.loaded_files == []
    # a delivery overlapping earlier months: 5 identical rows, 3 payment ids with new amounts
    overlap = pd.concat([thirds[0].iloc[:5], thirds[1].iloc[:3].assign(amount="1.00")])
    overlap.to_csv(folder / "2024-04.csv", index=False)
    build = load(ws, data)
    assert build.loaded_files == ["aid_payments/2024-04.csv"]
    (report,) = build.report.deliveries
    assert report["file"] == "aid_payments/2024-04.csv"
    assert report["identical_rows"] == 5 and report["same_ids"] == {"Payment": 3}
    assert report["earlier_files"] == [f"aid_payments/2024-0{i}.csv" for i in (1, 2, 3)]
    want, _ = fresh(tmp_path, data, "fresh2")
    assert_same_graph(MemoryStore(ws), want)


def test_a_removed_file_leaves_the_graph_and_an_inserted_one_reloads_what_follows(
    tmp_path, dataset
):
    data = _copy(dataset, tmp_path / "data")
    ws = tmp_path / "ws"
    load(ws, data)
    (data / "vehicles.csv").unlink()
    build = load(ws, data)
    assert build.loaded_files == []  # nothing to read: the graph is rebuilt from the parts
    assert build.changed
    want, _ = fresh(tmp_path, data)
    assert_same_graph(MemoryStore(ws), want)
    assert "Vehicle" not in MemoryStore(ws).counts()["nodes"]


def test_the_contract_version_is_part_of_every_key(tmp_path, dataset, monkeypatch):
    ws = tmp_path / "ws"
    load(ws, dataset)
    import loaders.workspace as w

    monkeypatch.setattr(w, "CONTRACT_VERSION", "another")
    build = load(ws, dataset)
    assert build.reused_files == [] and len(build.loaded_files) > 10


_KILLED_LOAD = """
import sys
from loaders.workspace import Workspace
with Workspace(sys.argv[1]).load(sys.argv[2]) as build:
    build.commit()
"""


def test_a_killed_load_leaves_the_previous_generation_current_and_intact(tmp_path):
    small = tmp_path / "small"
    generate(small, households=100, seed=1)
    big = tmp_path / "big"
    generate(big, households=3000, seed=2)
    ws = tmp_path / "ws"
    load(ws, small)
    before = generations.current(ws)
    counts = MemoryStore(ws).counts()
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_LOAD, str(ws), str(big)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    parts = ws / "parts"
    known = {p.name for p in parts.iterdir()}
    # kill it once it has written part of the new generation's parts
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.name not in known for p in parts.iterdir()):
            break
        time.sleep(0.05)
    time.sleep(0.5)
    assert proc.poll() is None, "the load finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert generations.current(ws) == before
    assert list((ws / "generations").glob(".tmp-*"))  # its unfinished generation is there
    store = MemoryStore(ws)
    assert store.generation == before and store.counts() == counts
    # the server opens the same: the previous generation, whole
    from graph_models.stores import open_store

    assert open_store("memory", ws).counts() == counts
    # the next load takes the lock, finishes, and removes what the killed one left
    build = load(ws, big)
    assert build.changed and generations.current(ws).id == before.id + 1
    assert not list((ws / "generations").glob(".tmp-*"))


def test_a_second_writer_is_refused_while_a_load_holds_the_workspace(tmp_path, dataset):
    ws = tmp_path / "ws"
    with Workspace(ws).load(dataset) as build:
        with pytest.raises(generations.WorkspaceBusy):
            Workspace(ws).load(dataset)
        build.commit()
    assert not load(ws, dataset).changed  # the lock is released
