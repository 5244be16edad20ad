"""Which regions a graph node belongs to, so a request shows only nodes inside the user's scopes.

Nodes get their regions from their own properties (``region_code``, the first 6 digits of a
12-digit ``village_code``, a Region's own code, the registration region inside a USCC) or, for
the labels that carry none, from what they are attached to (:class:`RegionIndex`): a person from
their household(s), aid payments and offices (else the first 6 digits of their resident ID), an
account from the payments paid into it and its holder, a phone from who uses it, a loan from its
borrower, a bond from its issuer, a death/payroll/prison record or a vehicle from its person.
A node with no region at all is visible only with a national scope.

Examples
--------
>>> import pandas as pd
>>> from graph_models.memory_store import MemoryStore
>>> store = MemoryStore()
>>> store.upsert_nodes("Household", pd.DataFrame({"id": ["H1"], "region_code": ["410802"]}))
1
>>> store.upsert_relationships("MEMBER_OF", pd.DataFrame({"id": ["m1"], "src": ["P1"],
...     "src_label": ["Person"], "dst": ["H1"], "dst_label": ["Household"]}))
1
>>> RegionIndex(store).regions("Person", "P1")
{'410802'}
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from api.access.scopes import is_region_code
from graph_models.store import GraphStore
from graph_models.value_types import PROVINCE_PREFIXES

__all__ = ["RegionIndex"]

_SIX_DIGITS = r"\d{6}"
_USCC_REGION = re.compile(r"^[0-9A-Z]{2}(\d{6})[0-9A-Z]{10}$")
_PERSON_REGION = re.compile(r"^(\d{6})\d{11}[\dX]$")

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
    """The region a resident ID's first six digits name; None when they name no province (an
    invalid region code belongs to no one's scope, see ``FlagReader._sees``).

    >>> _person_id_region("410883198509200759"), _person_id_region("000883198509200759")
    ('410883', None)
    """
    m = _PERSON_REGION.match(pid) if isinstance(pid, str) else None
    if not m or m.group(1)[:2] not in PROVINCE_PREFIXES:
        return None
    return m.group(1)


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
        enterprises, gov_units = _own_table(store, "Enterprise"), _own_table(store, "GovUnit")
        firms = {**enterprises, **gov_units}
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
        #: regions of the labels that carry their own, by id (for ids met as property values)
        self._own: dict[str, dict[str, tuple[str, ...]]] = {
            "Household": households,
            "Payment": payments,
            "Enterprise": enterprises,
            "GovUnit": gov_units,
        }

    def person_regions(self, person_id: str) -> set[str]:
        found = self._derived["Person"].get(person_id)
        if found:
            return found
        fallback = _person_id_region(person_id)
        return {fallback} if fallback else set()

    def regions_of_id(self, label: str, node_id: str) -> set[str] | None:
        """The regions of a node known only by its id (a property naming it, such as an
        account's ``holder_id``), without reading it from the store; None when the index cannot
        tell (a label whose region is in properties it does not keep)."""
        if label == "Person":
            return self.person_regions(node_id)
        if label == "Region":
            return {node_id} if is_region_code(node_id) else set()
        own = self._own.get(label)
        if own is not None:
            found = own.get(node_id)
            if found:
                return set(found)
            if label in ("Enterprise", "GovUnit"):
                embedded = _uscc_region(node_id)
                return set(embedded) if embedded else set()
            return set()
        derived = self._derived.get(label)
        if derived is not None:
            return set(derived.get(node_id) or ())
        return None

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
