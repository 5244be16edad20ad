"""``aid.asset_mismatch``: a registered poor household owns a car, commercial housing or a business.
One flag per household."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.aid_registers import PAYMENTS, aid_registers
from engine.context import DetectorContext
from engine.evidence import iso_day, record_list
from engine.flags import Finding
from engine.registry import any_of, detector

__all__ = ["AssetMismatchSettings", "asset_mismatch"]

#: The asset registers: at least one must have rows for the check to mean anything.
_ASSETS = ("Vehicle", "Property", "REGISTERED_BUSINESS")
_KIND_ZH = {"vehicle": "车辆", "property": "商品房", "business": "工商登记"}
_KIND_EN = {
    "vehicle": "vehicle",
    "property": "commercial housing",
    "business": "registered business",
}


@dataclass(frozen=True)
class AssetMismatchSettings:
    property_types: tuple[str, ...] = field(
        default=("commercial",),
        metadata={"doc": "Property types that disqualify (self-built rural houses do not)."},
    )
    exempt_vehicle_types: tuple[str, ...] = field(
        default=(
            "摩托车", "农用车", "拖拉机", "三轮汽车", "低速货车", "残疾人机动轮椅车",
            "motorcycle", "tractor", "agricultural",
        ),
        metadata={
            "doc": "Vehicle types that do not disqualify (compared case-insensitively): provincial "
            "rules exclude motorcycles, farm vehicles and disability carriages from 'owns a car'."
        },
    )  # fmt: skip
    business_roles: tuple[str, ...] = field(
        default=("legal_rep", "shareholder", "sole_proprietor"),
        metadata={"doc": "Business registration roles that count as owning a business."},
    )


@detector(
    "aid.asset_mismatch",
    title_zh="建档立卡户拥有车辆、商品房或经营实体",
    title_en="Aid household owns a vehicle, commercial housing or a business",
    subject="household_id",
    reads=(*PAYMENTS, *_ASSETS, "Enterprise", "Person"),
    requires=("Household", any_of(*_ASSETS)),
    settings=AssetMismatchSettings,
    partition="sql",
)
def asset_mismatch(ctx: DetectorContext, settings: AssetMismatchSettings) -> Iterator[Finding]:
    """Assets of any roster member registered before or during the household's aid period.

    Assets: vehicles (minus exempt types), properties of the listed types (commercial housing by
    default, never self-built houses), business registrations in the listed roles. The aid period
    is ``[start, end]`` (see ``AidTables.household_periods``: start = enrolment or first payment,
    whichever is earlier; end = ``ctx.as_of`` while enrolled, else the exit date when the data has
    an ``exit_date`` column, else the last payment). An asset counts when registered on or before
    the end: before the start means the household owned it when identified as poor, during means
    it was acquired while drawing aid (severity high). An asset registered after an exited
    household's exit is not flagged; an asset without a registration date counts only while the
    household is enrolled. Rule: the identification standard for registered poor households
    (“两不愁三保障”, 国开办发〔2014〕24号 and provincial rules) excludes households owning a car,
    commercial housing or a business.
    """
    reg = aid_registers(ctx)
    periods = reg.household_periods()
    exempt = [t.lower() for t in settings.exempt_vehicle_types]
    fields = ["kind", "asset_id", "person_id", "detail", "value", "registered_date", "during"]
    rows = reg.rows(
        f"""
        WITH assets AS (
            SELECT 'vehicle' AS kind, owner_id AS person_id, id AS asset_id,
                   vehicle_type AS detail, purchase_price AS value, registered_date, _table, _line
            FROM vehicles
            WHERE owner_id IS NOT NULL
              AND (vehicle_type IS NULL OR lower(vehicle_type) NOT IN (SELECT unnest(?::VARCHAR[])))
            UNION ALL
            SELECT 'property', owner_id, id, property_type, area_m2, registered_date, _table, _line
            FROM properties
            WHERE owner_id IS NOT NULL AND property_type IN (SELECT unnest(?::VARCHAR[]))
            UNION ALL
            SELECT 'business', b.src, b.dst, b.role || COALESCE(' ' || e.name, ''), NULL,
                   b.registered_date, b._table, b._line
            FROM business AS b LEFT JOIN enterprises AS e ON e.id = b.dst
            WHERE b.role IN (SELECT unnest(?::VARCHAR[]))
        ),
        m AS (
            SELECT a.*, r.household_id,
                   COALESCE(a.registered_date >= hp.period_start, false) AS during
            FROM assets AS a
            JOIN roster AS r ON r.person_id = a.person_id
            JOIN {periods} AS hp ON hp.household_id = r.household_id
            WHERE (a.registered_date IS NOT NULL AND a.registered_date <= hp.period_end)
               OR (a.registered_date IS NULL AND COALESCE(hp.status, 'enrolled') <> 'exited')
        )
        SELECT m.household_id, count(*) AS n, count(*) FILTER (WHERE during) AS n_during,
               list(DISTINCT person_id) AS persons, list(asset_id ORDER BY asset_id) AS asset_ids,
               {record_list(fields, "m.registered_date NULLS LAST, m.asset_id", "m._table", "m._line")}
                   AS assets,
               any_value(hp.period_start) AS period_start, any_value(hp.period_end) AS period_end,
               any_value(hp.status) AS status, any_value(h.region_code) AS region_code
        FROM m JOIN {periods} AS hp USING (household_id) JOIN households AS h USING (household_id)
        GROUP BY m.household_id ORDER BY m.household_id
        """,
        [exempt, list(settings.property_types), list(settings.business_roles)],
    )
    names = reg.names(p for r in rows for p in r["persons"])
    for r in rows:
        hh = r["household_id"]
        parts_zh, parts_en = [], []
        for a in r["assets"][:5]:
            owner = reg.name_of(a["person_id"], names)
            day = iso_day(a["registered_date"])
            detail = a["detail"] or ""
            parts_zh.append(
                f"{owner}名下{_KIND_ZH[a['kind']]}{a['asset_id']}（{detail}，登记于{day or '日期不详'}）"
            )
            parts_en.append(
                f"{owner} owns {_KIND_EN[a['kind']]} {a['asset_id']} ({detail}, registered "
                f"{day or 'date unknown'})"
            )
        start, end = iso_day(r["period_start"]), iso_day(r["period_end"])
        yield Finding(
            subject_id=hh,
            severity="high" if r["n_during"] else "medium",
            score=float(r["n"] + r["n_during"]),
            entities=[hh, *r["persons"], *r["asset_ids"]],
            region_code=r["region_code"],
            evidence={
                "assets": r["assets"],
                "figures": {
                    "assets": int(r["n"]),
                    "acquired_during_aid": int(r["n_during"]),
                    "aid_period_start": start,
                    "aid_period_end": end,
                    "household_status": r["status"],
                },
            },
            explanation={
                "zh": f"建档立卡户{hh}（帮扶期{start or '?'}至{end or '?'}）："
                + "；".join(parts_zh),
                "en": f"Aid household {hh} (aid period {start or '?'} to {end or '?'}): "
                + "; ".join(parts_en),
            },
        )
