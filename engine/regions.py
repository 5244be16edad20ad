"""Region codes (GB/T 2260) as detectors assign them to flags.

A flag's ``region_code`` decides who may see it: a reviewer scoped to a region sees the flags
whose code lies inside it (``410000`` covers ``41xxxx``, ``410800`` covers ``4108xx``, a county
only itself). A finding that spans several counties therefore takes the smallest region that
covers them all, so that a county-scoped reviewer never receives another county's records, and
the city or province that can see both sides reviews it.

Examples
--------
>>> covering_region(["410822", "410822"]), covering_region(["410822", "410823"])
('410822', '410800')
>>> covering_region(["410883", "411627"]), covering_region(["410883", "420102"])
('410000', '000000')
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["covering_region"]


def covering_region(codes: Iterable[str | None]) -> str | None:
    """The smallest region (county, city, province, ``000000`` for the country) covering every
    6-digit code given; None when none is given.

    Examples
    --------
    >>> covering_region([None, "410822"]), covering_region([])
    ('410822', None)
    """
    known = sorted({c for c in codes if isinstance(c, str) and len(c) == 6 and c.isdigit()})
    if not known:
        return None
    for digits in (6, 4, 2):
        if len({c[:digits] for c in known}) == 1:
            return known[0][:digits].ljust(6, "0")
    return "000000"
