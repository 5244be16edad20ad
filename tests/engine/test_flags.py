"""Flag evidence to JSON and its fingerprint: plain Python values (the fast path) and the numpy,
tuple and date values detectors also put in evidence give the same JSON and the same hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.flags import _DIGEST_JSON, Flag, _canonical, _material, evidence_fingerprint, jsonable

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


#: what the fingerprint hashed before it was written in one pass: the material copy of the
#: evidence, encoded compact with sorted keys (the definition the one-pass text must equal)
def _reference_digest_text(evidence, entities, as_of):
    body = {
        "evidence": _material(jsonable(evidence), as_of),
        "entities": sorted({str(e) for e in entities or ()}),
    }
    return _DIGEST_JSON(body)


_tricky_text = st.one_of(
    _text,
    # strings that start with the reference day, quotes, escapes, separators inside text
    st.sampled_from(
        ["2024-06-30", "2024-06-30T08:00", '2024-06-30"', 'a", "b', "x: y", "\\n", "\t"]
    ),
)
_tricky_leaf = st.one_of(
    _leaf,
    _tricky_text,
    st.floats(min_value=-1e20, max_value=1e20),
    st.floats(min_value=-1e-3, max_value=1e-3),
)
_tricky = st.dictionaries(
    st.one_of(_keys, _tricky_text),
    st.recursive(
        _tricky_leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=6),
            st.dictionaries(st.one_of(_keys, _tricky_text), inner, max_size=4),
        ),
        max_leaves=40,
    ),
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(_tricky, st.lists(_tricky_text, max_size=4), st.sampled_from([None, "2024-06-30"]))
def test_one_pass_digest_text_is_the_material_encoding(evidence, entities, as_of):
    plain = jsonable(evidence)
    assert _canonical(plain, as_of) == _DIGEST_JSON(_material(plain, as_of))
    expected = hashlib.sha256(
        _reference_digest_text(evidence, entities, as_of).encode("utf-8")
    ).hexdigest()[:16]
    assert evidence_fingerprint(evidence, entities, as_of) == expected
    assert evidence_fingerprint(plain, entities, as_of, plain=True) == expected


def test_jsonable_copies_only_what_it_converts():
    rows = [{"amount": 600.5, "paid_date": "2021-04-10", "n": 3, "ok": True, "x": None}]
    plain = {"payments": rows, "total": 600.5}
    assert jsonable(plain) is plain
    mixed = {"payments": rows, "when": dt.date(2021, 4, 10), 7: np.int64(2)}
    out = jsonable(mixed)
    assert out == {"payments": rows, "when": "2021-04-10", "7": 2}
    assert out["payments"] is rows  # the plain part is shared, not copied
    assert list(out) == ["payments", "when", "7"]
    assert jsonable([1, 2.0000001234, "a"]) == [1, 2.000000, "a"]
    # keys that are not text (plain=True trusts the caller): the general rule still applies
    for odd in ({7: 1, 8: [2.5]}, {7: 1, "a": 2}):
        text = _reference_digest_text(odd, ["H1"], None)
        expected = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        assert evidence_fingerprint(odd, ["H1"], plain=True) == expected


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


def _csv_as_csv_writer_writes(flags, new) -> bytes:
    """flags.csv as the standard library's csv.writer writes it (the reference)."""
    import csv
    import io

    import orjson

    from engine.outputs import CSV_COLUMNS
    from loaders.csv_cells import safe_row

    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(safe_row([*CSV_COLUMNS, "new_since_previous_scan"]))
    for f in flags:
        d = f.to_dict()
        w.writerow(safe_row([
            d["flag_id"], d["detector"], d["severity"], d["score"], d["subject"]["type"],
            d["subject"]["id"], d["region_code"] or "", ";".join(d["entities"]),
            d["explanation"].get("zh", ""), d["explanation"].get("en", ""),
            orjson.dumps(d["evidence"]).decode(),
            d["settings_digest"], str(new(f)).lower(),
        ]))  # fmt: skip
    return "\ufeff".encode() + buf.getvalue().encode()


_flag_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=10)


@settings(max_examples=60, deadline=None)
@given(
    evidence=_evidence,
    entities=st.lists(st.one_of(_flag_text, st.just('"evidence": ')), max_size=4),
    zh=st.one_of(_flag_text, st.just('=HYPERLINK("x"),"explanation":{')),
    region=st.one_of(st.none(), _flag_text),
    score=st.floats(-1e9, 1e9),
)
def test_written_lines_are_the_json_of_each_flag(tmp_path_factory, evidence, entities, zh, region,
                                                 score):  # fmt: skip
    """flags.jsonl holds the JSON of ``flag.to_dict()`` per line, whatever the evidence holds
    (the writer encodes the evidence once and splices it in); flags.csv is byte for byte what
    csv.writer writes of the same cells; a line read back for reuse is written again as the same bytes."""
    import json

    from engine.outputs import read_flag_line, write_flags

    tmp_path = tmp_path_factory.mktemp("flags")
    tricky = {"note": '"evidence": "\x00evidence\x00"', "x": [1.5, None, '引号"', {"evidence": 1}]}
    flags = [
        Flag("aid.paid_in_prison", "person_id", "P1", "high", 2.0, entities=['"evidence": '],
             evidence=tricky, explanation={"zh": "示例\x00evidence\x00", "en": "example"}),
        Flag("aid.paid_in_prison", "person_id", "P2", "low", 0.5, evidence={},
             explanation={"zh": "示例", "en": "example"}),
        Flag("aid.shared_account", "account_no", "A,\"1", "medium", score, entities=entities,
             region_code=region, evidence=jsonable(evidence), explanation={"zh": zh, "en": ""},
             evidence_plain=True),
    ]  # fmt: skip
    new = lambda f: f.subject_id == "P1"  # noqa: E731
    write_flags(tmp_path, flags, new=new)
    raw = (tmp_path / "flags.jsonl").read_bytes()
    lines = raw.decode("utf-8").split("\n")[:-1]  # (splitlines would also split at U+2028)
    for f, line in zip(flags, lines, strict=True):
        want = {**f.to_dict(), "new_since_previous_scan": new(f)}
        assert json.loads(line) == want
        assert line.startswith('{"flag_id":"') and "\n" not in line
    csv_bytes = (tmp_path / "flags.csv").read_bytes()
    assert csv_bytes == _csv_as_csv_writer_writes(flags, new)
    # reused: the flags read back keep their lines and are written as the same bytes
    again = [read_flag_line(x) for x in raw.splitlines(keepends=True)]
    assert [f.to_dict() for f in again] == [f.to_dict() for f in flags]
    assert all(f.written is not None for f in again)
    write_flags(tmp_path / "again", again, new=new)
    assert (tmp_path / "again" / "flags.jsonl").read_bytes() == raw
    assert (tmp_path / "again" / "flags.csv").read_bytes() == csv_bytes


def test_flags_read_back_exactly_whatever_reader(tmp_path):
    """orjson reads flags.jsonl, except lines whose integers may not fit in 64 bits: those come
    back exact (as ints), whether read whole or with the evidence left for later."""
    from engine.outputs import read_flag_line, read_flags, write_flags

    flags = [
        Flag("aid.paid_in_prison", "person_id", "P1", "high", 1.0, evidence={"n": 10**25, "a": 1.5}),
        Flag("aid.paid_in_prison", "person_id", "P2", "low", 0.5, evidence={"id": "1" * 30, "k": [-(2**70)]}),
        Flag("aid.paid_in_prison", "person_id", "P3", "low", 0.5, evidence={"amount": 600.25}),
    ]  # fmt: skip
    write_flags(tmp_path, flags)
    whole = read_flags(tmp_path / "flags.jsonl")
    lines = (tmp_path / "flags.jsonl").read_bytes().splitlines()
    packed = [read_flag_line(line) for line in lines]
    for original, a, b in zip(flags, whole, packed, strict=True):
        assert a.evidence == b.evidence == original.evidence
        assert a.fingerprint == b.fingerprint == original.fingerprint
    assert type(whole[0].evidence["n"]) is int and type(packed[1].evidence["k"][0]) is int
