"""Every hand-drawn aid case (fixtures/aid/*.yaml) through the real loaders and its detector.

Each case lists the flags that must be raised (with severity, entities and evidence figures) and
near misses that must not be: died after the last payment, payroll ended before aid began, a
self-built house, kin of an official in another county, a car bought after the household exited...
"""

from __future__ import annotations

import pytest

from engine.runner import parse_settings, run_detectors
from fixtures.aid import case_names, load_case, write_dataset
from graph_models.memory_store import MemoryStore
from loaders.load import load_dataset


def scan_case(name: str, tmp_path):
    case = load_case(name)
    store = MemoryStore()
    load_dataset(write_dataset(case, tmp_path / "data"), store)
    settings = (
        parse_settings({case["detector"]: case["settings"]}) if case.get("settings") else None
    )
    result = run_detectors(store, settings=settings, only=[case["detector"]], as_of=case["as_of"])
    assert case["detector"] not in result.skipped, result.skipped
    return case, result.flags


def find(flags, want):
    """The flag an expectation names: by subject, else the first whose entities include all listed."""
    for f in flags:
        if "subject" in want:
            if f.subject_id == want["subject"]:
                return f
        elif set(want["entities"]) <= set(f.entities):
            return f
    return None


@pytest.mark.parametrize("name", case_names())
def test_case(name, tmp_path):
    case, flags = scan_case(name, tmp_path)
    assert len({f.flag_id for f in flags}) == len(flags), "one flag per subject"
    found = []
    for want in case.get("expect", []):
        flag = find(flags, want)
        assert flag is not None, f"{want} not flagged; got {[f.subject_id for f in flags]}"
        found.append(flag.flag_id)
        assert flag.detector == case["detector"]
        if "severity" in want:
            assert flag.severity == want["severity"], (flag.subject_id, flag.severity)
        for entity in want.get("entities", []):
            assert entity in flag.entities, (entity, flag.entities)
        figures = flag.to_dict()["evidence"].get("figures", {})
        for key, value in want.get("figures", {}).items():
            assert figures.get(key) == value, (key, figures.get(key), value)
        assert flag.explanation["zh"] and flag.explanation["en"]
        assert flag.region_code and len(flag.region_code) == 6
    for miss in case.get("near_misses", []):
        assert find(flags, miss) is None, f"near miss flagged: {miss['why']}"
    if case.get("exact"):
        assert sorted(found) == sorted(f.flag_id for f in flags), [f.subject_id for f in flags]
