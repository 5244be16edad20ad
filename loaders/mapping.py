"""Turn validated table rows into node and relationship frames, following ``contract.yaml``.

One generic function serves every table: the mapping is data (``TableSpec.nodes`` /
``TableSpec.edges``), not a hand-written function per table.

Endpoint labels: a row's own node; a fixed label from the column's value type; for USCCs the label
is ``GovUnit`` when the id is a known government unit (or is unknown and starts with ``11``, the
registration-authority code of government organs in GB 32100), else ``Enterprise``; an
``entity_ref`` that is a resident ID is a ``Person``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from loaders.contract import EdgeMap, Endpoint, NodeMap, TableSpec

__all__ = ["KnownIds", "MappedChunk", "map_chunk"]


@dataclass
class KnownIds:
    """Identifiers known so far: government units (for USCC labelling) and local record ids."""

    gov: set[str] = field(default_factory=set)
    enterprises: set[str] = field(default_factory=set)
    local: dict[str, set[str]] = field(default_factory=dict)  # label -> ids

    def of(self, label: str) -> set[str]:
        return self.local.setdefault(label, set())


@dataclass
class MappedChunk:
    nodes: list[tuple[str, pd.DataFrame, bool]]  # (label, rows, create_only)
    relationships: list[tuple[str, pd.DataFrame]]
    dangling: int  # rows with at least one unresolved local reference
    dangling_refs: dict[str, int]  # column -> count


def _as_text(col: pd.Series) -> pd.Series:
    """Identifier parts as strings with None for missing (dates are already ISO strings)."""
    if col.dtype == object and pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty"):
        return col.where(col.notna(), None)
    return col.astype(object).map(lambda v: None if v is None or v != v else str(v))


def _join_ids(frame: pd.DataFrame, cols: tuple[str, ...], hashed: bool) -> pd.Series:
    """Ids from key columns: the value, ``a|b|c`` (None when a part is missing), or a hash of the
    parts (missing parts hashed as empty)."""
    parts = [_as_text(frame[c]) for c in cols]
    if len(cols) == 1 and not hashed:
        return parts[0]
    if hashed:
        joined = parts[0].fillna("").str.cat([p.fillna("") for p in parts[1:]], sep="\x1f")
        return joined.map(lambda t: hashlib.sha1(t.encode()).hexdigest()[:20]).astype(object)
    joined = parts[0].str.cat(parts[1:], sep="|", na_rep=None)
    return joined.astype(object).where(joined.notna(), None)


def _in(values: pd.Series, ids: set[str]) -> pd.Series:
    """Membership of each value in a set of ids, as a boolean Series."""
    arr = values.to_numpy(dtype=object)
    return pd.Series(np.fromiter((v in ids for v in arr), bool, len(arr)), index=values.index)


def _org_labels(ids: pd.Series, known: KnownIds) -> pd.Series:
    values = ids.to_numpy(dtype=object)
    is_gov = np.fromiter((v in known.gov for v in values), bool, len(values))
    is_ent = np.fromiter((v in known.enterprises for v in values), bool, len(values))
    prefix = np.fromiter(
        (isinstance(v, str) and v.startswith("11") for v in values), bool, len(values)
    )
    gov = is_gov | (~is_ent & prefix)
    return pd.Series(np.where(gov, "GovUnit", "Enterprise"), index=ids.index, dtype=object)


def _endpoint(
    ep: Endpoint, frame: pd.DataFrame, row_ids: dict[str, pd.Series], known: KnownIds
) -> tuple[pd.Series, pd.Series]:
    """(ids, labels) of one endpoint for every row."""
    if ep.kind == "row":
        ids = row_ids[ep.label]  # type: ignore[index]
        return ids, pd.Series(ep.label, index=frame.index, dtype=object)
    ids = frame[ep.column].astype(object).where(frame[ep.column].notna(), None)  # type: ignore[index]
    if ep.kind in ("column", "local"):
        return ids, pd.Series(ep.label, index=frame.index, dtype=object)
    labels = _org_labels(ids, known)
    if ep.kind == "entity":
        kind = frame[f"{ep.column}__kind"]
        labels = labels.mask(kind == "person", "Person")
    return ids, labels


def _props(frame: pd.DataFrame, mapping: dict[str, str], extras: list[str]) -> pd.DataFrame:
    cols = {prop: frame[col] for prop, col in mapping.items() if col in frame.columns}
    for c in extras:
        cols[c] = frame[c]
    return pd.DataFrame(cols, index=frame.index)


def map_chunk(frame: pd.DataFrame, spec: TableSpec, batch: str, known: KnownIds) -> MappedChunk:
    """Map validated rows of ``spec`` to node/relationship frames (with provenance).

    ``known`` is updated with the government units, enterprises and local record ids this chunk
    defines, so later tables can label and resolve their references.
    """
    if not len(frame):
        return MappedChunk([], [], 0, {})
    prov = pd.DataFrame(
        {"_table": spec.name, "_line": frame["_line"].astype("int64"), "_batch": batch},
        index=frame.index,
    )
    extras = [
        c for c in frame.columns
        if c not in spec.columns and c != "_line" and not c.endswith("__kind") and c != "village_code"
    ]  # fmt: skip
    nodes: list[tuple[str, pd.DataFrame, bool]] = []
    rels: list[tuple[str, pd.DataFrame]] = []
    row_ids: dict[str, pd.Series] = {}
    for i, nm in enumerate(spec.nodes):
        ids = _join_ids(frame, nm.id_columns, nm.id_hash)
        row_ids[nm.label] = ids
        props = _node_props(frame, nm, extras if i == 0 else [])
        nodes.append((nm.label, pd.concat([ids.rename("id"), props, prov], axis=1), False))
        _remember(nm, ids, known)
    dangling_mask = pd.Series(False, index=frame.index)
    dangling_refs: dict[str, int] = {}
    for col, label in spec.local_references:
        vals = (
            frame[col] if col in frame.columns else pd.Series(None, index=frame.index, dtype=object)
        )
        missing = vals.notna() & ~_in(vals, known.of(label))
        dangling_refs[col] = int(missing.sum())
        dangling_mask |= missing
    for j, em in enumerate(spec.edges):
        rels_frame, bare = _edges(
            frame, em, row_ids, known, prov, extras if (not spec.nodes and j == 0) else []
        )
        if rels_frame is not None:
            rels.append((em.type, rels_frame))
        nodes.extend((label, f, True) for label, f in bare)
    return MappedChunk(nodes, rels, int(dangling_mask.sum()), dangling_refs)


def _node_props(frame: pd.DataFrame, nm: NodeMap, extras: list[str]) -> pd.DataFrame:
    mapping = dict(nm.properties)
    if "region_code" in mapping and "village_code" in frame.columns:
        mapping["village_code"] = "village_code"
    return _props(frame, mapping, extras)


def _remember(nm: NodeMap, ids: pd.Series, known: KnownIds) -> None:
    values = ids.dropna()
    if nm.label == "GovUnit":
        known.gov.update(values)
    elif nm.label == "Enterprise":
        known.enterprises.update(values)
    elif nm.label in ("Household", "Loan", "Project"):
        known.of(nm.label).update(values)


def _edges(
    frame: pd.DataFrame,
    em: EdgeMap,
    row_ids: dict[str, pd.Series],
    known: KnownIds,
    prov: pd.DataFrame,
    extras: list[str],
) -> tuple[pd.DataFrame | None, list[tuple[str, pd.DataFrame]]]:
    src, src_label = _endpoint(em.src, frame, row_ids, known)
    dst, dst_label = _endpoint(em.dst, frame, row_ids, known)
    ids = _join_ids(frame, em.id_columns, em.id_hash)
    ok = src.notna() & dst.notna() & ids.notna()
    for ep, vals in ((em.src, src), (em.dst, dst)):
        if ep.kind == "local":
            ok &= _in(vals, known.of(ep.label))  # type: ignore[arg-type]
    if not ok.any():
        return None, []
    edge = pd.DataFrame(
        {"id": ids, "src": src, "src_label": src_label, "dst": dst, "dst_label": dst_label},
        index=frame.index,
    )
    props = _props(frame, em.properties, extras)
    out = pd.concat([edge, props, prov], axis=1)[ok]
    bare: list[tuple[str, pd.DataFrame]] = []
    for ep, vals, labels in ((em.src, src, src_label), (em.dst, dst, dst_label)):
        if ep.kind in ("row", "local"):
            continue
        sel = ok & vals.notna()
        refs = pd.concat([vals.rename("id"), labels.rename("label"), prov], axis=1)[sel]
        for label, group in refs.groupby("label", sort=True):
            bare.append((str(label), group.drop(columns="label").drop_duplicates("id")))
    return out.reset_index(drop=True), bare
