"""Declare, then register: every detector declares its id, what it reads, what it uses, its settings.

The registry, the runner, the CLI (``riskgraph detectors``), the API and the docs are all built
from these declarations. Built-in detectors live in ``engine/detectors/`` (one module per
detector) and register themselves through the same decorator a third-party plugin would use;
docs/detectors.md, "Adding a detector", walks through one.

A declaration says:

``reads``
    every node label and relationship type the detector reads (directly or through a shared
    helper such as the aid registers); its context refuses anything else.
``requires``
    the reads that must be non-empty for the detector to run at all -- its reference tables.
    Otherwise the runner skips it with the reason ("missing input: Household") instead of
    running it against nothing. ``any_of(...)`` asks for at least one of several.
``uses``
    detectors whose results it reads (``ctx.result(id)``); the runner runs those first.
``subject``
    the subject type of its findings (a tuple when a finding may be about one of several).

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class NoSettings:
...     pass
>>> @detector("demo.example", title_zh="示例", title_en="Example", subject="household_id",
...           reads=("Household", "Payment"), requires=("Household",), settings=NoSettings,
...           register=False)
... def run(ctx, settings):
...     return []
>>> run.spec.id, run.spec.requires, run.spec.uses
('demo.example', ('Household',), ())
"""

from __future__ import annotations

import heapq
import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, is_dataclass
from typing import Any

from engine.tables import is_known

__all__ = [
    "REGISTRY",
    "AnyOf",
    "DetectorSpec",
    "all_detectors",
    "any_of",
    "detector",
    "detector_ids",
    "get_detector",
    "load_builtin",
    "run_order",
]


@dataclass(frozen=True)
class AnyOf:
    """A requirement met when at least one of ``names`` is non-empty."""

    names: tuple[str, ...]

    def __str__(self) -> str:
        return "one of " + " / ".join(self.names)


def any_of(*names: str) -> AnyOf:
    """Require at least one of several inputs (e.g. an asset register of any kind).

    Examples
    --------
    >>> str(any_of("Vehicle", "Property"))
    'one of Vehicle / Property'
    """
    if len(names) < 2:
        raise ValueError("any_of needs at least two names")
    return AnyOf(tuple(names))


Requirement = str | AnyOf


@dataclass(frozen=True)
class DetectorSpec:
    """A detector's declaration (see the module doc for ``reads``, ``requires`` and ``uses``).

    ``subjects`` are the subject types its findings may carry (the first is the usual one);
    ``computes`` marks a detector that returns a shared result instead of yielding findings;
    ``doc`` is the function docstring (logic and the rule it comes from).
    """

    id: str
    family: str
    title_zh: str
    title_en: str
    subjects: tuple[str, ...]
    reads: tuple[str, ...]
    requires: tuple[Requirement, ...]
    uses: tuple[str, ...]
    settings: type
    run: Callable[[Any, Any], Any]
    doc: str
    computes: bool = False

    @property
    def subject(self) -> str:
        """The usual subject type of its flags (the first declared)."""
        return self.subjects[0] if self.subjects else ""

    def default_settings(self) -> Any:
        """Its settings dataclass with every default."""
        return self.settings()

    def missing(self, present: Callable[[str], bool]) -> list[str]:
        """The requirements ``present`` (name -> has rows) does not meet, as text.

        Examples
        --------
        >>> spec = DetectorSpec("a.b", "a", "", "", ("x",), ("Payment", "Vehicle", "Property"),
        ...                     ("Payment", any_of("Vehicle", "Property")), (), object,
        ...                     lambda c, s: [], "")
        >>> spec.missing(lambda name: name == "Payment")
        ['one of Vehicle / Property']
        """
        out = []
        for req in self.requires:
            names = req.names if isinstance(req, AnyOf) else (req,)
            if not any(present(n) for n in names):
                out.append(str(req))
        return out

    def requirement_names(self) -> list[str]:
        """Every label or type named in ``requires``."""
        return [n for r in self.requires for n in (r.names if isinstance(r, AnyOf) else (r,))]


REGISTRY: dict[str, DetectorSpec] = {}


def _check_declaration(
    id: str, subjects: tuple[str, ...], reads: tuple[str, ...], requires: tuple, settings: type,
    computes: bool,
) -> None:  # fmt: skip
    family, _, name = id.partition(".")
    if not (family and name and id == id.lower() and " " not in id):
        raise ValueError(f"detector id {id!r} must be 'family.name' in lower case")
    if not subjects and not computes:
        raise ValueError(f"{id}: declare subject=... (the subject type of its findings)")
    unknown = [r for r in reads if not is_known(r)]
    if unknown:
        raise ValueError(
            f"{id}: reads {unknown}, which are neither node labels nor relationship types of "
            "the graph model (graph_models/schema.yaml)"
        )
    for req in requires:
        names = req.names if isinstance(req, AnyOf) else (req,)
        if not isinstance(req, (str, AnyOf)) or any(n not in reads for n in names):
            raise ValueError(f"{id}: requires {req!r}, which is not among its reads {reads}")
    if not is_dataclass(settings):
        raise ValueError(f"{id}: settings must be a dataclass")


def detector(
    id: str,
    *,
    title_zh: str,
    title_en: str,
    subject: str | Iterable[str] = (),
    reads: Iterable[str],
    requires: Iterable[Requirement] = (),
    uses: Iterable[str] = (),
    settings: type,
    computes: bool = False,
    register: bool = True,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn(ctx, settings)`` as detector ``id``.

    Parameters
    ----------
    id : str
        ``family.name``, e.g. ``aid.deceased_recipient``; written once, here.
    title_zh, title_en : str
        What it flags, for reviewers.
    subject : str or iterable of str
        The subject type of its findings (several when a finding names which, e.g. ``loan_id``
        or ``bond_id``).
    reads : iterable of str
        Every node label and relationship type it reads; its context refuses others.
    requires : iterable of str or AnyOf
        The reads that must have rows for it to run (else skipped with the reason).
    uses : iterable of str
        Detector ids whose results it reads through ``ctx.result``; they run first.
    settings : type
        A frozen dataclass whose fields have defaults and ``metadata={"doc": ...}``.
    computes : bool
        The function returns a result for the detectors that use it and raises no flags
        (``ownership.control``); otherwise it yields :class:`engine.flags.Finding` objects.
    register : bool
        False leaves it out of the registry (examples, tests).

    Examples
    --------
    See the module doc; ``tests/engine/example_detector.py`` is a complete detector.
    """
    subjects = (subject,) if isinstance(subject, str) else tuple(subject)
    reads, requires, uses = tuple(reads), tuple(requires), tuple(uses)
    _check_declaration(id, subjects, reads, requires, settings, computes)

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        spec = DetectorSpec(
            id=id,
            family=id.split(".", 1)[0],
            title_zh=title_zh,
            title_en=title_en,
            subjects=subjects,
            reads=reads,
            requires=requires,
            uses=uses,
            settings=settings,
            run=fn,
            doc=(fn.__doc__ or "").strip(),
            computes=computes,
        )
        if register:
            if id in REGISTRY and REGISTRY[id].run is not fn:
                raise ValueError(f"detector id {id!r} registered twice")
            REGISTRY[id] = spec
        fn.spec = spec  # type: ignore[attr-defined]
        return fn

    return wrap


_loaded = False


def load_builtin() -> None:
    """Import every module of ``engine.detectors`` (each registers its detector).

    Examples
    --------
    >>> load_builtin(); "ownership.control" in REGISTRY
    True
    """
    global _loaded
    if _loaded:
        return
    import engine.detectors as pkg

    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        importlib.import_module(f"engine.detectors.{mod.name}")
    _loaded = True


def run_order(specs: Iterable[DetectorSpec]) -> list[DetectorSpec]:
    """``specs`` in an order where every detector comes after those it uses (ties by id).

    Raises ValueError when a detector uses an unknown detector or the uses form a cycle.

    Examples
    --------
    >>> order = [s.id for s in run_order(all_detectors())]
    >>> order.index("ownership.control") < order.index("debt.hidden_chain") < order.index(
    ...     "debt.region_risk")
    True
    """
    by_id = {s.id: s for s in specs}
    waiting = {}
    for s in by_id.values():
        unknown = [u for u in s.uses if u not in by_id]
        if unknown:
            raise ValueError(f"{s.id} uses {unknown}, which are not registered")
        waiting[s.id] = set(s.uses)
    users: dict[str, list[str]] = {i: [] for i in by_id}
    for s in by_id.values():
        for u in s.uses:
            users[u].append(s.id)
    ready = [i for i, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    out = []
    while ready:
        i = heapq.heappop(ready)
        out.append(by_id[i])
        for user in users[i]:
            waiting[user].discard(i)
            if not waiting[user]:
                heapq.heappush(ready, user)
    if len(out) < len(by_id):
        stuck = sorted(set(by_id) - {s.id for s in out})
        raise ValueError(f"detectors use one another in a cycle: {stuck}")
    return out


def all_detectors() -> list[DetectorSpec]:
    """Every registered detector, in run order (a detector after those it uses).

    Examples
    --------
    >>> len(all_detectors()) == len(detector_ids())
    True
    """
    load_builtin()
    return run_order(REGISTRY.values())


def detector_ids() -> list[str]:
    """Every registered detector id, sorted.

    Examples
    --------
    >>> "aid.deceased_recipient" in detector_ids()
    True
    """
    load_builtin()
    return sorted(REGISTRY)


def get_detector(detector_id: str) -> DetectorSpec:
    """The registered detector ``detector_id`` (KeyError listing the known ids otherwise).

    Examples
    --------
    >>> get_detector("debt.region_risk").uses
    ('debt.hidden_chain', 'debt.gov_guarantee')
    """
    load_builtin()
    try:
        return REGISTRY[detector_id]
    except KeyError:
        raise KeyError(f"unknown detector {detector_id!r}; known: {sorted(REGISTRY)}") from None
