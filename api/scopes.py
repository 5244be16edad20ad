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
        self._derived: dict[str, dict[str, set[str]]] = {label: {} for label in _DERIVED}
        rel_cache: dict[str, pd.DataFrame] = {}

        def rels(rtype: str) -> pd.DataFrame:
            if rtype not in rel_cache:
                rel_cache[rtype] = store.relationships(
                    rtype, ["src", "src_label", "dst", "dst_label"]
                )
            return rel_cache[rtype]

        def node_regions(label: str) -> dict[str, set[str]]:
            cols = ["id", "region_code", "village_code"]
            frame = store.nodes(label, [c for c in cols if c == "id" or self._has(store, label, c)])
            out: dict[str, set[str]] = {}
            for rec in frame.to_dict("records"):
                regions = _own_regions(label, str(rec["id"]), rec)
                if regions:
                    out[str(rec["id"])] = regions
            return out

        households = node_regions("Household")
        payments = node_regions("Payment")
        firms = {**node_regions("Enterprise"), **node_regions("GovUnit")}
        person = self._derived["Person"]
        self._attach(person, rels("MEMBER_OF"), "src", "dst", households)
        self._attach(person, rels("HEADED_BY"), "dst", "src", households)
        self._attach(person, rels("PAID_TO"), "dst", "src", payments)
        office = rels("HOLDS_OFFICE")
        self._attach(person, office, "src", "dst", {r: {r} for r in office["dst"] if r})
        for label, rtype in (("DeathRecord", "DIED"), ("PayrollRecord", "ON_PAYROLL"),
                             ("PrisonTerm", "IMPRISONED"), ("Vehicle", "OWNS_VEHICLE")):  # fmt: skip
            self._attach(self._derived[label], rels(rtype), "dst", "src", _PersonRegions(self))
        account = self._derived["Account"]
        self._attach(account, rels("PAID_INTO"), "dst", "src", payments)
        self._attach(account, rels("HOLDS_ACCOUNT"), "dst", "src", _PersonRegions(self))
        phone_rel = rels("HAS_PHONE")
        persons_phone = phone_rel[phone_rel["src_label"] == "Person"]
        accounts_phone = phone_rel[phone_rel["src_label"] == "Account"]
        self._attach(self._derived["Phone"], persons_phone, "dst", "src", _PersonRegions(self))
        self._attach(self._derived["Phone"], accounts_phone, "dst", "src", account)
        self._attach(self._derived["Loan"], rels("BORROWED"), "dst", "src", _FirmRegions(firms))
        self._attach(self._derived["Bond"], rels("ISSUED"), "dst", "src", _FirmRegions(firms))

    @staticmethod
    def _has(store: GraphStore, label: str, prop: str) -> bool:
        return prop in store.schema.nodes[label].properties

    @staticmethod
    def _attach(
        target: dict[str, set[str]], frame: pd.DataFrame, key: str, via: str, regions: Any
    ) -> None:
        if not len(frame):
            return
        for k, v in zip(frame[key].tolist(), frame[via].tolist(), strict=True):
            found = regions.get(v) if v is not None else None
            if found:
                target.setdefault(str(k), set()).update(found)

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


class _PersonRegions:
    """``.get(person_id)`` with the resident-ID fallback, for :meth:`RegionIndex._attach`."""

    def __init__(self, index: RegionIndex) -> None:
        self.index = index

    def get(self, person_id: str) -> set[str]:
        return self.index.person_regions(person_id)


class _FirmRegions:
    """``.get(uscc)``: the firm's region_code, else the registration region inside the USCC."""

    def __init__(self, firms: dict[str, set[str]]) -> None:
        self.firms = firms

    def get(self, uscc: str) -> set[str]:
        found = self.firms.get(uscc)
        if found:
            return found
        m = _USCC_REGION.match(uscc or "")
        return {m.group(1)} if m else set()
