"""Region scopes: a 6-digit GB/T 2260 code covers itself and everything under it.

Trailing ``00`` pairs are the levels a code leaves open, so the covered codes are those sharing
its prefix: ``410000`` (a province) covers ``41xxxx``, ``410800`` (a city) covers ``4108xx`` and
``410802`` (a county) only itself. ``000000`` is the whole country.

Nodes get their regions from their own properties (``region_code``, the first 6 digits of a
12-digit ``village_code``, a Region's own code, the registration region inside a USCC) or, for
the labels that carry none, from what they are attached to (:class:`RegionIndex`): a person from
their household(s), aid payments and offices (else the first 6 digits of their resident ID), an
account from the payments paid into it and its holder, a phone from who uses it, a loan from its
borrower, a bond from its issuer, a death/payroll/prison record or a vehicle from its person.
A node with no region at all is visible only with a national scope.

Examples
--------
>>> s = RegionScope(["410800"])
>>> s.covers("410802"), s.covers("410000"), s.covers("420102")
(True, False, False)
>>> region_prefix("410000"), region_prefix("410802"), region_prefix(NATIONAL)
('41', '410802', '')
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import or_
from sqlalchemy.sql.elements import ColumnElement

from graph_models.store import GraphStore

__all__ = ["NATIONAL", "RegionIndex", "RegionScope", "is_region_code", "region_prefix"]

NATIONAL = "000000"
_SIX_DIGITS = r"\d{6}"
_CODE = re.compile(r"^\d{6}$")
_USCC_REGION = re.compile(r"^[0-9A-Z]{2}(\d{6})[0-9A-Z]{10}$")
_PERSON_REGION = re.compile(r"^(\d{6})\d{11}[\dX]$")


def is_region_code(code: str) -> bool:
    """Six digits (``000000`` included)."""
    return bool(_CODE.match(code or ""))


def region_prefix(code: str) -> str:
    """The prefix a code's scope covers: trailing ``00`` pairs removed."""
    if not is_region_code(code):
        raise ValueError(f"not a 6-digit region code: {code!r}")
    prefix = code
    while prefix.endswith("00"):
        prefix = prefix[:-2]
    return prefix


class RegionScope:
    """The regions one user may see. ``RegionScope([NATIONAL])`` sees everything."""

    def __init__(self, codes: Iterable[str]) -> None:
        self.codes = tuple(sorted(set(codes)))
        prefixes = sorted({region_prefix(c) for c in self.codes}, key=len)
        # drop prefixes already covered by a shorter one
        self.prefixes: tuple[str, ...] = tuple(
            p for i, p in enumerate(prefixes) if not any(p.startswith(q) for q in prefixes[:i])
        )

    @property
    def national(self) -> bool:
        return "" in self.prefixes

    def covers(self, region_code: str | None) -> bool:
        """Whether a node or flag with this region code is inside the scope."""
        if self.national:
            return True
        if not region_code:
            return False
        return any(region_code.startswith(p) for p in self.prefixes)

    def covers_any(self, regions: Iterable[str]) -> bool:
        if self.national:
            return True
        return any(self.covers(r) for r in regions)

    def contains_scope(self, code: str) -> bool:
        """Whether the whole of ``code``'s scope lies inside this one (for filters and cases)."""
        prefix = region_prefix(code)
        return any(prefix.startswith(p) for p in self.prefixes)

    def sql_clause(self, column: Any) -> ColumnElement[bool]:
        """A WHERE clause keeping rows whose region ``column`` is inside the scope."""
        if self.national:
            return column.is_(None) | column.is_not(None)
        return or_(*(column.like(f"{p}%") for p in self.prefixes))


#: Labels whose region comes from what they are attached to.
_DERIVED = frozenset(
    {"Person", "Account", "Phone", "Loan", "Bond", "DeathRecord", "PayrollRecord", "PrisonTerm",
     "Vehicle"}
)  # fmt: skip
#: Properties naming the person a record belongs to (fallback region: their resident ID).
_PERSON_PROPS = ("person_id", "owner_id", "holder_id")


def _own_regions(label: str, node_id: str, props: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    if label == "Region" and is_region_code(node_id):
        out.add(node_id)
    rc = props.get("region_code")
    if isinstance(rc, str) and is_region_code(rc):
        out.add(rc)
    vc = props.get("village_code")
    if isinstance(vc, str) and len(vc) >= 6 and vc[:6].isdigit():
        out.add(vc[:6])
    if not out and label in ("Enterprise", "GovUnit"):
        m = _USCC_REGION.match(node_id)
        if m:
            out.add(m.group(1))
    return out


def _person_id_region(pid: Any) -> str | None:
    m = _PERSON_REGION.match(pid) if isinstance(pid, str) else None
    return m.group(1) if m else None


class RegionIndex:
    """Regions of every node of the labels that carry none themselves, built once from a store.

    Parameters
    ----------
    store : GraphStore
        Read through ``nodes`` / ``relationships`` frames, so both stores give the same index.
    """

    def __init__(self, store: GraphStore) -> None:
        def rel(rtype: str, src_label: str | None = None) -> tuple[list, list]:
            frame = store.relationships(rtype, ["src", "src_label", "dst"])
            if src_label is not None and len(frame):
                frame = frame[frame["src_label"] == src_label]
            return frame["src"].tolist(), frame["dst"].tolist()

        households = _own_table(store, "Household")
        payments = _own_table(store, "Payment")
        firms = {**_own_table(store, "Enterprise"), **_own_table(store, "GovUnit")}
        person: dict[str, set[str]] = {}
        src, dst = rel("MEMBER_OF")
        _attach(person, src, dst, households.get)
        src, dst = rel("HEADED_BY")
        _attach(person, dst, src, households.get)
        src, dst = rel("PAID_TO")
        _attach(person, dst, src, payments.get)
        src, dst = rel("HOLDS_OFFICE")
        _attach(person, src, dst, lambda code: (code,) if is_region_code(code) else None)
        self._derived: dict[str, dict[str, set[str]]] = {"Person": person}
        for label, rtype in (("DeathRecord", "DIED"), ("PayrollRecord", "ON_PAYROLL"),
                             ("PrisonTerm", "IMPRISONED"), ("Vehicle", "OWNS_VEHICLE")):  # fmt: skip
            table: dict[str, set[str]] = {}
            src, dst = rel(rtype)
            _attach(table, dst, src, self.person_regions)
            self._derived[label] = table
        account: dict[str, set[str]] = {}
        src, dst = rel("PAID_INTO")
        _attach(account, dst, src, payments.get)
        src, dst = rel("HOLDS_ACCOUNT")
        _attach(account, dst, src, self.person_regions)
        phone: dict[str, set[str]] = {}
        src, dst = rel("HAS_PHONE", "Person")
        _attach(phone, dst, src, self.person_regions)
        src, dst = rel("HAS_PHONE", "Account")
        _attach(phone, dst, src, account.get)
        loan: dict[str, set[str]] = {}
        src, dst = rel("BORROWED")
        _attach(loan, dst, src, lambda uscc: firms.get(uscc) or _uscc_region(uscc))
        bond: dict[str, set[str]] = {}
        src, dst = rel("ISSUED")
        _attach(bond, dst, src, lambda uscc: firms.get(uscc) or _uscc_region(uscc))
        self._derived.update({"Account": account, "Phone": phone, "Loan": loan, "Bond": bond})

    def person_regions(self, person_id: str) -> set[str]:
        found = self._derived["Person"].get(person_id)
        if found:
            return found
        fallback = _person_id_region(person_id)
        return {fallback} if fallback else set()

    def regions(self, label: str, node_id: str, props: dict[str, Any] | None = None) -> set[str]:
        """Every region a node belongs to (empty when none can be told)."""
        props = props or {}
        if label == "Person":
            return self.person_regions(node_id)
        own = _own_regions(label, node_id, props)
        if own or label not in _DERIVED:
            return own
        found = self._derived[label].get(node_id)
        if found:
            return found
        for prop in _PERSON_PROPS:
            fallback = _person_id_region(props.get(prop))
            if fallback:
                return {fallback}
        return set()


def _uscc_region(uscc: Any) -> tuple[str, ...] | None:
    m = _USCC_REGION.match(uscc) if isinstance(uscc, str) else None
    return (m.group(1),) if m else None


def _own_table(store: GraphStore, label: str) -> dict[str, tuple[str, ...]]:
    """Regions of every node of ``label`` from its own properties, as :func:`_own_regions` (one
    vectorised pass: payments number in the millions)."""
    props = store.schema.nodes[label].properties
    cols = [c for c in ("region_code", "village_code") if c in props]
    frame = store.nodes(label, ["id", *cols])
    if not len(frame):
        return {}
    ids = frame["id"].astype("string")
    empty = pd.Series(pd.NA, index=frame.index, dtype="string")
    rc = frame["region_code"].astype("string") if "region_code" in cols else empty
    vc = frame["village_code"].astype("string").str[:6] if "village_code" in cols else empty
    rc = rc.where(rc.str.fullmatch(_SIX_DIGITS).fillna(False))
    vc = vc.where(vc.str.fullmatch(_SIX_DIGITS).fillna(False))
    first = rc.fillna(vc)
    if label in ("Enterprise", "GovUnit"):
        first = first.fillna(ids.str.extract(_USCC_REGION.pattern, expand=False))
    has = first.notna()
    out = dict(zip(ids[has].tolist(), zip(first[has].tolist()), strict=True))
    both = rc.notna() & vc.notna() & (rc != vc)
    for node_id, a, b in zip(ids[both].tolist(), rc[both].tolist(), vc[both].tolist(), strict=True):
        out[node_id] = (a, b)
    return out


def _attach(target: dict[str, set[str]], keys: list, via: list, regions_of: Any) -> None:
    """``target[key] |= regions_of(via)`` for every (key, via) pair."""
    for key, v in zip(keys, via, strict=True):
        if v is None:
            continue
        found = regions_of(v)
        if found:
            target.setdefault(str(key), set()).update(found)
