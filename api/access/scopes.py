"""Region scopes: a 6-digit GB/T 2260 code covers itself and everything under it.

Trailing ``00`` pairs are the levels a code leaves open, so the covered codes are those sharing
its prefix: ``410000`` (a province) covers ``41xxxx``, ``410800`` (a city) covers ``4108xx`` and
``410802`` (a county) only itself. ``000000`` is the whole country.

Which regions a graph node belongs to is for whoever reads the graph to tell (the API server keeps
an index of them); this module only says which codes a scope covers.

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

from sqlalchemy import or_
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["NATIONAL", "RegionScope", "is_region_code", "region_prefix"]

NATIONAL = "000000"
_CODE = re.compile(r"^\d{6}$")


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

    def in_sight(self, region_code: str) -> bool:
        """A region inside the scope, or one above it (the user's city, their province).

        Examples
        --------
        >>> s = RegionScope(["410883"])
        >>> s.in_sight("410883"), s.in_sight("410800"), s.in_sight("410000"), s.in_sight("411600")
        (True, True, True, False)
        """
        if self.covers(region_code):
            return True
        try:
            prefix = region_prefix(region_code)
        except ValueError:
            return False
        return any(own.startswith(prefix) for own in self.codes)

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
