"""Masking personal data per role, driven by the schema's sensitivity classes.

* **personal** properties (and personal node ids: a Person's resident ID, an account number, a
  phone number, a plate) are masked for roles without personal-data clearance: identifiers
  partially (``1101**********002X``, ``138****5678``, ``6222***********0123``, names ``张**``),
  other personal values (income, salary, death date, raw rejected rows) removed;
* **confidential** properties are removed for roles without need-to-know for that label or
  relationship type (``RolePolicy.confidential``);
* **public** properties are shown.

Flags are free-form (evidence records, explanations): for them resident IDs, mobile numbers and
long digit runs are masked wherever they appear (by shape, so enterprise USCCs stay readable), values under
keys that are personal everywhere in the schema (income, salary, death date...) are masked, and the names of the persons the flag involves are masked in every string.

For roles *with* clearance nothing is masked, but the masker records what personal data was
shown (``revealed``) so the API can write it to the audit trail.

Examples
--------
>>> mask_name("张三丰"), mask_phone("13812345678"), mask_account("6222020200112233446")
('张**', '138****5678', '6222***********3446')
>>> mask_free_text("身份证11010519491231002X，电话13812345678", names=["王五"])
'身份证1101**********002X，电话138****5678'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from api.access.roles import RolePolicy
from graph_models.schema import SCHEMA, Schema
from graph_models.value_types import mask_person_id

__all__ = [
    "Masker",
    "mask_account",
    "mask_free_text",
    "mask_name",
    "mask_phone",
    "mask_text",
]

_PERSON_ID = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
_LONG_DIGITS = re.compile(r"(?<![0-9A-Za-z])(\d{10,25})(?![0-9A-Za-z])")
MASK = "***"


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


def mask_free_text(text: str, names: Iterable[str] = ()) -> str:
    """Mask resident IDs, mobile numbers, long digit runs and the given names inside a text."""
    for name in sorted({n for n in names if n and len(n) >= 2}, key=len, reverse=True):
        text = text.replace(name, mask_name(name))
    text = _PERSON_ID.sub(lambda m: mask_person_id(m.group(1)), text)
    text = _MOBILE.sub(lambda m: mask_phone(m.group(1)), text)
    return _LONG_DIGITS.sub(lambda m: mask_account(m.group(1)), text)


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
    def _walk(self, value: Any, names: list[str], key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: self._walk(v, names, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, names, key) for v in value]
        # identifiers are masked by their shape below, so a USCC under `holder_id` stays readable
        if value is not None and self._personal_keys.get(key, "person_id") not in _BY_TYPE:
            return MASK
        if isinstance(value, str):
            return mask_free_text(value, names)
        return value

    def _contains_personal(self, value: Any, names: list[str], key: str | None = None) -> bool:
        """Whether :meth:`_walk` would mask anything (stops at the first hit)."""
        if isinstance(value, dict):
            return any(self._contains_personal(v, names, k) for k, v in value.items())
        if isinstance(value, list):
            return any(self._contains_personal(v, names, key) for v in value)
        if value is not None and self._personal_keys.get(key, "person_id") not in _BY_TYPE:
            return True
        if isinstance(value, str):
            return bool(
                _PERSON_ID.search(value) or _MOBILE.search(value) or _LONG_DIGITS.search(value)
            ) or any(n in value for n in names if n and len(n) >= 2)
        return False

    def flag(self, data: dict[str, Any], flag_id: str, names: Iterable[str] = ()) -> dict[str, Any]:
        """Mask the personal parts of a flag's fields (any JSON-like dict).

        ``names`` are the names of the persons the flag involves (masked wherever they appear).
        For a role with clearance nothing changes; the flag is recorded as revealed when it holds
        personal data.
        """
        names = list(names)
        if self.clear:
            if self._contains_personal(data, names):
                self.revealed.append(f"flag:{flag_id}")
            return data
        return self._walk(data, names)
