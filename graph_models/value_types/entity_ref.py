"""References to a person (resident ID) or an organisation (USCC)."""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph_models.value_types._base import InvalidValue, ValueType, _integral_text
from graph_models.value_types.person_id import PERSON_ID, is_person_id_shape, person_id_valid_mask
from graph_models.value_types.uscc import USCC, is_uscc_shape, uscc_valid_mask


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
    arrow_type = None
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

    def _fast_arrow(self, arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        person = person_id_valid_mask(arr)
        org = ~person & uscc_valid_mask(arr)
        ok = person | org
        values = np.full(len(arr), None, dtype=object)
        if ok.any():
            upper = pc.utf8_upper(arr.filter(pa.array(ok))).to_numpy(zero_copy_only=False)
            kinds = np.where(person[ok], "person", "org")
            refs = np.empty(len(upper), dtype=object)
            refs[:] = [EntityRef(k, v) for k, v in zip(kinds.tolist(), upper, strict=True)]
            values[ok] = refs
        return ok, values
