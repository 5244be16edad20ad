"""Read-only Cypher for investigators: a tokenizer-based guard in front of a READ transaction.

The guard is the first of two locks (the second is Neo4j itself: the query runs in a transaction
opened in READ access mode, which the server refuses to write in). It tokenizes the query the way
Cypher does -- string literals, backtick-quoted names and comments are single tokens and never
keywords -- and rejects:

* write and administration clauses: ``CREATE``, ``MERGE``, ``DELETE``, ``DETACH``, ``SET``,
  ``REMOVE``, ``DROP``, ``FOREACH``, ``LOAD CSV``, ``INSERT``, ``ALTER``, ``GRANT``/``DENY``/
  ``REVOKE``, ``RENAME``, ``START``/``STOP``, ``TERMINATE``, ``ENABLE``/``DISABLE``, ``SHOW``,
  ``USE`` (no switching to the ``system`` database), ``IN TRANSACTIONS``;
* ``CALL`` of any procedure outside a short list of read-only ``db.*`` procedures (subqueries
  ``CALL { ... }`` are fine: what is inside them is checked like the rest);
* anything in the ``dbms``, ``apoc`` or ``gds`` namespaces, even as a function;
* more than one statement, unterminated strings or comments.

A word is not a keyword when it is a property name (``n.set``), a label or type (``(n:Merge)``)
or a map key (``{delete: 1}``), as in Cypher.

Examples
--------
>>> check_read_only("MATCH (n:Household {id: $id}) RETURN n // CREATE is only a comment")
>>> try:
...     check_read_only("MATCH (n) DETACH DELETE n")
... except CypherRejected as e:
...     print(e)
DETACH is not allowed in read-only Cypher
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["READ_PROCEDURES", "CypherRejected", "Token", "check_read_only", "tokenize"]

FORBIDDEN = frozenset(
    {"CREATE", "MERGE", "DELETE", "DETACH", "SET", "REMOVE", "DROP", "FOREACH", "LOAD", "INSERT",
     "ALTER", "GRANT", "DENY", "REVOKE", "RENAME", "START", "STOP", "TERMINATE", "ENABLE",
     "DISABLE", "SHOW", "USE", "TRANSACTIONS", "PERIODIC", "FINISH"}
)  # fmt: skip
FORBIDDEN_NAMESPACES = frozenset({"DBMS", "APOC", "GDS"})
#: Procedures an investigator may CALL (they only read the graph's schema).
READ_PROCEDURES = frozenset(
    {"db.labels", "db.relationshiptypes", "db.propertykeys", "db.schema.visualization",
     "db.schema.nodetypeproperties", "db.schema.reltypeproperties"}
)  # fmt: skip
_WORD = re.compile(r"[^\W\d]\w*", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|0x[0-9a-fA-F]+")


class CypherRejected(ValueError):
    """The query is not a single read-only statement."""


@dataclass(frozen=True)
class Token:
    kind: str  # word, quoted, string, number, param, punct
    text: str
    pos: int


def _skip_string(query: str, i: int) -> int:
    quote = query[i]
    j = i + 1
    while j < len(query):
        c = query[j]
        if c == "\\":
            j += 2
            continue
        if c == quote:
            return j + 1
        j += 1
    raise CypherRejected(f"unterminated string starting at character {i}")


def tokenize(query: str) -> list[Token]:
    """Cypher tokens; comments are dropped, strings and quoted names are one token each."""
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif query.startswith("//", i):
            nl = query.find("\n", i)
            i = n if nl < 0 else nl + 1
        elif query.startswith("/*", i):
            end = query.find("*/", i + 2)
            if end < 0:
                raise CypherRejected(f"unterminated comment starting at character {i}")
            i = end + 2
        elif c in "'\"":
            j = _skip_string(query, i)
            tokens.append(Token("string", query[i:j], i))
            i = j
        elif c == "`":
            j = i + 1
            while True:
                end = query.find("`", j)
                if end < 0:
                    raise CypherRejected(f"unterminated quoted name starting at character {i}")
                if query.startswith("``", end):
                    j = end + 2
                    continue
                break
            tokens.append(Token("quoted", query[i + 1 : end].replace("``", "`"), i))
            i = end + 1
        elif c == "$":
            m = _WORD.match(query, i + 1) or _NUMBER.match(query, i + 1)
            j = m.end() if m else i + 1
            tokens.append(Token("param", query[i:j], i))
            i = j
        elif c.isdigit():
            m = _NUMBER.match(query, i)
            j = m.end() if m else i + 1
            tokens.append(Token("number", query[i:j], i))
            i = j
        else:
            m = _WORD.match(query, i)
            if m:
                tokens.append(Token("word", m.group(0), i))
                i = m.end()
            else:
                tokens.append(Token("punct", c, i))
                i += 1
    return tokens


def _is_name_position(tokens: list[Token], k: int) -> bool:
    """Whether the word at ``k`` is a property name, label/type or map key, not a keyword."""
    prev = tokens[k - 1] if k else None
    nxt = tokens[k + 1] if k + 1 < len(tokens) else None
    if prev is not None and prev.text == ".":
        before = tokens[k - 2] if k >= 2 else None
        return before is not None and (
            before.kind in ("word", "quoted", "param") or before.text in (")", "]")
        )
    if prev is not None and prev.text == ":" and prev.kind == "punct":
        return True
    return nxt is not None and nxt.text == ":" and prev is not None and prev.text in ("{", ",")


def _dotted_name(tokens: list[Token], k: int) -> tuple[str, int]:
    """The dotted name starting at ``k`` (``db.schema.visualization``) and the index after it."""
    parts = [tokens[k].text]
    j = k + 1
    while (
        j + 1 < len(tokens) and tokens[j].text == "." and tokens[j + 1].kind in ("word", "quoted")
    ):
        parts.append(tokens[j + 1].text)
        j += 2
    return ".".join(parts), j


def check_read_only(query: str) -> None:
    """Raise :class:`CypherRejected` unless ``query`` is one read-only statement."""
    tokens = tokenize(query)
    if not tokens:
        raise CypherRejected("empty query")
    semis = [k for k, t in enumerate(tokens) if t.kind == "punct" and t.text == ";"]
    if semis and (len(semis) > 1 or semis[0] != len(tokens) - 1):
        raise CypherRejected("only one statement is allowed")
    for k, tok in enumerate(tokens):
        if tok.kind not in ("word", "quoted"):
            continue
        upper = tok.text.upper()
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        if upper in FORBIDDEN_NAMESPACES and nxt is not None and nxt.text == ".":
            raise CypherRejected(f"the {tok.text} namespace is not allowed")
        if tok.kind != "word" or _is_name_position(tokens, k):
            continue
        if upper in FORBIDDEN:
            raise CypherRejected(f"{upper} is not allowed in read-only Cypher")
        if upper == "CALL":
            if nxt is not None and nxt.text in ("{", "("):
                continue  # a subquery; its body is checked as part of the query
            if nxt is None or nxt.kind not in ("word", "quoted"):
                raise CypherRejected("CALL must name a procedure")
            name, _ = _dotted_name(tokens, k + 1)
            if name.lower() not in READ_PROCEDURES:
                raise CypherRejected(
                    f"procedure {name} is not allowed (read-only procedures: "
                    f"{', '.join(sorted(READ_PROCEDURES))})"
                )
