"""References to a person (resident ID) or an organisation (USCC)."""

from __future__ import annotations

from typing import Literal, NamedTuple

from graph_models.value_types._base import InvalidValue, ValueType, _integral_text
from graph_models.value_types.person_id import PERSON_ID, is_person_id_shape
from graph_models.value_types.uscc import USCC, is_uscc_shape


class EntityRef(NamedTuple):
    """A reference to a person (by resident ID) or an organisation (by USCC)."""

    kind: Literal["person", "org"]
    id: str


class EntityRefType(ValueType):
    """A person (resident ID) or an organisation (USCC), told apart by shape.

    A string that passes every resident-ID check is a person; otherwise one that passes every USCC
    check is an organisation; otherwise ``bad_reference`` names the checks that failed.
    """

    name = "entity_ref"
    reason = "bad_reference"

    def _clean_text(self, text: str) -> EntityRef:
        failures = []
        if is_person_id_shape(text):
            try:
                return EntityRef("person", PERSON_ID._clean_text(text))
            except InvalidValue as exc:
                failures.append(f"as a resident ID: {exc.reason}")
        if is_uscc_shape(text):
            try:
                return EntityRef("org", USCC._clean_text(text))
            except InvalidValue as exc:
                failures.append(f"as a USCC: {exc.reason}")
        detail = "; ".join(failures) or "shaped like neither a resident ID nor a USCC"
        raise InvalidValue("bad_reference", f"entity reference {text!r}: {detail}")

    def _clean_other(self, raw: object) -> EntityRef:
        if isinstance(raw, EntityRef):
            return self._clean_text(raw.id)
        return self._clean_text(_integral_text(raw, self.reason, "entity reference"))
