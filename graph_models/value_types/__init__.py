"""Value types: the one implementation of every identifier, date and number rule in the contract.

Each type turns a raw cell (a string from CSV, a number or timestamp from xlsx/parquet) into its
canonical value with ``clean``, returns ``None`` for a blank cell and raises :class:`InvalidValue`
carrying a contract reason code when the cell fails its type. Loaders, the synthetic data generator,
detectors and the API all call these; nothing else parses identifiers.

Examples
--------
>>> TYPES["person_id"].clean(" 110105491231002 ")
'11010519491231002X'
>>> TYPES["uscc"].clean("91350100m000100y43")
'91350100M000100Y43'
>>> TYPES["amount"].clean("¥1,234.50")
1234.5
>>> TYPES["date"].clean("2021年3月2日")
datetime.date(2021, 3, 2)
"""

from __future__ import annotations

from graph_models.value_types._base import (
    PROVINCE_PREFIXES,
    REASON_CODES,
    InvalidValue,
    ValueType,
    ValueWarning,
)
from graph_models.value_types.account_no import AccountNoType
from graph_models.value_types.amount import AmountType
from graph_models.value_types.boolean import BoolType
from graph_models.value_types.date import DateType
from graph_models.value_types.entity_ref import EntityRef, EntityRefType
from graph_models.value_types.enumeration import EnumType, enum_type
from graph_models.value_types.floating import FloatType
from graph_models.value_types.integer import IntType
from graph_models.value_types.pct import PctType
from graph_models.value_types.person_id import (
    PERSON_ID,
    PersonIdType,
    is_person_id_shape,
    mask_person_id,
    person_id_birth_date,
    person_id_check_char,
    person_id_region,
)
from graph_models.value_types.phone import PhoneType
from graph_models.value_types.region_code import REGION_CODE, RegionCodeType, split_region_code
from graph_models.value_types.text import TextType
from graph_models.value_types.uscc import USCC, UsccType, is_uscc_shape, uscc_check_char

__all__ = [
    "PROVINCE_PREFIXES",
    "REASON_CODES",
    "TYPES",
    "AccountNoType",
    "AmountType",
    "BoolType",
    "DateType",
    "EntityRef",
    "EntityRefType",
    "EnumType",
    "FloatType",
    "IntType",
    "InvalidValue",
    "PctType",
    "PersonIdType",
    "PhoneType",
    "RegionCodeType",
    "TextType",
    "UsccType",
    "ValueType",
    "ValueWarning",
    "enum_type",
    "get_type",
    "is_person_id_shape",
    "is_uscc_shape",
    "mask_person_id",
    "person_id_birth_date",
    "person_id_check_char",
    "person_id_region",
    "split_region_code",
    "uscc_check_char",
]


TYPES: dict[str, ValueType] = {
    t.name: t
    for t in (
        PERSON_ID,
        USCC,
        REGION_CODE,
        DateType(),
        AmountType(),
        PctType(),
        AccountNoType(),
        PhoneType(),
        EntityRefType(),
        TextType(),
        IntType(),
        FloatType(),
        BoolType(),
    )
}


def get_type(spec: str) -> ValueType:
    """The value type named ``spec`` (enums are built with :func:`enum_type`).

    Examples
    --------
    >>> get_type("uscc").name
    'uscc'
    """
    try:
        return TYPES[spec]
    except KeyError:
        raise KeyError(f"unknown value type {spec!r}; known: {', '.join(TYPES)}") from None
