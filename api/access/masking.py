"""The one masking policy: what each role sees of personal data, in pages, the API, reports,
Excel and CSV exports and GraphML alike. It is derived from the schema's sensitivity classes
(``graph_models/schema.yaml``) and value types, and from the data contract's column types
(``loaders/contract.yaml``); nothing else decides what is masked.

==========================  =====================================  ============================
what                        role without personal-data clearance   role with clearance
==========================  =====================================  ============================
resident ID (person_id)     ``4108**********2694``                 in full, read audited
bank account (account_no)   ``6230***********1194``                in full, read audited
phone                       ``132****6811``                        in full, read audited
a person's name             ``王**`` (family name kept)             in full, read audited
other personal values       removed (income, salary, death date,   in full, read audited
                            relation, raw rejected rows)
organisation code (USCC)    never masked                           never masked
household, payment, loan    shown (not personal identifiers);      shown
numbers                     hidden only where the role has no
                            need-to-know for the label
confidential properties     removed outside the role's domain      removed outside the domain
==========================  =====================================  ============================

Which roles have clearance is :mod:`api.access.roles` (aid inspectors and investigators: their
work is matching people against registers; debt analysts: no). Reports and workbooks written
from the command line (``riskgraph report``, ``export-flags``) are masked as for a role without
clearance unless ``--unmasked`` is given (a printed report travels).

Graph records are masked by their schema: each property's sensitivity and value type. Flags are
free-form (evidence records, explanations), so for them:

* a value under a key whose value type is an identifier (``recipient_id``, ``account_no``,
  ``phone``, ... from the schema and the contract) is masked by that type, unless it is an
  organisation code (``holder_id`` may hold a company);
* a value under a key that is personal everywhere in the schema (income, salary, death date) is
  removed;
* inside any text, resident IDs and mobile numbers are masked by their shape, and the flag's own
  personal identifiers and the names of the persons it involves wherever they appear; UnionPay
  card numbers (16-19 digits from ``62`` passing the Luhn check) and digit runs longer than a
  resident ID (19-25 digits: account-like) by their shape too. Other digit runs (household
  numbers, village codes, amounts) are left as they are, and the flag's
  organisation codes are never touched, even where they look like a resident ID.

For roles *with* clearance nothing is masked, but the masker records what personal data was
shown (``revealed``) so the API can write it to the audit trail.

Examples
--------
>>> mask_name("张三丰"), mask_phone("13812345678"), mask_account("6222020200112233446")
('张**', '138****5678', '6222***********3446')
>>> mask_free_text("身份证11010519491231002X，电话13812345678，户号4108831002020075", names=["王五"])
'身份证1101**********002X，电话138****5678，户号4108831002020075'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from api.access.roles import RolePolicy
from graph_models.schema import SCHEMA, Schema
from graph_models.value_types import is_uscc_shape, mask_person_id, uscc_check_char

__all__ = [
    "IDENTIFIER_TYPES",
    "OFFLINE_POLICY",
    "Masker",
    "identifier_keys",
    "mask_account",
    "mask_free_text",
    "mask_name",
    "mask_phone",
    "mask_text",
]

_PERSON_ID = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
_CARD = re.compile(r"(?<![0-9A-Za-z])(62\d{14,17})(?![0-9A-Za-z])")
_LONG_RUN = re.compile(r"(?<![0-9A-Za-z])(\d{19,25})(?![0-9A-Za-z])")
MASK = "***"

#: A role without personal-data clearance, for reports and workbooks written offline.
OFFLINE_POLICY = RolePolicy("offline", None, None, None, personal_clearance=False)


def mask_name(name: str) -> str:
    """Keep the family name (first character): ``张三丰`` -> ``张**``."""
    text = str(name).strip()
    if not text:
        return text
    return text[0] + "*" * max(1, len(text) - 1)


def mask_phone(phone: str) -> str:
    """Mobile numbers keep 3 + 4 digits; anything else as :func:`mask_text`."""
    text = str(phone)
    if len(text) == 11 and text.isdigit():
        return text[:3] + "****" + text[-4:]
    return mask_text(text)


def mask_account(account: str) -> str:
    """First 4 and last 4 digits of long numbers, else the last 4."""
    text = str(account)
    if len(text) >= 12:
        return text[:4] + "*" * (len(text) - 8) + text[-4:]
    return "*" * max(0, len(text) - 4) + text[-4:]


def mask_text(text: str) -> str:
    """First and last character kept (plates, property ids, record ids)."""
    text = str(text)
    if len(text) <= 2:
        return "*" * len(text)
    return text[0] + "*" * (len(text) - 2) + text[-1]


_BY_TYPE = {"person_id": mask_person_id, "phone": mask_phone, "account_no": mask_account}
#: The value types of personal identifiers (masked for roles without clearance).
IDENTIFIER_TYPES = frozenset(_BY_TYPE)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_uscc(text: str) -> bool:
    """A well-formed unified social credit code (shape and check character)."""
    try:
        return is_uscc_shape(text) and uscc_check_char(text[:17].upper()) == text[17].upper()
    except (ValueError, IndexError):
        return False


def mask_free_text(text: str, names: Iterable[str] = (), secrets: Iterable[str] = (),
                   keep: Iterable[str] = ()) -> str:  # fmt: skip
    """Mask resident IDs, mobile and UnionPay card numbers, the given ``names`` (of persons) and
    ``secrets`` (personal identifiers known to be in the text: accounts, phones, IDs) inside a
    text; ``keep`` are organisation codes left as they are even when shaped like an ID."""
    kept = {k for k in keep if k}
    for secret in sorted({s for s in secrets if s and len(s) >= 6} - kept, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, _mask_identifier(secret))
    for name in sorted({n for n in names if n and len(n) >= 2}, key=len, reverse=True):
        text = text.replace(name, mask_name(name))

    def person(m: re.Match[str]) -> str:
        return m.group(1) if m.group(1) in kept else mask_person_id(m.group(1))

    text = _PERSON_ID.sub(person, text)
    text = _MOBILE.sub(lambda m: mask_phone(m.group(1)), text)
    text = _LONG_RUN.sub(lambda m: mask_account(m.group(1)), text)
    return _CARD.sub(lambda m: mask_account(m.group(1)) if _luhn(m.group(1)) else m.group(1), text)


def _mask_identifier(value: str) -> str:
    """An identifier of unknown type, masked by its shape."""
    if _PERSON_ID.fullmatch(value):
        return mask_person_id(value)
    if _MOBILE.fullmatch(value):
        return mask_phone(value)
    if value.isdigit():
        return mask_account(value)
    return mask_text(value)


@cache
def _contract_types() -> dict[str, set[str]]:
    """Column name -> value types in the data contract (``loaders/contract.yaml``)."""
    import yaml

    path = Path(__file__).resolve().parents[2] / "loaders" / "contract.yaml"
    doc = yaml.safe_load(path.read_text("utf-8"))
    out: dict[str, set[str]] = {}
    for table in doc["tables"].values():
        for col, spec in table["columns"].items():
            vtype = spec["type"] if isinstance(spec["type"], str) else "enum"
            out.setdefault(col, set()).add(vtype)
    return out


def identifier_keys(schema: Schema = SCHEMA) -> dict[str, frozenset[str]]:
    """Key -> the value types it holds, over the schema's properties and the contract's columns,
    for keys that may hold a personal identifier or an organisation code.

    Examples
    --------
    >>> keys = identifier_keys()
    >>> sorted(keys["recipient_id"]), sorted(keys["holder_id"]), "household_id" in keys
    (['person_id'], ['entity_ref', 'person_id'], False)
    """
    seen: dict[str, set[str]] = {k: set(v) for k, v in _contract_types().items()}
    for owner in [*schema.nodes.values(), *schema.relationships.values()]:
        for name, spec in owner.properties.items():
            seen.setdefault(name, set()).add(spec.type)
    wanted = IDENTIFIER_TYPES | {"uscc", "entity_ref"}
    return {k: frozenset(v) for k, v in seen.items() if v & wanted}


def _personal_everywhere(schema: Schema) -> dict[str, str]:
    """Property names that are personal on every label/type that has them -> their value type."""
    seen: dict[str, set[tuple[str, str]]] = {}
    for owner in [*schema.nodes.values(), *schema.relationships.values()]:
        for name, spec in owner.properties.items():
            seen.setdefault(name, set()).add((spec.sensitivity, spec.type))
    return {
        name: next(iter(kinds))[1]
        for name, kinds in seen.items()
        if {s for s, _ in kinds} == {"personal"} and len({t for _, t in kinds}) == 1
    }


class _SchemaRules:
    """What masking needs from a schema, worked out once per schema (not once per request)."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.personal_keys = _personal_everywhere(schema)
        self.id_keys = identifier_keys(schema)
        #: owner (label or relationship type) -> property -> (sensitivity, value type)
        self.by_owner: dict[str, dict[str, tuple[str, str]]] = {}
        #: role policy -> (owner, property keys) -> Masker._plan (bounded: see Masker._props)
        self.plans: dict[RolePolicy, dict[tuple[str, tuple[str, ...]], tuple[bool, tuple]]] = {}
        #: role policy -> label -> how its node ids are shown (see Masker.node_id)
        self.id_masks: dict[RolePolicy, dict[str, Any]] = {}


_SCHEMA_RULES: dict[int, _SchemaRules] = {}
#: Masking plans kept per schema at most (one per role, label or type, and set of keys).
_MAX_PLANS = 20_000
_UNSET = object()


def _schema_rules(schema: Schema) -> _SchemaRules:
    # keyed by identity (a Schema holds dicts, so it is not hashable); the entry keeps its
    # schema alive, so an id is never reused for another schema while cached
    shared = _SCHEMA_RULES.get(id(schema))
    if shared is None or shared.schema is not schema:
        shared = _SCHEMA_RULES[id(schema)] = _SchemaRules(schema)
    return shared


class Masker:
    """Masks graph records and flags for one role; ``revealed`` lists what was shown in clear.

    Parameters
    ----------
    policy : RolePolicy
        The viewer's role.
    schema : Schema
        Sensitivity classes (the packaged schema by default).
    """

    def __init__(self, policy: RolePolicy, schema: Schema = SCHEMA) -> None:
        self.policy = policy
        self.schema = schema
        self.clear = policy.personal_clearance
        self.revealed: list[str] = []
        # one per request: what depends on the schema alone is worked out once per schema
        shared = _schema_rules(schema)
        self._personal_keys = shared.personal_keys
        self._id_keys = shared.id_keys
        self._rules = shared.by_owner
        self._plans = shared.plans.setdefault(policy, {})
        self._id_masks = shared.id_masks.setdefault(policy, {})

    def _rule(self, owner: str, key: str) -> tuple[str, str]:
        """(sensitivity, value type) of a property, cached per schema."""
        rules = self._rules.get(owner)
        if rules is None:
            rules = self._rules.setdefault(owner, {})
        rule = rules.get(key)
        if rule is None:
            spec = self.schema.nodes.get(owner) or self.schema.relationships.get(owner)
            vtype = spec.properties[key].type if spec and key in spec.properties else ""
            rule = rules[key] = (self.schema.sensitivity(owner, key), vtype)
        return rule

    # -- graph records ---------------------------------------------------------------------
    def node_id(self, label: str, node_id: str) -> str:
        """The id as this role may see it."""
        fn = self._id_masks.get(label, _UNSET)
        if fn is _UNSET:
            fn = self._id_masks[label] = self._id_mask(label)
        return node_id if fn is None else fn(node_id)

    def _id_mask(self, label: str) -> Any:
        """How this role sees ``label``'s ids: None (as they are) or a masking function."""
        spec = self.schema.nodes.get(label)
        if spec is None:
            return None
        sensitivity = spec.id_sensitivity
        if sensitivity == "personal" and not self.clear:
            return _BY_TYPE.get(spec.id_type, mask_text)
        if sensitivity == "confidential" and not self.policy.needs_confidential(label):
            return mask_text
        return None

    def _plan(self, owner: str, keys: tuple[str, ...]) -> tuple[bool, tuple[tuple[str, Any], ...]]:
        """What this role does to a record of ``owner`` with these property keys: (any personal
        property?, the keys to change in order as (key, action)). An action is ``None`` (remove:
        hidden), or a masking function / ``False`` (masked: value replaced / removed)."""
        personal_seen = False
        actions: list[tuple[str, Any]] = []
        for key in keys:
            sensitivity, vtype = self._rule(owner, key)
            if sensitivity == "personal":
                personal_seen = True
                if not self.clear:
                    fn = _BY_TYPE.get(vtype) or (mask_name if key == "name" else False)
                    actions.append((key, fn))
            elif sensitivity == "confidential" and not self.policy.needs_confidential(owner):
                actions.append((key, None))
        return personal_seen, tuple(actions)

    def _props(self, owner: str, props: dict[str, Any]) -> tuple[dict[str, Any], list, list, bool]:
        """(shown properties, masked keys, hidden keys, any personal?). What to do with a record
        depends on the role, its label or type and its keys only: worked out once per (role,
        owner, keys) and shared by every request; a record needing no change is passed through
        as it is (the store's dicts are fresh per call and nobody writes to them afterwards)."""
        if not props:  # most relationships carry none
            return {}, [], [], False
        plan_key = (owner, tuple(props))
        plan = self._plans.get(plan_key)
        if plan is None:
            if len(self._plans) >= _MAX_PLANS:  # sparse data: key sets beyond counting
                self._plans.clear()
            plan = self._plans[plan_key] = self._plan(owner, plan_key[1])
        personal_seen, actions = plan
        if not actions:
            return props, [], [], personal_seen
        out = dict(props)
        masked: list[str] = []
        hidden: list[str] = []
        for key, action in actions:
            if action is None:
                del out[key]
                hidden.append(key)
                continue
            masked.append(key)
            value = out[key]
            if action is not False and isinstance(value, str):
                out[key] = action(value)  # in place: the keys keep their order
            else:
                del out[key]
        return out, masked, hidden, personal_seen

    def node(self, rec: dict[str, Any]) -> dict[str, Any]:
        """``{"id", "label", "properties"}`` -> the same with ``masked`` and ``hidden`` lists."""
        label, node_id = rec["label"], str(rec["id"])
        props, masked, hidden, personal = self._props(label, rec.get("properties") or {})
        spec = self.schema.nodes.get(label)
        if spec is not None and spec.id_sensitivity == "personal":
            personal = True
        if personal and self.clear:
            self.revealed.append(f"{label}:{node_id}")
        return {
            "id": self.node_id(label, node_id), "label": label, "properties": props,
            "masked": masked, "hidden": hidden,
        }  # fmt: skip

    def edge(self, rec: dict[str, Any]) -> dict[str, Any]:
        """A relationship record with its endpoints' ids and its properties masked."""
        props, masked, hidden, personal = self._props(rec["type"], rec.get("properties") or {})
        if personal and self.clear:
            self.revealed.append(f"{rec['type']}:{rec['id']}")
        return {
            "id": str(rec["id"]), "type": rec["type"],
            "src": self.node_id(rec["src_label"], str(rec["src"])), "src_label": rec["src_label"],
            "dst": self.node_id(rec["dst_label"], str(rec["dst"])), "dst_label": rec["dst_label"],
            "properties": props, "masked": masked, "hidden": hidden,
        }  # fmt: skip

    # -- flags -----------------------------------------------------------------------------
    def _identifier(self, value: str, key: str | None, ctx: _FlagContext) -> str | None:
        """The masked form of an identifier under ``key``; None when ``key`` holds none."""
        types = self._id_keys.get(key or "")
        if not types or not (types & IDENTIFIER_TYPES):
            return None
        if value in ctx.keep or (types - IDENTIFIER_TYPES and _is_org_code(value)):
            return value  # an organisation code (``holder_id`` may hold a company)
        personal = types & IDENTIFIER_TYPES
        if len(personal) == 1:
            return _BY_TYPE[next(iter(personal))](value)
        return _mask_identifier(value)

    def _walk(self, value: Any, ctx: _FlagContext, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: self._walk(v, ctx, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, ctx, key) for v in value]
        if value is None:
            return value
        if isinstance(value, str):
            masked = self._identifier(value, key, ctx)
            if masked is not None:
                return masked
        if self._personal_keys.get(key or "", "person_id") not in _BY_TYPE:
            return MASK  # personal everywhere, not an identifier: income, salary, death date
        if isinstance(value, str):
            return mask_free_text(value, ctx.names, ctx.secrets, ctx.keep)
        return value

    def _context(self, data: Any, names: list[str], orgs: Iterable[str]) -> _FlagContext:
        """The flag's personal identifiers (masked wherever they appear in its texts) and its
        organisation codes (never masked): ``orgs`` and the values under organisation keys."""
        ctx = _FlagContext(names)
        ctx.keep.update(o for o in orgs if o)

        def visit(value: Any, key: str | None) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    visit(v, k)
            elif isinstance(value, list):
                for v in value:
                    visit(v, key)
            elif isinstance(value, str) and value:
                types = self._id_keys.get(key or "", frozenset())
                if not types:
                    return
                if not types & IDENTIFIER_TYPES or (
                    types - IDENTIFIER_TYPES and _is_org_code(value)
                ):
                    ctx.keep.add(value)  # under unit_id, guarantor_id, a company's holder_id
                else:
                    ctx.secrets.add(value)

        visit(data, None)
        ctx.secrets -= ctx.keep
        return ctx

    def _contains_personal(self, value: Any, ctx: _FlagContext, key: str | None = None) -> bool:
        """Whether :meth:`_walk` would mask anything (stops at the first hit)."""
        if isinstance(value, dict):
            return any(self._contains_personal(v, ctx, k) for k, v in value.items())
        if isinstance(value, list):
            return any(self._contains_personal(v, ctx, key) for v in value)
        if value is None:
            return False
        if isinstance(value, str):
            masked = self._identifier(value, key, ctx)
            if masked is not None:
                return masked != value
        if self._personal_keys.get(key or "", "person_id") not in _BY_TYPE:
            return True
        if isinstance(value, str):
            return mask_free_text(value, ctx.names, ctx.secrets, ctx.keep) != value
        return False

    def flag(
        self, data: dict[str, Any], flag_id: str, names: Iterable[str] = (),
        orgs: Iterable[str] = (),
    ) -> dict[str, Any]:  # fmt: skip
        """Mask the personal parts of a flag's fields (any JSON-like dict).

        ``names`` are the names of the persons the flag involves (masked wherever they appear),
        ``orgs`` the ids of the organisations among its entities (never masked, even where one
        looks like a resident ID). For a role with clearance nothing changes; the flag is
        recorded as revealed when it holds personal data.
        """
        ctx = self._context(data, list(names), orgs)
        if self.clear:
            if self._contains_personal(data, ctx):
                self.revealed.append(f"flag:{flag_id}")
            return data
        return self._walk(data, ctx)


class _FlagContext:
    """What masking one flag needs: the persons' names, the flag's personal identifiers and its
    organisation codes."""

    __slots__ = ("keep", "names", "secrets")

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.secrets: set[str] = set()
        self.keep: set[str] = set()


def _person_checksum_ok(text: str) -> bool:
    from graph_models.value_types import person_id_check_char

    try:
        return len(text) == 18 and person_id_check_char(text[:17]) == text[17].upper()
    except (ValueError, KeyError):
        return False


def _is_org_code(value: str) -> bool:
    """A valid USCC that is not also a valid resident ID (then it is taken as a person's)."""
    return _is_uscc(value) and not (_PERSON_ID.fullmatch(value) and _person_checksum_ok(value))
