"""Findings and flags: what a detector yields, and what a reviewer acts on.

A detector yields :class:`Finding` objects: one finding about one subject, with its severity,
score, entities, evidence and explanation. It does not write its own id: the runner stamps each
finding with the detector id and subject type from the detector's registration (and the digest
of its settings), which makes it a :class:`Flag`, the record written to ``flags.jsonl``
(docs/data-contract.md, "What the engine writes").

A flag id is stable across re-runs of the same data: it is derived from the detector id and the
subject only (not the settings, not the run time), so a reviewer's decision stays attached to the
same finding when the scan is repeated. It is a hash, so no personal identifier appears in URLs.

What the finding rests on is its **fingerprint** (:func:`evidence_fingerprint`): a hash of its
material evidence -- the records, amounts, dates and figures, and the set of entities -- without
what changes when nothing happened (a record's source line, the order of lists, float noise,
the scan's reference date standing for "still open today"). The state DB compares it on import:
a reviewed flag whose fingerprint changed is reopened (``api.server.state.flag_import``).

Examples
--------
>>> f = Flag("aid.deceased_recipient", "person_id", "11010519491231002X", "high", 7.5,
...          entities=["11010519491231002X"], region_code="410102",
...          evidence={"payments": []}, explanation={"zh": "示例", "en": "example"})
>>> f.flag_id == Flag("aid.deceased_recipient", "person_id", "11010519491231002X", "low", 1.0).flag_id
True
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import orjson
import pandas as pd

__all__ = [
    "SEVERITIES", "Finding", "Flag", "evidence_fingerprint", "flag_id", "json_line", "jsonable"
]  # fmt: skip

SEVERITIES = ("high", "medium", "low")


def flag_id(detector: str, subject_type: str, subject_id: str) -> str:
    """Stable flag id: ``F`` + 20 hex chars of SHA-256 over detector, subject type and subject id."""
    digest = hashlib.sha256(f"{detector}\x1f{subject_type}\x1f{subject_id}".encode()).hexdigest()
    return "F" + digest[:20]


#: Evidence keys that are provenance or bookkeeping, not evidence: a record's source line
#: moves when rows are inserted above it, a batch id with every load.
NOISE_KEYS = frozenset({"line", "_line", "_batch", "generated_at"})
_AS_OF = "<as-of>"


#: one encoder for the sort keys and the digest (``json.dumps`` with options builds one per call)
_SORTED_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode
_DIGEST_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _material(value: Any, as_of: str | None) -> Any:
    # exact types first: evidence is mostly plain dicts, lists, text and numbers, and a flag's
    # evidence can hold thousands of values (subclasses such as numpy scalars take the long way)
    kind = type(value)
    if kind is str:
        return _AS_OF if as_of is not None and value[:10] == as_of else value
    if kind is int or value is None or kind is bool:
        return value
    if isinstance(value, dict):
        return {str(k): _material(v, as_of) for k, v in value.items() if k not in NOISE_KEYS}
    if isinstance(value, (list, tuple)):
        items = [_material(v, as_of) for v in value]
        return sorted(items, key=_SORTED_JSON)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        # amounts to the cent, ratios and scores to 4 decimals (float noise stays below)
        value = round(value, 2) if abs(value) >= 1 else round(value, 4)
        return int(value) if value == int(value) else value
    if isinstance(value, str) and as_of is not None and value[:10] == as_of:
        return _AS_OF  # "open until the scan's day": a later scan is not new evidence
    return value


def evidence_fingerprint(
    evidence: dict[str, Any],
    entities: Any = (),
    as_of: dt.date | str | None = None,
    *,
    plain: bool = False,
) -> str:
    """A hash of a finding's material evidence: 16 hex chars of SHA-256 over its records,
    amounts, dates and figures and its set of entities, leaving out source line numbers, list
    order, float noise and dates equal to the scan's reference date ``as_of``. ``plain``: the
    evidence holds only JSON values already (:func:`jsonable` applied), so it is not converted.

    What is hashed is the compact JSON, keys sorted, of ``{"entities": ..., "evidence": ...}``
    with the evidence's material values (:func:`_material`) and every list in the order of its
    items' JSON text; :func:`_canonical` writes that text in one pass.

    Examples
    --------
    >>> a = {"payments": [{"table": "p", "line": 3, "amount": 600.0, "paid_date": "2021-04-10"},
    ...                   {"table": "p", "line": 4, "amount": 600.0, "paid_date": "2021-05-10"}]}
    >>> b = {"payments": list(reversed(a["payments"]))}
    >>> b["payments"][0] = {**b["payments"][0], "line": 9}  # the same rows, re-exported
    >>> evidence_fingerprint(a, ["H1"]) == evidence_fingerprint(b, ["H1"])
    True
    >>> c = {"payments": [{**a["payments"][0], "amount": 1300.0}, a["payments"][1]]}
    >>> evidence_fingerprint(a, ["H1"]) == evidence_fingerprint(c, ["H1"])
    False
    >>> evidence_fingerprint({"end": "2024-01-01"}, as_of="2024-01-01") == evidence_fingerprint(
    ...     {"end": "2024-02-01"}, as_of="2024-02-01")
    True
    """
    day = as_of.isoformat() if isinstance(as_of, dt.date) else as_of
    plain_evidence = evidence if plain else jsonable(evidence)
    names = _DIGEST_JSON(sorted({str(e) for e in entities or ()}))
    material = None
    if day is None or len(day) == 10:
        try:
            material = _canonical(plain_evidence, day)
        except TypeError:  # keys that are not text
            material = None
    if material is None:  # the general rule
        material = _DIGEST_JSON(_material(plain_evidence, day))
    blob = '{"entities":' + names + ',"evidence":' + material + "}"
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


_Date = dt.date  # the exact type (a datetime is a date too, and takes the general rule)
_encode_text = json.encoder.encode_basestring  # what the digest encoder writes for a string
_AS_OF_JSON = json.dumps(_AS_OF)
_int_text = int.__repr__
_float_text = float.__repr__


def _canonical(value: Any, as_of: str | None) -> str:
    """``_DIGEST_JSON(_material(value, as_of))`` written in one pass, without building the
    material copy (``as_of``: None or a 10-character day).

    Each list is written in the order of its items' own text: :func:`_material` orders them by
    their spaced JSON text, and a spaced and a compact text first differ at the same character
    (a space only ever follows a ``,`` or ``:`` both texts share), so the orders agree.
    Values that are not plain JSON types take :func:`_material`'s general rule.

    Examples
    --------
    >>> v = {"b": [{"y": 2.0, "line": 7}, "2024-06-30 open", 0.123456], "a": None}
    >>> _canonical(v, "2024-06-30") == _DIGEST_JSON(_material(v, "2024-06-30"))
    True
    """
    kind = type(value)
    if kind is str:
        return _AS_OF_JSON if as_of is not None and value.startswith(as_of) else _encode_text(value)
    if kind is dict:
        parts = []
        for key in sorted(value):
            if key in NOISE_KEYS:
                continue
            item = value[key]
            t = type(item)
            if t is str:
                text = (
                    _AS_OF_JSON if as_of is not None and item.startswith(as_of)
                    else _encode_text(item)
                )  # fmt: skip
            elif t is int:
                text = _int_text(item)
            elif item is None:
                text = "null"
            else:
                text = _canonical(item, as_of)
            parts.append(_encode_text(key) + ":" + text)
        return "{" + ",".join(parts) + "}"
    if kind is list:
        items = [_canonical(item, as_of) for item in value]
        items.sort()
        return "[" + ",".join(items) + "]"
    if kind is int:
        return _int_text(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is float:
        if math.isnan(value) or math.isinf(value):
            return "null"
        value = round(value, 2) if abs(value) >= 1 else round(value, 4)
        return _int_text(int(value)) if value == int(value) else _float_text(value)
    # tuples, subclasses of the plain types...: the general rule (a dict whose keys are not
    # text raised TypeError above, and evidence_fingerprint takes the general rule for it all)
    return _DIGEST_JSON(_material(value, as_of))


def jsonable(value: Any) -> Any:
    """Convert numpy/pandas/date values inside evidence to plain JSON types (NaN, NaT -> None).

    A dict or list that holds plain values only is returned as it is, not copied (evidence at a
    million households is GBs of Python objects).

    Examples
    --------
    >>> jsonable({"d": pd.Timestamp("2021-03-02"), "n": float("nan"), "t": pd.NaT, "i": np.int64(3)})
    {'d': '2021-03-02', 'n': None, 't': None, 'i': 3}
    >>> plain = {"rows": [{"amount": 600.5}]}
    >>> jsonable(plain) is plain
    True
    """
    kind = type(value)  # exact plain types first (see _material)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        out = None
        for i, (k, v) in enumerate(value.items()):
            t = type(v)
            c = v if t is str or t is int or t is bool or v is None else jsonable(v)
            if out is None:
                if c is v and type(k) is str:
                    continue
                out = dict(itertools.islice(value.items(), i))  # the plain ones before
            out[str(k)] = c
        return value if out is None else out
    if kind is list:
        items = None
        for i, v in enumerate(value):
            t = type(v)
            c = v if t is str or t is int or t is bool or v is None else jsonable(v)
            if items is None:
                if c is v:
                    continue
                items = value[:i]
            items.append(c)
        return value if items is None else items
    if kind is float:
        if math.isnan(value) or math.isinf(value):
            return None
        rounded = round(value, 6)
        return value if rounded == value else rounded
    if kind is _Date:
        return value.isoformat()
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 6)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10] if isinstance(value, dt.date) else value.isoformat()
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


@dataclass(kw_only=True)
class Finding:
    """What a detector yields: one finding about one subject (the runner makes it a :class:`Flag`).

    Parameters
    ----------
    subject_id : str
        What the finding is about (a resident ID, a household id, a guarantee id, a circle id...).
    severity : {"high", "medium", "low"}
    score : float
        Higher is more urgent; comparable within one detector.
    entities : list of str
        Every entity id involved, canonical form (the subject first).
    region_code : str or None
        6-digit region the subject belongs to (drives region-scoped access).
    evidence : dict
        Paths, records (with table and line, see :mod:`engine.evidence`), figures.
    explanation : dict
        ``{"zh": ..., "en": ...}`` quoting the figures; both languages are required.
    subject_type : str, optional
        Only for a detector registered with several subject types (e.g. ``loan_id`` or
        ``bond_id``): which one this finding is about. Otherwise the registration's.

    Examples
    --------
    >>> f = Finding(subject_id="H1", severity="high", score=2.0, entities=["H1"],
    ...             explanation={"zh": "示例", "en": "example"})
    >>> f.severity, f.subject_type
    ('high', None)
    """

    subject_id: str
    severity: str
    score: float
    entities: list[Any] = field(default_factory=list)
    region_code: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    explanation: dict[str, str] = field(default_factory=dict)
    subject_type: str | None = None


@dataclass
class Flag:
    """One finding, stamped with its detector (what ``flags.jsonl`` holds).

    Parameters
    ----------
    detector : str
        A detector id from docs/detectors.md, e.g. ``guarantee.circle``.
    subject_type, subject_id : str
        What the flag is about (``person_id``, ``household_id``, ``guarantee_id``, ``circle``...).
    severity : {"high", "medium", "low"}
    score : float
        Higher is more urgent; comparable within one detector.
    entities : list of str
        Every entity id involved, canonical form.
    region_code : str or None
        6-digit region the subject belongs to (drives region-scoped access).
    evidence : dict
        Paths, records (with table and line), figures.
    explanation : dict
        ``{"zh": ..., "en": ...}`` quoting the figures.
    """

    detector: str
    subject_type: str
    subject_id: str
    severity: str
    score: float
    entities: list[str] = field(default_factory=list)
    region_code: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    explanation: dict[str, str] = field(default_factory=dict)
    settings_digest: str = ""
    #: :func:`evidence_fingerprint` of the evidence (the runner stamps it with the scan's date)
    fingerprint: str = ""
    #: the evidence holds only JSON values already (:func:`jsonable` applied: the runner's and
    #: :meth:`from_dict`'s flags), so :meth:`to_dict` need not convert it again
    evidence_plain: bool = field(default=False, repr=False, compare=False)
    #: the flag's ``flags.jsonl`` line (without ``new_since_previous_scan``) and where its
    #: evidence lies in it, once encoded (:meth:`pack`) or read from a previous scan
    #: (:mod:`engine.reuse`): the flag is written as those bytes instead of being encoded again,
    #: so a packed flag is final (a change to it would not be written)
    written: tuple[bytes, int, int] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")
        self.score = float(self.score)
        # keep order, drop duplicates and blanks
        self.entities = list(dict.fromkeys(str(e) for e in self.entities if e not in (None, "")))
        if not self.fingerprint:
            self.fingerprint = evidence_fingerprint(
                self.evidence, self.entities, plain=self.evidence_plain
            )

    @property
    def flag_id(self) -> str:
        return flag_id(self.detector, self.subject_type, self.subject_id)

    @property
    def family(self) -> str:
        return self.detector.split(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "flag_id": self.flag_id,
            "detector": self.detector,
            "severity": self.severity,
            "score": jsonable(self.score),
            "subject": {"type": self.subject_type, "id": self.subject_id},
            "entities": self.entities,
            "region_code": self.region_code,
            "evidence": self.evidence if self.evidence_plain else jsonable(self.evidence),
            "explanation": self.explanation,
            "settings_digest": self.settings_digest,
            "fingerprint": self.fingerprint,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Flag:
        return cls(
            detector=d["detector"],
            subject_type=d["subject"]["type"],
            subject_id=d["subject"]["id"],
            severity=d["severity"],
            score=d["score"],
            entities=d.get("entities", []),
            region_code=d.get("region_code"),
            evidence=d.get("evidence", {}),
            explanation=d.get("explanation", {}),
            settings_digest=d.get("settings_digest", ""),
            fingerprint=d.get("fingerprint", ""),
            evidence_plain=True,
        )

    def pack(self, written: tuple[bytes, int, int] | None = None) -> Flag:
        """Keep this flag as its ``flags.jsonl`` line (:attr:`written`; encoded here unless
        given) instead of its evidence as Python objects, which take several times the bytes
        (at a million households, GBs); reading :attr:`evidence` decodes the line again.
        Returns the flag.

        Examples
        --------
        >>> f = Flag("aid.paid_in_prison", "person_id", "P1", "high", 1.0,
        ...          evidence={"terms": [{"start": "2020-01-01"}]}).pack()
        >>> f.__dict__["_evidence"] is None, f.evidence
        (True, {'terms': [{'start': '2020-01-01'}]})
        """
        if written is None:
            from engine.outputs import encode_flag

            written = encode_flag(self)
        self.written = written
        self.__dict__["_evidence"] = None
        return self


#: a number of 19 digits or more (it may not fit in 64 bits: orjson would read it as a float);
#: digits inside text can match too, which only costs the slower reader
_LONG_NUMBER = re.compile(rb"[:,\[]\s*-?\d{19}")


def json_line(line: bytes) -> Any:
    """One JSON text (a ``flags.jsonl`` line, a flag's evidence): orjson, or the standard
    library for text that may hold an integer beyond 64 bits (read exactly, as
    ``engine.outputs`` wrote it).

    Examples
    --------
    >>> json_line(b'{"n": 12345678901234567890123, "id": "6228484676649799338"}')
    {'n': 12345678901234567890123, 'id': '6228484676649799338'}
    """
    if _LONG_NUMBER.search(line) is None:
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError:
            pass  # the standard library says what is wrong
    return json.loads(line.decode("utf-8"))


def _get_evidence(flag: Flag) -> dict[str, Any]:
    evidence = flag.__dict__.get("_evidence")
    if evidence is None:
        if flag.written is None:
            return {}
        line, start, end = flag.written
        evidence = flag.__dict__["_evidence"] = json_line(line[start:end])
    return evidence


def _set_evidence(flag: Flag, value: dict[str, Any]) -> None:
    flag.__dict__["_evidence"] = value


# the evidence of a packed flag (Flag.pack) is decoded from its line when read: a property set
# after the dataclass is made, so the constructor, comparison, repr and asdict go through it
Flag.evidence = property(_get_evidence, _set_evidence)  # type: ignore[assignment]
