"""Flags, settings and the registry: stable ids, JSON round trips, documented settings."""

from __future__ import annotations

import dataclasses
import json

from engine.flags import Flag, flag_id
from engine.registry import all_detectors
from engine.settings import settings_digest, settings_doc, settings_from_dict, settings_to_dict


def test_flag_id_depends_on_detector_and_subject_only():
    a = Flag("aid.paid_in_prison", "person_id", "X1", "high", 3.0, settings_digest="a")
    b = Flag(
        "aid.paid_in_prison", "person_id", "X1", "low", 1.0, entities=["Y"], settings_digest="b"
    )
    c = Flag("aid.deceased_recipient", "person_id", "X1", "high", 3.0)
    assert a.flag_id == b.flag_id != c.flag_id
    assert a.flag_id == flag_id("aid.paid_in_prison", "person_id", "X1")
    assert "X1" not in a.flag_id  # no personal identifier in ids that end up in URLs


def test_flag_json_round_trip_handles_numpy_and_nan():
    import numpy as np

    f = Flag(
        "guarantee.circle", "circle", "C1", "medium", np.float64(2.5), entities=["b", "a", "b", None],
        evidence={"amount": np.int64(5), "ratio": float("nan"), "members": np.array(["a", "b"])},
        explanation={"zh": "担保圈", "en": "circle"},
    )  # fmt: skip
    d = json.loads(f.to_json())
    assert d["entities"] == ["b", "a"]
    assert d["evidence"] == {"amount": 5, "ratio": None, "members": ["a", "b"]}
    assert Flag.from_dict(d).to_dict() == d


def test_every_detector_settings_round_trip_and_are_documented():
    for spec in all_detectors():
        s = spec.default_settings()
        assert dataclasses.is_dataclass(s)
        back = settings_from_dict(spec.settings, json.loads(json.dumps(settings_to_dict(s))))
        assert back == s and settings_digest(back) == settings_digest(s)
        for item in settings_doc(spec.settings):
            assert item["doc"], f"{spec.id}.{item['name']} has no documentation"
        assert spec.doc, f"{spec.id} has no docstring"
