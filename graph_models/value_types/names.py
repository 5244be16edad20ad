"""Personal names: the raw value is kept; matching uses a key without interior spaces.

Clerks type Chinese names with spaces inside (``张　三`` with U+3000, ``张 三``) to line up
two-character names with three-character ones in a printed roster. Those spaces are not part of
the name: :func:`name_key` removes them (and folds full-width letters) so ``张　三`` and ``张三``
match, while the loaded ``name`` keeps what was written.

Examples
--------
>>> name_key("张\\u3000三") == name_key(" 张 三 ") == name_key("张三")
True
>>> name_key("Li  Lei")
'li lei'
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["name_key"]

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f·・]")


def name_key(name: object) -> str | None:
    """Key for matching two spellings of one name (None for a blank name)."""
    if name is None or (isinstance(name, float) and name != name):
        return None
    text = unicodedata.normalize("NFKC", str(name)).strip()
    if not text:
        return None
    if _CJK.search(text):
        return "".join(text.split())
    return " ".join(text.split()).casefold()
