"""Docs that tests enforce: the catalogue in docs/detectors.md and the registry agree."""

from __future__ import annotations

import re
from pathlib import Path

from engine.registry import all_detectors

DOCS = Path(__file__).resolve().parent.parent / "docs" / "detectors.md"


def _catalogue_ids() -> set[str]:
    text = DOCS.read_text("utf-8")
    return set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", text, re.M)) | set(
        re.findall(r"^`(ownership\.control)`", text, re.M)
    )


def test_every_catalogued_detector_is_registered_and_vice_versa():
    registered = {s.id for s in all_detectors()}
    catalogued = _catalogue_ids()
    assert len(catalogued) == 25  # 7 debt + 5 guarantee + 12 aid + ownership.control
    assert catalogued - registered == set(), "detectors in docs/detectors.md but not implemented"
    assert registered - catalogued == set(), "registered detectors missing from docs/detectors.md"


def test_every_detector_says_what_its_score_measures():
    from engine.scores import SCORES

    registered = {s.id for s in all_detectors()}
    assert registered == set(SCORES), "engine/scores.py and the registry disagree"
    assert all(m.unit_zh and m.meaning_zh and m.unit_en and m.meaning_en for m in SCORES.values())
