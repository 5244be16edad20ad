"""Every hand-drawn aid case (fixtures/aid/*.yaml) through the real loaders and its detector."""

from __future__ import annotations

import pytest

from engine.runner import run_detectors
from fixtures.aid import case_names, load_case, write_dataset
from graph_models.memory_store import MemoryStore
from loaders.load import load_dataset


def scan_case(name: str, tmp_path):
    case = load_case(name)
    store = MemoryStore()
    load_dataset(write_dataset(case, tmp_path / "data"), store)
    settings = case.get("settings")
    parsed = None
    if settings:
        from engine.runner import parse_settings

        parsed = parse_settings({case["detector"]: settings})
    result = run_detectors(store, settings=parsed, only=[case["detector"]], as_of=case["as_of"])
    assert case["detector"] not in result.skipped, result.skipped
    return case, result.flags


@pytest.mark.parametrize("name", case_names())
def test_case(name, tmp_path):
    case, flags = scan_case(name, tmp_path)
    by_subject = {f.subject_id: f for f in flags}
    assert len(by_subject) == len(flags), "one flag per subject"
    for want in case.get("expect", []):
        assert want["subject"] in by_subject, (
            f"{want['subject']} not flagged; got {sorted(by_subject)}"
        )
        flag = by_subject[want["subject"]]
        assert flag.detector == case["detector"]
        if "severity" in want:
            assert flag.severity == want["severity"], (want["subject"], flag.severity)
        for entity in want.get("entities", []):
            assert entity in flag.entities, (entity, flag.entities)
        figures = flag.to_dict()["evidence"].get("figures", {})
        for key, value in want.get("figures", {}).items():
            assert figures.get(key) == value, (key, figures.get(key), value)
        assert flag.explanation["zh"] and flag.explanation["en"]
        assert flag.region_code and len(flag.region_code) == 6
    for miss in case.get("near_misses", []):
        assert miss["subject"] not in by_subject, f"near miss flagged: {miss['why']}"
    if case.get("exact"):
        assert sorted(by_subject) == sorted(w["subject"] for w in case.get("expect", []))
