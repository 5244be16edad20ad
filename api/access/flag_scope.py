"""A flag cut to one reader's region scope: nothing of a person, household, firm or record
outside it reaches them, in any field.

A flag is visible when its own region is inside the reader's scope (``api.server.flag_views``),
but what it names may lie outside: an account in 410327 held by someone who lives in 411622, a
person enrolled in households of two counties, a guarantee circle across two provinces. Whoever
reads the flag (an API client, a web page, a report, an Excel export) gets it through
:class:`FlagRedactor`, built from the identifiers the reader may not see (worked out from the
graph by the server: ``api.server.flag_views``):

* **entities** -- hidden ids are left out of the list (and counted);
* **evidence** -- a record (an item of a list, or a dict with ``table`` and ``line``) that names
  a hidden id or name anywhere inside it, or whose ``region_code`` / ``village_code`` lies
  outside the scope, is withheld and counted; a plain id in a list is left out; a dict key that
  is a hidden id is dropped with its value; any other text has hidden ids and names replaced by
  :data:`REDACTED`;
* **explanation** -- the detectors' sentences quote names and ids; each hidden one is replaced
  by the placeholder of that language (``〔辖区外〕`` / ``[outside your region]``). A name is an
  identifier too: the hidden persons' and firms' names are replaced wherever they appear;
* **subject** and any other free text (review comments, the differences of a changed flag) the
  same way.

Ids are matched as whole tokens (``H1`` is not replaced inside ``H12``); names anywhere, as
Chinese text has no word boundaries (a hidden ``张三`` is also cut out of ``张三丰``: the reader
loses a little, nobody learns anything). Redaction happens before masking, so a hidden resident
ID never appears even in masked form.

Examples
--------
>>> r = FlagRedactor({"411622198001010012", "钱八"}, RegionScope(["410327"]))
>>> r.text("账户6222（开户人钱八，411622198001010012）", "zh")
'账户6222（开户人〔辖区外〕，〔辖区外〕）'
>>> ev, n = r.evidence({"payments": [{"table": "aid_payments", "line": 2, "recipient_id": "411622198001010012"},
...                                  {"table": "aid_payments", "line": 3, "recipient_id": "X"}]})
>>> ev, n.records
({'payments': [{'table': 'aid_payments', 'line': 3, 'recipient_id': 'X'}]}, 1)
>>> withheld_note({"records": 1, "entities": 0}, "zh"), withheld_note({"records": 3, "entities": 0}, "en")
('1 条记录不在您的辖区内', '3 records outside your region')
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from api.access.scopes import RegionScope, is_region_code, region_prefix

__all__ = [
    "PLACEHOLDERS",
    "REDACTED",
    "FlagRedactor",
    "Withheld",
    "candidate_ids",
    "withheld_note",
]

#: What replaces a hidden id or name in an explanation, per language.
PLACEHOLDERS = {"zh": "〔辖区外〕", "en": "[outside your region]"}
#: What replaces a hidden id or name inside evidence values and other data (language-neutral
#: data, read by both: the Chinese form, as the rest of the evidence is the source records').
REDACTED = PLACEHOLDERS["zh"]

#: Strings that may be the id of a node (what a flag's evidence is searched for).
_ID_LIKE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_\-.:|/]{1,63}$")
_ASCII_WORD = re.compile(r"^[0-9A-Za-z_]")
_REGION_KEYS = ("region_code", "village_code")
_DROP = object()


@dataclass
class Withheld:
    """How much of a flag was left out for its reader."""

    records: int = 0
    entities: int = 0

    def __bool__(self) -> bool:
        return bool(self.records or self.entities)

    def add(self, other: Withheld) -> None:
        self.records += other.records
        self.entities += other.entities

    def as_dict(self) -> dict[str, int]:
        return {"records": self.records, "entities": self.entities}


def withheld_note(withheld: dict[str, int] | Withheld | None, lang: str = "zh") -> str:
    """The sentence a page, report or export shows for what was withheld ('' when nothing).

    Examples
    --------
    >>> withheld_note({"records": 1, "entities": 2}, "en")
    '1 record and 2 entities outside your region'
    >>> withheld_note(None)
    ''
    """
    if isinstance(withheld, Withheld):
        withheld = withheld.as_dict()
    records = int((withheld or {}).get("records") or 0)
    entities = int((withheld or {}).get("entities") or 0)
    if lang == "en":
        parts = []
        if records:
            parts.append(f"{records} record{'s' if records != 1 else ''}")
        if entities:
            parts.append(f"{entities} entit{'ies' if entities != 1 else 'y'}")
        return f"{' and '.join(parts)} outside your region" if parts else ""
    parts = []
    if records:
        parts.append(f"{records} 条记录")
    if entities:
        parts.append(f"{entities} 个对象")
    return f"{'、'.join(parts)}不在您的辖区内" if parts else ""


#: A date or a time is never an id: skipped (a record holds several).
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
#: A dict key is a field name, unless it is an id (``share_of_net_assets: {USCC: ...}``).
_KEY_ID = re.compile(r"^(?=[^\d]*\d)[0-9A-Za-z][0-9A-Za-z_\-.:|/]{1,63}$")


def _strings(value: Any, out: set[str]) -> None:
    t = type(value)
    if t is str:
        if _ID_LIKE.match(value) and not _DATE.match(value):
            out.add(value)
    elif t is dict:
        for k, v in value.items():
            if type(k) is str and _KEY_ID.match(k):
                out.add(k)
            if type(v) is not int and type(v) is not float and v is not None:
                _strings(v, out)
    elif t is list or t is tuple:
        for v in value:
            _strings(v, out)
    elif isinstance(value, str):  # a str subclass
        _strings(str(value), out)


#: A word of a free text that may be an id: letters, digits, ``_`` and ``-``, with a digit.
_WORD_IN_TEXT = re.compile(r"(?<![0-9A-Za-z_\-])[0-9A-Za-z_\-]{2,64}(?![0-9A-Za-z_\-])")


def candidate_ids(
    entities: Iterable[Any] = (),
    subject_id: Any = None,
    evidence: Any = None,
    texts: Iterable[str] = (),
) -> set[str]:
    """Every string of a flag that may be a node's id: its entities and subject, the id-like
    strings of its evidence (values and keys), and the words with a digit in its texts
    (explanations, review comments: a resident ID, a household id, a USCC quoted there).

    Examples
    --------
    >>> sorted(candidate_ids(["H1"], "A1", {"payments": [{"payment_id": "P9", "amount": 5}]},
    ...                      ["户主411622198001010012"]))
    ['411622198001010012', 'A1', 'H1', 'P9']
    """
    out: set[str] = set()
    _strings([str(e) for e in entities if e is not None], out)
    if subject_id is not None:
        _strings(str(subject_id), out)
    if evidence is not None:
        _strings(evidence, out)
    for text in texts:
        if isinstance(text, str):
            words = (m[0] for m in _WORD_IN_TEXT.finditer(text))
            out.update(w for w in words if any(c.isdigit() for c in w))
    return out


class FlagRedactor:
    """Cuts flags' fields to a reader's scope, given the ids and names the reader may not see.

    Parameters
    ----------
    hidden : iterable of str
        Ids and names of the nodes outside the reader's role or regions (as the server found
        them among :func:`candidate_ids`).
    scope : RegionScope
        The reader's regions: a record whose ``region_code`` (or ``village_code``) lies outside
        is withheld even when it names nobody hidden (an office in another county).
    """

    def __init__(self, hidden: Iterable[str], scope: RegionScope) -> None:
        self.hidden = frozenset(h for h in hidden if isinstance(h, str) and h)
        self.scope = scope
        words = sorted((h for h in self.hidden if _ASCII_WORD.match(h)), key=len, reverse=True)
        # names and other non-ASCII tokens: at least 2 characters (a family name alone is not
        # an identifier, and replacing one character everywhere would wipe the text)
        names = sorted(
            (h for h in self.hidden if not _ASCII_WORD.match(h) and len(h) >= 2),
            key=len,
            reverse=True,
        )
        parts = []
        if words:
            parts.append(
                r"(?<![0-9A-Za-z])(?:" + "|".join(map(re.escape, words)) + r")(?![0-9A-Za-z])"
            )
        if names:
            parts.append("(?:" + "|".join(map(re.escape, names)) + ")")
        self._pattern = re.compile("|".join(parts)) if parts else None

    @property
    def active(self) -> bool:
        """Whether anything can be cut (hidden tokens, or a scope that is not national)."""
        return self._pattern is not None or not self.scope.national

    # -- text --------------------------------------------------------------------------------
    def touches(self, value: Any) -> bool:
        """Whether ``value`` (any JSON-like value) names a hidden id or name anywhere."""
        if isinstance(value, str):
            return value in self.hidden or (
                self._pattern is not None and self._pattern.search(value) is not None
            )
        if isinstance(value, dict):
            return any(self.touches(k) or self.touches(v) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return any(self.touches(v) for v in value)
        return False

    def text(self, value: str, lang: str = "zh") -> str:
        """``value`` with every hidden id and name replaced by the language's placeholder."""
        if self._pattern is None or not isinstance(value, str):
            return value
        return self._pattern.sub(PLACEHOLDERS.get(lang, REDACTED), value)

    def explanation(self, explanation: dict[str, str] | None) -> dict[str, str]:
        return {
            lang: self.text(text, lang) if isinstance(text, str) else text
            for lang, text in (explanation or {}).items()
        }

    def entities(self, entities: Iterable[Any]) -> tuple[list[str], int]:
        """The entities the reader may see, and how many were left out."""
        kept, dropped = [], 0
        for e in entities:
            if self.touches(str(e)):
                dropped += 1
            else:
                kept.append(e)
        return kept, dropped

    # -- evidence ----------------------------------------------------------------------------
    def _outside(self, record: dict[str, Any]) -> bool:
        if self.scope.national:
            return False
        for key in _REGION_KEYS:
            value = record.get(key)
            code = value[:6] if isinstance(value, str) else ""
            outside = is_region_code(code) and not self.scope.covers(code)
            if outside and not _ancestor(self.scope, code):
                return True
        return False

    def evidence(self, evidence: Any) -> tuple[Any, Withheld]:
        """The evidence (any JSON-like value) cut to the scope, and what was withheld."""
        withheld = Withheld()
        if not self.active:
            return evidence, withheld
        out = self._walk(evidence, withheld, in_list=False)
        return (None if out is _DROP else out), withheld

    def _walk(self, value: Any, withheld: Withheld, in_list: bool) -> Any:
        if isinstance(value, dict):
            is_record = "table" in value and "line" in value
            if (in_list or is_record) and (self._outside(value) or self.touches(value)):
                withheld.records += 1
                return _DROP if in_list else None
            out = {}
            for k, v in value.items():
                if isinstance(k, str) and self.touches(k):
                    withheld.records += 1
                    continue
                walked = self._walk(v, withheld, in_list=False)
                out[k] = None if walked is _DROP else walked
            return out
        if isinstance(value, list):
            kept = []
            for v in value:
                walked = self._walk(v, withheld, in_list=True)
                if walked is not _DROP:
                    kept.append(walked)
            return kept
        if isinstance(value, str):
            if in_list and self.touches(value):
                if value in self.hidden or _ID_LIKE.match(value):
                    withheld.entities += 1
                    return _DROP
                return self.text(value)
            return self.text(value)
        return value


def _ancestor(scope: RegionScope, code: str) -> bool:
    """Whether ``code`` is a region above one of the scope's own (a county's province is no
    secret to it)."""
    try:
        prefix = region_prefix(code)
    except ValueError:
        return False
    return any(own.startswith(prefix) for own in scope.codes)
