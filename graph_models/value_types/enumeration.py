"""Enumerations: English words with Chinese aliases."""

from __future__ import annotations

from collections.abc import Mapping

from graph_models.value_types._base import InvalidValue, ValueType, _normalise


def _enum_key(word: str) -> str:
    return "".join(_normalise(word).split()).casefold()


class EnumType(ValueType):
    """One of a fixed set of English words, each with a Chinese alias; returns the English word.

    Parameters
    ----------
    values : Mapping[str, str]
        Canonical English word -> Chinese alias.
    """

    reason = "bad_enum"

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.name = f"enum({','.join(self.values)})"
        self._lookup: dict[str, str] = {}
        for canonical, alias in self.values.items():
            for word in (canonical, alias):
                key = _enum_key(word)
                if self._lookup.setdefault(key, canonical) != canonical:
                    raise ValueError(f"{self.name}: {word!r} names two values")

    def _clean_text(self, text: str) -> str:
        canonical = self._lookup.get(_enum_key(text))
        if canonical is None:
            allowed = ", ".join(f"{k} ({v})" for k, v in self.values.items())
            raise InvalidValue("bad_enum", f"{text!r} is not one of: {allowed}")
        return canonical

    def _clean_other(self, raw: object) -> str:
        return self._clean_text(_normalise(str(raw)))


def enum_type(values: Mapping[str, str]) -> EnumType:
    """An enum value type from canonical English words to their Chinese aliases.

    Examples
    --------
    >>> level = enum_type({"province": "省", "city": "市", "county": "县"})
    >>> level.clean(" 市 "), level.clean("County")
    ('city', 'county')
    """
    return EnumType(values)
