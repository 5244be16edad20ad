"""Which flags a user may see, and a flag as that user may see it.

A flag is visible when the role covers its family (``debt``/``guarantee``/``ownership`` for debt
analysts, ``aid`` for aid inspectors, all for investigators and admins) and its ``region_code``
is inside the user's scope (a flag without a region only with a national scope). A hidden flag
answers 404, exactly like a flag that does not exist.

A visible flag may name what its reader may not see (a person of another county): every page,
report and export turns a flag into what the reader may see through :class:`FlagReader`
(:func:`scoped_flags`, :func:`scoped_flag`), never from the stored columns directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, case, select
from sqlalchemy.orm import Session, contains_eager

from api.access.flag_scope import FlagRedactor, Withheld, candidate_ids
from api.server.auth.principals import Principal
from api.server.errors import ApiError
from api.server.graph.scoped import ScopedGraph
from api.server.state.models import FlagRecord, FlagState

__all__ = [
    "SEVERITY_RANK",
    "FlagReader",
    "flag_order",
    "get_visible_flag",
    "scoped_flag",
    "scoped_flags",
    "visible_flags",
]

#: Severity first everywhere (queue, lists, reports, exports): high, medium, low, then the
#: score within it (scores are per detector, in their own units: engine/scores.py).
SEVERITY_RANK = case(
    (FlagRecord.severity == "high", 0), (FlagRecord.severity == "medium", 1), else_=2
)


def flag_order(ascending: bool = False) -> tuple[Any, ...]:
    """ORDER BY severity (high first), then score (highest first unless ``ascending``), then id."""
    score = FlagRecord.score.asc() if ascending else FlagRecord.score.desc()
    return (SEVERITY_RANK, score, FlagRecord.flag_id)


#: labels of organisations: their codes are never masked
ORG_LABELS = frozenset({"Enterprise", "GovUnit"})

_PERSON_ID = re.compile(r"^\d{17}[\dXx]$")
_PERSON_15 = re.compile(r"^\d{15}$")
_USCC = re.compile(r"^[0-9A-Z]{2}\d{6}[0-9A-Z]{10}$")


def _visibility(user: Principal) -> Any:
    clauses = []
    families = user.policy.flag_families
    if families is not None:
        clauses.append(FlagRecord.family.in_(sorted(families)))
    if not user.scope.national:
        clauses.append(user.scope.sql_clause(FlagRecord.region_code))
    return and_(*clauses) if clauses else None


def visible_flags(user: Principal) -> Select[Any]:
    """``SELECT flags JOIN flag_states`` restricted to what ``user`` may see."""
    query = (
        select(FlagRecord, FlagState)
        .join(FlagState, FlagState.flag_id == FlagRecord.flag_id)
        # the state is already joined: fill FlagRecord.state from it, not from a second join
        .options(contains_eager(FlagRecord.state))
    )
    clause = _visibility(user)
    return query.where(clause) if clause is not None else query


def get_visible_flag(
    session: Session, user: Principal, flag_id: str
) -> tuple[FlagRecord, FlagState]:
    row = session.execute(visible_flags(user).where(FlagRecord.flag_id == flag_id)).first()
    if row is None:
        raise ApiError(404, "not_found", f"flag {flag_id} not found")
    return row[0], row[1]


def _texts_of(flag: Any) -> list[str]:
    return [t for t in (getattr(flag, "explanation", None) or {}).values() if isinstance(t, str)]


@dataclass(frozen=True)
class _Named:
    """One id a flag names, as the graph knows it: the same for every user, so it is worked
    out once per flag and graph (``GraphAccess.flag_cache``)."""

    token: str
    #: the node's label; None for an id the graph does not hold, told by its shape
    label: str | None
    node_id: str
    regions: frozenset[str]
    #: the node's name (and a person's phone): hidden together with it
    also: tuple[str, ...] = ()
    #: a person's name, masked for roles without clearance
    person_name: str | None = None


#: Flags whose ids are kept resolved per graph, and per-user results kept, at most.
_CACHE_LIMIT = 20_000


class FlagReader:
    """Flags as one request's user may see them: cut to their scope, then masked for their role.

    Every place that shows a flag (the API's list and detail, the web pages' JSON, the HTML
    report, the Excel export, the dashboard) goes through :meth:`flag` (or :func:`scoped_flags`
    / :func:`scoped_flag`), so what one user may see is decided once:

    * the ids a flag names (its entities, subject, the id-like strings of its evidence, the
      words with a digit in its texts) are looked up in the graph in one call per batch of
      flags; those of nodes the user may not see (another region, a label outside the role)
      are hidden, with the names (and a person's phone) of those nodes;
    * :class:`api.access.flag_scope.FlagRedactor` then cuts entities, evidence records,
      explanations, the subject and review comments (``withheld`` counts what was left out);
    * what remains is masked for the role (names of the persons involved too).

    What the graph says about a flag's ids is the same for every user: it is kept per flag
    (its id, fingerprint and import time) until the graph is replaced, and what one scope and
    role may see of it too, so a page of 50 flags costs the lookups once (a 10k-household
    dataset: ~4,000 ids a page, ~0.25 s the first time on the embedded store). For an admin or a
    national investigator nothing is hidden and no lookup is made.
    """

    def __init__(self, graph: ScopedGraph) -> None:
        self.graph = graph
        self.principal = graph.principal
        self._redactors: dict[str, FlagRedactor] = {}
        self._names: dict[str, list[str]] = {}
        #: organisation ids among each flag's entities (never masked, even when shaped like a
        #: resident ID)
        self._orgs: dict[str, list[str]] = {}
        self._nothing = FlagRedactor((), self.principal.scope)
        cache = getattr(graph.access, "flag_cache", None)
        self._cache: dict[Any, Any] = cache if isinstance(cache, dict) else {}
        self._who = (self.principal.policy, self.principal.scope.prefixes)

    @staticmethod
    def _key(flag: Any) -> tuple[Any, ...]:
        return (
            flag.flag_id,
            getattr(flag, "fingerprint", None),
            getattr(flag, "imported_at", None),
        )

    def prepare(
        self, flags: Iterable[Any], reviews: Iterable[Any] = (), changes: Iterable[Any] = ()
    ) -> None:
        """Look up every id the ``flags`` name (one store call for all of those not known
        yet), and those their review comments and change records name."""
        flags = [f for f in flags if f.flag_id not in self._redactors]
        if not flags:
            return
        clear = self.principal.policy.personal_clearance
        if not self.graph.scoped and clear:
            for f in flags:
                self._redactors[f.flag_id] = self._nothing
                self._names[f.flag_id] = []
                self._orgs[f.flag_id] = []
            return
        extra: dict[str, list[str]] = {}
        for r in reviews:
            if isinstance(getattr(r, "comment", None), str):
                extra.setdefault(r.flag_id, []).append(r.comment)
        differences: dict[str, list[Any]] = {}
        for c in changes:
            differences.setdefault(c.flag_id, []).append(c.differences)
        todo = []
        for f in flags:
            hit = self._cache.get(("user", self._key(f), self._who))
            if hit is not None and f.flag_id not in extra and f.flag_id not in differences:
                self._redactors[f.flag_id], self._names[f.flag_id], self._orgs[f.flag_id] = hit
            else:
                todo.append(f)
        if not todo:
            return
        named = self._resolve(todo, extra, differences)
        for f in todo:
            hidden: set[str] = set()
            names: list[str] = []
            orgs: list[str] = []
            entities = {str(e) for e in f.entities or []}
            for n in named[f.flag_id]:
                if n.label in ORG_LABELS and n.token in entities and not clear:
                    orgs.append(n.token)
                if self._sees(n):
                    if not clear and n.person_name and n.token in entities:
                        names.append(n.person_name)
                    continue
                hidden.add(n.token)
                hidden.update(n.also)
            redactor = (
                FlagRedactor(hidden, self.principal.scope) if self.graph.scoped else self._nothing
            )
            self._redactors[f.flag_id], self._names[f.flag_id] = redactor, names
            self._orgs[f.flag_id] = orgs
            if f.flag_id not in extra and f.flag_id not in differences:
                self._remember(("user", self._key(f), self._who), (redactor, names, orgs))

    def _remember(self, key: Any, value: Any) -> None:
        if len(self._cache) >= 2 * _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = value

    def _resolve(
        self, flags: list[Any], extra: dict[str, list[str]], differences: dict[str, list[Any]]
    ) -> dict[str, tuple[_Named, ...]]:
        """What the graph says about every id each flag names (cached per flag and graph;
        review comments and change records are looked up each time)."""
        out: dict[str, tuple[_Named, ...]] = {}
        wanted: dict[str, set[str]] = {}
        for f in flags:
            cached = self._cache.get(("graph", self._key(f)))
            more = candidate_ids(
                evidence=differences.get(f.flag_id), texts=extra.get(f.flag_id, ())
            )
            if cached is not None and not more:
                out[f.flag_id] = cached
                continue
            if cached is not None:
                out[f.flag_id] = cached
                wanted[f.flag_id] = more
            else:
                wanted[f.flag_id] = more | candidate_ids(
                    f.entities or [], f.subject_id, getattr(f, "evidence", None),
                    _texts_of(f),
                )  # fmt: skip
        if not wanted:
            return out
        found = self.graph.store.get_entities(set().union(*wanted.values()))
        index = self.graph.index
        for f in flags:
            if f.flag_id not in wanted:
                continue
            named = []
            for token in wanted[f.flag_id]:
                rec = found.get(token)
                if rec is None:
                    regions = self._shape_regions(token)
                    if regions is not None:
                        named.append(_Named(token, None, token, frozenset(regions)))
                    continue
                label, node_id, props = rec["label"], str(rec["id"]), rec["properties"] or {}
                keys = ("name", "phone") if label == "Person" else ("name",)
                also = tuple(
                    v.strip() for k in keys if isinstance(v := props.get(k), str) and v.strip()
                )
                name = props.get("name") if label == "Person" else None
                named.append(
                    _Named(
                        token,
                        label,
                        node_id,
                        frozenset(index.regions(label, node_id, props)),
                        also,
                        name if isinstance(name, str) else None,
                    )
                )
            if f.flag_id in out:  # the flag's own ids were cached: add the comments' ones
                out[f.flag_id] = (*out[f.flag_id], *named)
            else:
                out[f.flag_id] = tuple(named)
                self._remember(("graph", self._key(f)), out[f.flag_id])
        return out

    def _shape_regions(self, token: str) -> set[str] | None:
        """An id the graph does not hold: a resident ID or a USCC still tells its region (the
        empty set when it does not say); None for anything else (not an id of a person or firm)."""
        if _PERSON_ID.match(token) or _PERSON_15.match(token):
            return self.graph.index.regions_of_id("Person", token) or set()
        if _USCC.match(token):
            return self.graph.index.regions_of_id("Enterprise", token) or set()
        return None

    def _sees(self, n: _Named) -> bool:
        """Whether the reader may see id ``n`` inside a flag they may see. An id the graph does
        not hold whose shape names no region (a resident ID with an invalid region code: the
        very subject of an invalid-identity flag) is outside no one's scope: it is part of the
        flag, which was raised in the reader's region. A node the graph holds is seen only
        through its regions (an account takes its holder's)."""
        scope, policy = self.principal.scope, self.principal.policy
        if n.label is None:
            return not n.regions or scope.covers_any(n.regions)
        if policy.sees_label(n.label) and scope.covers_any(n.regions):
            return True
        return (
            n.label == "Region" and policy.sees_label("Region") and self.graph.in_sight(n.node_id)
        )

    def redactor(self, flag: Any) -> FlagRedactor:
        if flag.flag_id not in self._redactors:
            self.prepare([flag])
        return self._redactors[flag.flag_id]

    def flag(self, flag: Any, state: Any, detail: bool = False) -> dict[str, Any]:
        """The flag's fields for this user: cut to their scope, masked for their role, with
        ``withheld`` (how many records and entities were left out). ``flag`` and ``state`` are
        the ORM objects, or one result row with their columns as attributes."""
        cut = self.redactor(flag)
        withheld = Withheld()
        entities, dropped = cut.entities(flag.entities or [])
        withheld.entities += dropped
        personal: dict[str, Any] = {
            "subject_id": cut.text(str(flag.subject_id)),
            "entities": entities,
            "explanation": cut.explanation(flag.explanation),
        }
        if detail:
            evidence, more = cut.evidence(dict(flag.evidence or {}))
            withheld.add(more)
            personal["evidence"] = evidence or {}
        personal = self._mask(personal, flag)
        out = {
            "flag_id": flag.flag_id, "detector": flag.detector, "family": flag.family,
            "severity": flag.severity, "score": flag.score, "region_code": flag.region_code,
            "subject_type": flag.subject_type, "status": state.status,
            "review_count": state.review_count, "scan_id": flag.scan_id,
            "imported_at": flag.imported_at, "updated_at": state.updated_at, **personal,
            "withheld": withheld.as_dict(), "prior_status": getattr(state, "prior_status", None),
        }  # fmt: skip
        if detail:
            out["settings_digest"] = flag.settings_digest
        return out

    def _mask(self, data: dict[str, Any], flag: Any) -> dict[str, Any]:
        fid = flag.flag_id
        return self.graph.masker.flag(data, fid, self._names[fid], self._orgs.get(fid, ()))

    def text(self, flag: Any, text: str) -> str:
        """A free text about ``flag`` (a review comment) cut and masked for this user."""
        cut = self.redactor(flag).text(text)
        masked = self._mask({"text": cut}, flag)
        return masked["text"]

    def reviews(self, flag: Any, reviews: Iterable[Any]) -> list[dict[str, Any]]:
        """A flag's review decisions with their comments cut and masked for this user."""
        return [
            {
                "id": r.id,
                "flag_id": r.flag_id,
                "user_name": r.user_name,
                "decision": r.decision,
                "comment": self.text(flag, r.comment or ""),
                "created_at": r.created_at,
            }
            for r in reviews
        ]

    def changes(self, flag: Any, changes: Iterable[Any]) -> list[dict[str, Any]]:
        """A flag's change records (``FlagChange``) with their differences cut to this user's
        scope and masked for their role, as the flag's evidence is."""
        cut = self.redactor(flag)
        out = []
        for c in changes:
            differences, _withheld = cut.evidence(dict(c.differences or {}))
            masked = self._mask({"differences": differences or {}}, flag)
            out.append(
                {
                    "kind": c.kind,
                    "at": c.at,
                    "scan_id": c.scan_id,
                    "status_before": c.status_before,
                    "status_after": c.status_after,
                    "differences": masked["differences"],
                }
            )
        return out


def scoped_flags(
    graph: ScopedGraph, rows: Iterable[tuple[Any, Any]] | Iterable[Any], detail: bool = False
) -> list[dict[str, Any]]:
    """Many flags for the graph's user (see :class:`FlagReader`): ``rows`` are ``(flag,
    state)`` pairs or result rows holding both; the ids they name are looked up together."""
    pairs = [r if isinstance(r, tuple) else (r, r) for r in rows]
    reader = FlagReader(graph)
    reader.prepare(f for f, _ in pairs)
    return [reader.flag(f, s, detail) for f, s in pairs]


def scoped_flag(graph: ScopedGraph, flag: Any, state: Any, detail: bool = False) -> dict[str, Any]:
    """One flag for the graph's user (see :class:`FlagReader`)."""
    return FlagReader(graph).flag(flag, state, detail)
