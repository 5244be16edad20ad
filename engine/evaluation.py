"""Score a scan's flags against the ground truth of a synthetic dataset.

``riskgraph evaluate OUT_DIR --truth DATASET/ground_truth.jsonl`` reads the scan's ``flags.jsonl``
and the ``ground_truth.jsonl`` written by :mod:`fixtures.synth` and reports, per detector, how many
cases were planted and flagged, true positives, precision, recall and F1.

Matching rule
-------------
* Identifiers are compared in canonical form, case-insensitively: a resident ID in its 15-digit or
  lower-case-x form equals its 18-character form, a USCC is upper-cased, anything else is stripped
  and upper-cased.
* A flag matches a planted case when the detector ids are equal and

  - the case has no ``members`` (its subject is a record the data defines: a person, household,
    payment, account, loan, guarantee, flow, project, region, enterprise, raw identifier): the
    flag's subject id equals the case's subject id;
  - the case has ``members`` (its subject is an id the engine invents: a guarantee circle, a
    mutual pair, a fund cycle, a fraud ring): the flag's ``entities`` cover at least half of the
    members (``|entities ∩ members| / |members| >= 0.5``).

* Matching is one-to-one (best coverage first), so one giant flag covering several rings counts
  once and two flags for the same case count one true and one false positive.
* Every flag that matches no planted case is a false positive. Cases marked ``"negative": true``
  are near misses that must not be flagged; a flag matching one is counted in
  ``negatives_flagged`` (and is a false positive like any other unmatched flag).
* Records carrying ``expected`` (``ownership.control`` controller expectations) describe computed
  values, not flags, and are not scored here.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from graph_models.value_types import TYPES, InvalidValue, is_person_id_shape, is_uscc_shape

__all__ = [
    "EVALUATION_COLUMNS",
    "MEMBER_COVERAGE",
    "canonical_id",
    "evaluate",
    "evaluate_records",
    "format_evaluation",
    "load_flags",
    "load_truth",
]

#: Share of a planted case's members a flag's entities must cover to match it.
MEMBER_COVERAGE = 0.5

EVALUATION_COLUMNS = [
    "detector",
    "planted",
    "flagged",
    "true_positive",
    "false_positive",
    "false_negative",
    "negatives",
    "negatives_flagged",
    "precision",
    "recall",
    "f1",
]


def canonical_id(raw: object) -> str:
    """Canonical, case-insensitive form of an identifier for matching.

    Examples
    --------
    >>> canonical_id("110105491231002")
    '11010519491231002X'
    >>> canonical_id(" 91350100m000100y43 ")
    '91350100M000100Y43'
    >>> canonical_id("ring-0001")
    'RING-0001'
    """
    text = str(raw).strip()
    try:
        if is_person_id_shape(text):
            return str(TYPES["person_id"].clean(text))
        if is_uscc_shape(text):
            return str(TYPES["uscc"].clean(text))
    except InvalidValue:
        pass
    return text.upper()


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_flags(path: str | Path) -> list[dict[str, Any]]:
    """Flags from ``flags.jsonl`` (or a scan output directory holding it).

    Each flag becomes ``{"detector", "subject_id", "entities"}``; the subject may be given as
    ``{"subject": {"type", "id"}}`` (the engine's format) or as a top-level ``subject_id``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "flags.jsonl"
    flags = []
    for record in _jsonl(path):
        subject = record.get("subject") or {}
        flags.append(
            {
                "detector": record["detector"],
                "subject_id": subject.get("id", record.get("subject_id")),
                "entities": list(record.get("entities") or []),
            }
        )
    return flags


def load_truth(path: str | Path) -> list[dict[str, Any]]:
    """Ground-truth records from ``ground_truth.jsonl`` (or a dataset directory holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "ground_truth.jsonl"
    return _jsonl(path)


def _match(
    flags: Sequence[dict[str, Any]], cases: Sequence[dict[str, Any]], coverage: float
) -> int:
    """Number of one-to-one matches between flags and cases of one detector."""
    flag_subjects: dict[str, list[int]] = defaultdict(list)
    flag_entities = []
    holders: dict[str, list[int]] = defaultdict(list)
    for i, flag in enumerate(flags):
        if flag["subject_id"] is not None:
            flag_subjects[canonical_id(flag["subject_id"])].append(i)
        entities = {canonical_id(e) for e in flag["entities"]}
        flag_entities.append(entities)
        for entity in entities:
            holders[entity].append(i)

    used: set[int] = set()
    matched = 0
    candidates: list[tuple[float, int, int]] = []
    for j, case in enumerate(cases):
        members = case.get("members")
        if not members:
            free = [
                i for i in flag_subjects.get(canonical_id(case["subject_id"]), []) if i not in used
            ]
            if free:
                used.add(free[0])
                matched += 1
            continue
        wanted = {canonical_id(m) for m in members}
        overlap: dict[int, int] = defaultdict(int)
        for member in wanted:
            for i in holders.get(member, []):
                overlap[i] += 1
        for i, shared in overlap.items():
            share = shared / len(wanted)
            if share >= coverage:
                candidates.append((share, j, i))
    taken_cases: set[int] = set()
    for _, j, i in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
        if i in used or j in taken_cases:
            continue
        used.add(i)
        taken_cases.add(j)
        matched += 1
    return matched


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def _f1(precision: float, recall: float) -> float:
    if math.isnan(precision) or math.isnan(recall):
        return math.nan
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def evaluate_records(
    flags: Iterable[dict[str, Any]],
    truth: Iterable[dict[str, Any]],
    *,
    coverage: float = MEMBER_COVERAGE,
) -> pd.DataFrame:
    """Per-detector scores for flags (``detector``, ``subject_id``, ``entities``) against truth.

    Parameters
    ----------
    flags : iterable of dict
        As returned by :func:`load_flags`.
    truth : iterable of dict
        Ground-truth records as written by :mod:`fixtures.synth`.
    coverage : float
        Share of a case's ``members`` a flag must cover to match it.

    Returns
    -------
    pandas.DataFrame
        One row per detector (sorted), columns :data:`EVALUATION_COLUMNS`; precision is NaN when
        nothing was flagged, recall when nothing was planted.

    Examples
    --------
    >>> truth = [{"detector": "aid.deceased_recipient", "subject_id": "11010519491231002X"},
    ...          {"detector": "aid.deceased_recipient", "subject_id": "110105194912310037"}]
    >>> flags = [{"detector": "aid.deceased_recipient", "subject_id": "110105491231002",
    ...           "entities": []}]
    >>> row = evaluate_records(flags, truth).iloc[0]
    >>> int(row.true_positive), float(row.precision), float(row.recall)
    (1, 1.0, 0.5)
    """
    flags = list(flags)
    cases = [t for t in truth if "expected" not in t]
    by_detector_flags: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for flag in flags:
        by_detector_flags[flag["detector"]].append(flag)
    positives: dict[str, list[dict[str, Any]]] = defaultdict(list)
    negatives: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in cases:
        (negatives if case.get("negative") else positives)[case["detector"]].append(case)

    rows = []
    for detector in sorted(set(by_detector_flags) | set(positives) | set(negatives)):
        detector_flags = by_detector_flags.get(detector, [])
        planted = len(positives.get(detector, []))
        true_positive = _match(detector_flags, positives.get(detector, []), coverage)
        negatives_flagged = _match(detector_flags, negatives.get(detector, []), coverage)
        precision = _ratio(true_positive, len(detector_flags))
        recall = _ratio(true_positive, planted)
        f1 = _f1(precision, recall)
        rows.append(
            {
                "detector": detector,
                "planted": planted,
                "flagged": len(detector_flags),
                "true_positive": true_positive,
                "false_positive": len(detector_flags) - true_positive,
                "false_negative": planted - true_positive,
                "negatives": len(negatives.get(detector, [])),
                "negatives_flagged": negatives_flagged,
                "precision": precision,
                "recall": recall,
                "f1": f1,
            }
        )
    return pd.DataFrame(rows, columns=EVALUATION_COLUMNS)


def evaluate(
    flags_path: str | Path, ground_truth_path: str | Path, *, coverage: float = MEMBER_COVERAGE
) -> pd.DataFrame:
    """Score ``flags.jsonl`` (or a scan output directory) against ``ground_truth.jsonl``.

    See the module docstring for the matching rule and :func:`evaluate_records` for the result.

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "truth.jsonl").write_text(json.dumps(
    ...     {"detector": "guarantee.circle", "subject_id": "circle-1", "members": ["A", "B", "C"]}))
    >>> _ = (folder / "flags.jsonl").write_text(json.dumps(
    ...     {"detector": "guarantee.circle", "subject": {"type": "circle", "id": "scc-9"},
    ...      "entities": ["a", "b", "X"]}))
    >>> evaluate(folder / "flags.jsonl", folder / "truth.jsonl").loc[0, "true_positive"]
    np.int64(1)
    """
    return evaluate_records(
        load_flags(flags_path), load_truth(ground_truth_path), coverage=coverage
    )


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def format_evaluation(df: pd.DataFrame) -> str:
    """A fixed-width text table of :func:`evaluate`'s result, with a micro-averaged total line.

    Examples
    --------
    >>> table = evaluate_records([], [{"detector": "aid.anomaly", "subject_id": "H1"}])
    >>> print(format_evaluation(table).splitlines()[2])
    aid.anomaly        1        0   0   0   1    0            0          -   0.000   -
    """
    headers = [
        "detector",
        "planted",
        "flagged",
        "TP",
        "FP",
        "FN",
        "neg",
        "neg_flagged",
        "precision",
        "recall",
        "f1",
    ]
    body = [[_cell(row[c]) for c in EVALUATION_COLUMNS] for _, row in df.iterrows()]
    if len(df):
        tp, flagged, planted = (int(df[c].sum()) for c in ("true_positive", "flagged", "planted"))
        precision, recall = _ratio(tp, flagged), _ratio(tp, planted)
        f1 = _f1(precision, recall)
        totals = [
            "total",
            planted,
            flagged,
            tp,
            int(df["false_positive"].sum()),
            int(df["false_negative"].sum()),
            int(df["negatives"].sum()),
            int(df["negatives_flagged"].sum()),
            precision,
            recall,
            f1,
        ]
        body.append([_cell(v) for v in totals])
    widths = [
        max(len(headers[k]), *(len(r[k]) for r in body)) if body else len(headers[k])
        for k in range(len(headers))
    ]
    lines = [
        "  ".join(
            h.ljust(w) if k == 0 else h.rjust(w)
            for k, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    ]
    lines.append("  ".join("-" * w for w in widths))
    for row in body:
        lines.append(
            "  ".join(
                c.ljust(w) if k == 0 else c.rjust(w)
                for k, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)
