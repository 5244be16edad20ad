"""Detectors run side by side in forked worker processes give what one process gives.

The oracle is the same scan with ``workers=1``: flags (every field, in order), timings' keys,
skips, settings and keys must be equal. A detector that fails or a worker that dies fails the
scan with a message naming the detector.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.detector_workers import detect_workers, units_of
from engine.flags import Finding
from engine.registry import all_detectors, detector
from engine.runner import DetectorOutputError, run_detectors
from fixtures.synth import generate
from graph_models.errors import DataError
from graph_models.memory_store import MemoryStore
from loaders.load import load_dataset

AS_OF = dt.date(2024, 6, 30)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> MemoryStore:
    d: Path = tmp_path_factory.mktemp("synth") / "ds"
    generate(d, households=300, seed=11)
    s = MemoryStore()
    load_dataset(d, s)
    return s


def _same(a, b) -> None:
    assert [f.to_dict() for f in a.flags] == [f.to_dict() for f in b.flags]
    assert list(a.timings) == list(b.timings)
    assert (a.skipped, a.settings, a.digests, a.keys) == (b.skipped, b.settings, b.digests, b.keys)


def test_two_workers_give_the_flags_of_one_process(store):
    one = run_detectors(store, as_of=AS_OF, workers=1)
    started, done = [], []
    two = run_detectors(
        store, as_of=AS_OF, workers=2, progress=started.append,
        done=lambda d, seconds, n, reused=False: done.append((d, n)),
    )  # fmt: skip
    assert len(one.flags) > 50 and len({f.detector for f in one.flags}) > 15
    _same(one, two)
    ran = {s.id for s in all_detectors() if not s.computes} - set(two.skipped)
    assert sorted(started) == sorted(ran | ({"ownership.control"} - set(two.skipped)))
    counts = {d: n for d, n in done}
    assert len(done) == len(counts)  # each detector said done once
    for d, n in counts.items():
        assert n == sum(f.detector == d for f in two.flags)


def test_only_some_detectors_and_their_used_ones(store):
    only = ["debt.region_risk", "aid.deceased_recipient", "guarantee.related_party"]
    _same(
        run_detectors(store, as_of=AS_OF, only=only, workers=1),
        run_detectors(store, as_of=AS_OF, only=only, workers=2),
    )


@dataclass(frozen=True)
class NoSettings:
    pass


def _spec(det_id: str, fn):
    return detector(det_id, title_zh="测试", title_en="test", subject="person_id",
                    reads=("Person",), settings=NoSettings, register=False)(fn).spec  # fmt: skip


def _finding(i: str) -> Finding:
    return Finding(subject_id=i, severity="low", score=1.0,
                   explanation={"zh": "示例", "en": "example"})  # fmt: skip


def test_a_failing_detector_fails_the_scan_with_its_own_error(store):
    ok = _spec("t.ok", lambda ctx, s: [_finding("A")])
    bad = _spec("t.bad", lambda ctx, s: [_finding("A"), _finding("A")])
    with pytest.raises(DetectorOutputError, match=r"t\.bad yielded two findings") as err:
        run_detectors(store, detectors=[ok, bad], workers=2)
    assert any("detector worker process" in note for note in err.value.__notes__)


def test_a_worker_that_dies_fails_the_scan_naming_its_detector(store):
    ok = _spec("t.ok", lambda ctx, s: [_finding("A")])
    killed = _spec("t.killed", lambda ctx, s: os.kill(os.getpid(), signal.SIGKILL))
    with pytest.raises(RuntimeError, match=r"exit code -9\) while running t\.killed"):
        run_detectors(store, detectors=[ok, killed], workers=2)


def test_how_many_workers(monkeypatch):
    monkeypatch.delenv("RISKGRAPH_DETECT_WORKERS", raising=False)
    assert detect_workers(rows=999_999, units=10, cpus=8) == 1
    assert detect_workers(rows=5_000_000, units=10, cpus=8) == 8
    assert detect_workers(rows=5_000_000, units=3, cpus=8) == 3
    monkeypatch.setenv("RISKGRAPH_DETECT_WORKERS", "1")
    assert detect_workers(rows=5_000_000, units=10, cpus=8) == 1
    monkeypatch.setenv("RISKGRAPH_DETECT_WORKERS", "two")
    with pytest.raises(DataError, match="RISKGRAPH_DETECT_WORKERS must be a whole number"):
        detect_workers(rows=5_000_000, units=10, cpus=8)


@given(st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=20))
def test_units_keep_every_detector_with_those_it_uses(edges):
    ids = [f"d{i:02d}" for i in range(12)]  # in run order: one uses only those before it
    uses = {i: [f"d{b:02d}" for a, b in edges if f"d{a:02d}" == i and b < a] for i in ids}
    units = units_of(ids, lambda i: uses[i])
    assert sorted(i for u in units for i in u) == ids  # each once
    where = {i: n for n, u in enumerate(units) for i in u}
    for i in ids:
        assert all(where[u] == where[i] for u in uses[i])
    for u in units:  # run order kept inside a unit, units in order of their first detector
        assert u == sorted(u, key=ids.index)
    assert [u[0] for u in units] == sorted((u[0] for u in units), key=ids.index)
