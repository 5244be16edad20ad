"""Flag evidence to JSON and its fingerprint: plain Python values (the fast path) and the numpy,
tuple and date values detectors also put in evidence give the same JSON and the same hash."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.flags import Flag, evidence_fingerprint, jsonable

#: numpy strings drop trailing NULs (np.str_("\x00").item() == ""), and the fingerprint is UTF-8
#: (text read from files has no lone surrogates): neither is generated
_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    _text,
    st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31)).map(dt.date.isoformat),
)
_keys = st.sampled_from(["amount", "paid_date", "line", "_batch", "id", "note", "名称"])
_evidence = st.dictionaries(
    _keys,
    st.recursive(
        _leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=5), st.dictionaries(_keys, inner, max_size=4)
        ),
        max_leaves=30,
    ),
    max_size=5,
)


def _numpy_flavoured(value):
    """The same evidence as a detector may build it: numpy scalars, tuples, numpy arrays."""
    if isinstance(value, dict):
        return {np.str_(k): _numpy_flavoured(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_numpy_flavoured(v) for v in value]
        return tuple(items) if len(items) % 2 else items
    if isinstance(value, bool):
        return np.bool_(value)
    if isinstance(value, int):
        return np.int64(value)
    if isinstance(value, float):
        return np.float64(value)
    if isinstance(value, str):
        return np.str_(value)
    return value


@settings(max_examples=200, deadline=None)
@given(_evidence, st.lists(_text, max_size=4), st.sampled_from([None, "2024-06-30"]))
def test_plain_and_numpy_evidence_agree(evidence, entities, as_of):
    flavoured = _numpy_flavoured(evidence)
    plain = jsonable(evidence)
    assert jsonable(flavoured) == plain
    assert json.dumps(plain, ensure_ascii=False) == json.dumps(
        jsonable(flavoured), ensure_ascii=False
    )
    assert jsonable(plain) == plain  # plain evidence is a fixed point
    assert evidence_fingerprint(flavoured, entities, as_of) == evidence_fingerprint(
        evidence, entities, as_of
    )
    assert evidence_fingerprint(plain, entities, as_of) == evidence_fingerprint(
        evidence, entities, as_of
    )


def test_fingerprint_ignores_noise_and_order_but_not_amounts():
    rows = [
        {"line": 3, "amount": 600.0, "paid_date": "2021-04-10", "_batch": "a"},
        {"line": 4, "amount": 600.0, "paid_date": "2021-05-10", "_batch": "a"},
    ]
    moved = [{**rows[1], "line": 9, "_batch": "b"}, {**rows[0], "line": 8}]
    assert evidence_fingerprint({"p": rows}, ["H1"]) == evidence_fingerprint({"p": moved}, ["H1"])
    changed = [{**rows[0], "amount": 601.0}, rows[1]]
    assert evidence_fingerprint({"p": rows}, ["H1"]) != evidence_fingerprint({"p": changed}, ["H1"])
    assert evidence_fingerprint({"end": "2024-06-30"}, as_of="2024-06-30") == evidence_fingerprint(
        {"end": "2024-07-31"}, as_of="2024-07-31"
    )


def test_written_lines_are_the_json_of_each_flag(tmp_path):
    """flags.jsonl holds ``json.dumps(flag.to_dict())`` per line, whatever the evidence holds
    (the writer encodes the evidence once and splices it in); flags.csv the same evidence."""
    import csv
    import json

    from engine.outputs import write_flags

    tricky = {"note": '"evidence": "\x00evidence\x00"', "x": [1.5, None, '引号"', {"evidence": 1}]}
    flags = [
        Flag("aid.paid_in_prison", "person_id", "P1", "high", 2.0, entities=['"evidence": '],
             evidence=tricky, explanation={"zh": "示例\x00evidence\x00", "en": "example"}),
        Flag("aid.paid_in_prison", "person_id", "P2", "low", 0.5, evidence={},
             explanation={"zh": "示例", "en": "example"}),
    ]  # fmt: skip
    write_flags(tmp_path, flags, new=lambda f: f.subject_id == "P1")
    lines = (tmp_path / "flags.jsonl").read_text("utf-8").splitlines()
    for f, line in zip(flags, lines, strict=True):
        want = {**f.to_dict(), "new_since_previous_scan": f.subject_id == "P1"}
        assert line == json.dumps(want, ensure_ascii=False)
    with open(tmp_path / "flags.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [json.loads(r["evidence"]) for r in rows] == [json.loads(x)["evidence"] for x in lines]
