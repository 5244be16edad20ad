"""The poverty-aid registers as typed DuckDB views, shared by every ``aid.*`` detector in a run.

One :class:`AidTables` per run (``aid_tables(ctx)``, memoised on the context) registers each store
frame once and materialises the few derived tables several detectors need:

``roster``
    person -> household for every household on the roster, enrolled or exited: heads
    (``Household.head_id`` and ``HEADED_BY``) and members (``MEMBER_OF``). Identifiers are already
    canonical (the loaders normalised 15/18-digit IDs, case and spaces), so equality is identity.
``payments``
    every ``Payment`` with its household resolved: the payment's own ``household_id`` when given,
    else the recipient's roster household (the smallest id when the recipient is on several).
``households``
    every ``Household`` with ``village_key``: the 12-digit village code (when one row of a
    village carries it, every row of that county and village name gets it: exports give the long
    code on some rows only), else county + village name, else the county; ``exit_date`` (the contract's 脱贫日期 extension column, when the data
    has it) and its aid period (:meth:`AidTables.household_periods`).

Also here: turning matched rows into evidence records with their source table and line, person
names for explanations, and amount formatting in Chinese and English.

Examples
--------
>>> from graph_models.memory_store import MemoryStore
>>> from engine.context import DetectorContext
>>> tables = aid_tables(DetectorContext(MemoryStore()))
>>> tables.cm.scalar("SELECT count(*) FROM payments")
0
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from engine.context import DetectorContext
from engine.crossmatch import CrossMatch

__all__ = [
    "DUCKDB_MEMORY_LIMIT",
    "EVIDENCE_LIMIT",
    "AidTables",
    "aid_tables",
    "evidence_records",
    "iso_day",
    "record_list",
    "yuan_en",
    "yuan_zh",
]

#: Evidence lists at most this many source records per flag; totals and counts always cover all.
EVIDENCE_LIMIT = 50

#: DuckDB's memory cap for the aid cross-matches (its tables and working memory); beyond it
#: DuckDB spills to a temporary directory instead of growing. The store's frames already hold
#: most of the memory a scan needs: at a million households they are ~5 GB, and 3 GB here keeps
#: the whole scan under 12 GB. ``RISKGRAPH_DUCKDB_MEMORY`` overrides it (e.g. ``8GB`` on a
#: bigger server: fewer spills, faster).
DUCKDB_MEMORY_LIMIT = os.environ.get("RISKGRAPH_DUCKDB_MEMORY", "3GB")

_PROV = {"_table": "text", "_line": "int"}

#: label or relationship type -> (view name, declared columns)
_NODE_VIEWS: dict[str, tuple[str, dict[str, str]]] = {
    "Payment": (
        "payments_raw",
        {
            "id": "text", "program": "text", "recipient_id": "text", "household_id": "text",
            "account_no": "text", "amount": "float", "paid_date": "date", "region_code": "text",
            "village_code": "text", "approver_id": "text", **_PROV,
        },
    ),
    "Household": (
        "households_raw",
        {
            "id": "text", "head_id": "text", "region_code": "text", "village_code": "text",
            "village": "text", "enrolled_date": "date", "status": "text",
            "income_per_capita": "float", "exit_date": "date", **_PROV,
        },
    ),
    "Person": ("persons", {"id": "text", "name": "text", "phone": "text", **_PROV}),
    "Account": ("accounts", {"id": "text", "holder_id": "text", "phone": "text", **_PROV}),
    "DeathRecord": (
        "deaths", {"person_id": "text", "death_date": "date", "source": "text", **_PROV}
    ),
    "PayrollRecord": (
        "payroll",
        {
            "person_id": "text", "employer_id": "text", "position": "text",
            "monthly_salary": "float", "start_date": "date", "end_date": "date", **_PROV,
        },
    ),
    "PrisonTerm": (
        "prison", {"person_id": "text", "start_date": "date", "end_date": "date", **_PROV}
    ),
    "Vehicle": (
        "vehicles",
        {
            "id": "text", "owner_id": "text", "vehicle_type": "text", "registered_date": "date",
            "purchase_price": "float", **_PROV,
        },
    ),
    "Property": (
        "properties",
        {
            "id": "text", "owner_id": "text", "region_code": "text", "property_type": "text",
            "area_m2": "float", "registered_date": "date", **_PROV,
        },
    ),
    "Enterprise": ("enterprises", {"id": "text", "name": "text", **_PROV}),
    "RejectedRow": (
        "rejected",
        {
            "id": "text", "table": "text", "line": "int", "reason": "text", "column": "text",
            "message": "text", "raw_value": "text", "raw": "text",
        },
    ),
}  # fmt: skip

_EDGE = {"id": "text", "src": "text", "dst": "text"}
_REL_VIEWS: dict[str, tuple[str, dict[str, str]]] = {
    "MEMBER_OF": ("member_of", {**_EDGE, "relation": "text", **_PROV}),
    "HEADED_BY": ("headed_by", {**_EDGE, **_PROV}),
    "HOLDS_ACCOUNT": ("holds_account", {**_EDGE, **_PROV}),
    "REGISTERED_BUSINESS": (
        "business", {**_EDGE, "role": "text", "registered_date": "date", **_PROV}
    ),
    "INSURED": (
        "insured",
        {**_EDGE, "scheme": "text", "enrolled_date": "date", "subsidy_amount": "float", **_PROV},
    ),
    "HOLDS_OFFICE": ("offices", {**_EDGE, "position": "text", "village": "text", **_PROV}),
    "KIN": ("kin", {**_EDGE, "relation": "text", **_PROV}),
}  # fmt: skip


class AidTables:
    """Typed views over the aid registers of one store, plus the derived tables (module doc).

    Parameters
    ----------
    ctx : DetectorContext
        The run's context; frames come from ``ctx.nodes`` / ``ctx.relationships``.
    """

    def __init__(self, ctx: DetectorContext) -> None:
        self.ctx = ctx
        self.cm = CrossMatch(memory_limit=DUCKDB_MEMORY_LIMIT)
        self.as_of = ctx.as_of
        for label, (view, cols) in _NODE_VIEWS.items():
            self.cm.register(view, ctx.nodes(label), cols)
        for rtype, (view, cols) in _REL_VIEWS.items():
            self.cm.register(view, ctx.relationships(rtype), cols)
        self._derive()
        self._names: pd.Series | None = None

    def _derive(self) -> None:
        cm = self.cm
        cm.materialise(
            "households",
            """
            WITH codes AS (
                SELECT region_code, village, min(village_code) AS code FROM households_raw
                WHERE village_code IS NOT NULL AND village IS NOT NULL GROUP BY ALL
            )
            SELECT h.id AS household_id, h.head_id, h.region_code, h.village_code, h.village,
                   COALESCE(h.village_code, c.code, h.region_code || '/' || h.village,
                            h.region_code) AS village_key,
                   h.enrolled_date, h.status, h.income_per_capita, h.exit_date, h._table, h._line
            FROM households_raw AS h LEFT JOIN codes AS c USING (region_code, village)
            """,
        )
        cm.materialise(
            "roster",
            """
            SELECT person_id, household_id, arg_min(relation, rank) AS relation,
                   arg_min(_table, rank) AS _table, arg_min(_line, rank) AS _line
            FROM (
                SELECT src AS person_id, dst AS household_id, relation, _table, _line, 1 AS rank
                FROM member_of
                UNION ALL
                SELECT head_id, household_id, 'head', _table, _line, 0 FROM households
                WHERE head_id IS NOT NULL
                UNION ALL
                SELECT dst, src, 'head', _table, _line, 2 FROM headed_by
            ) AS r
            WHERE person_id IS NOT NULL AND household_id IS NOT NULL
            GROUP BY person_id, household_id
            """,
        )
        # Payments stay a view over the store's frame (a materialised copy of ten million
        # payments costs gigabytes): only the rare payment without a household of its own needs
        # a lookup, and that small table is materialised.
        cm.materialise(
            "recipient_households",
            """
            SELECT r.person_id, min(r.household_id) AS household_id
            FROM roster AS r
            WHERE r.person_id IN (SELECT recipient_id FROM payments_raw WHERE household_id IS NULL)
            GROUP BY r.person_id
            """,
        )
        cm.view(
            "payments",
            """
            SELECT p.id AS payment_id, p.program, p.recipient_id,
                   COALESCE(p.household_id, r.household_id) AS household_id,
                   p.household_id AS household_id_given, p.account_no, p.amount, p.paid_date,
                   p.region_code, p.village_code, p.approver_id, p._table, p._line
            FROM payments_raw AS p
            LEFT JOIN recipient_households AS r
              ON p.household_id IS NULL AND r.person_id = p.recipient_id
            """,
        )

    def household_periods(self) -> str:
        """Name of the table of each household's aid period (materialised on first call).

        The aid period is ``[start, end]``: ``start`` is the earlier of the enrolment date and the
        first payment; ``end`` is ``ctx.as_of`` while the household is enrolled (a household still on
        the roster is still in the programme), and for an exited household its exit date when the
        data carries one, else its last payment, else its enrolment date.
        """
        if "household_periods" not in self.cm:
            self.cm.materialise(
                "household_periods",
                """
                SELECT h.household_id, h.status, h.exit_date, h.enrolled_date,
                       pay.first_paid, pay.last_paid,
                       LEAST(h.enrolled_date, pay.first_paid) AS period_start,
                       CASE WHEN h.status = 'exited'
                            THEN COALESCE(h.exit_date, pay.last_paid, h.enrolled_date)
                            ELSE ?::DATE END AS period_end
                FROM households AS h
                LEFT JOIN (SELECT household_id, min(paid_date) AS first_paid,
                                  max(paid_date) AS last_paid
                           FROM payments GROUP BY household_id) AS pay USING (household_id)
                """,
                [self.as_of],
            )
        return "household_periods"

    def names(self, person_ids: Iterable[str]) -> dict[str, str]:
        """Person id -> name (only ids with a known name)."""
        if self._names is None:
            persons = self.ctx.nodes("Person")
            if "name" in persons.columns and len(persons):
                named = persons[["id", "name"]].dropna()
                self._names = pd.Series(
                    named["name"].to_numpy(), index=pd.Index(named["id"].to_numpy())
                )
                self._names = self._names[~self._names.index.duplicated()]
            else:
                self._names = pd.Series(dtype=object)
        wanted = list(dict.fromkeys(p for p in person_ids if isinstance(p, str)))
        found = self._names.reindex(wanted).dropna()
        return {str(k): str(v) for k, v in found.items()}

    def name_of(self, person_id: str | None, names: dict[str, str]) -> str:
        """The person's name, or the id itself when the registers give no name."""
        if person_id is None:
            return "?"
        return names.get(person_id, person_id)


def aid_tables(ctx: DetectorContext) -> AidTables:
    """The run's :class:`AidTables` (built once per context)."""
    return ctx.memo("aid:tables", lambda: AidTables(ctx))


def _plain(value: Any) -> Any:
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date().isoformat()
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return _plain(value.item())
    return value


def iso_day(value: Any) -> str | None:
    """A date-like value as ``YYYY-MM-DD`` (None when missing).

    Examples
    --------
    >>> iso_day(pd.Timestamp("2021-03-02")), iso_day(pd.NaT)
    ('2021-03-02', None)
    """
    plain = _plain(value)
    return None if plain is None else str(plain)[:10]


def record_list(
    fields: Sequence[str], order: str, table: str = "_table", line: str = "_line"
) -> str:
    """SQL aggregate: the first :data:`EVIDENCE_LIMIT` evidence records of a group, in ``order``.

    Each record is ``{"table", "line", <fields>}`` from the provenance columns, so a flag's
    evidence is built in the database, one row per flag, instead of one DataFrame per flag.

    Examples
    --------
    >>> record_list(["payment_id"], "paid_date")
    'list_slice(list(struct_pack("table" := _table, "line" := _line, "payment_id" := payment_id) ORDER BY paid_date), 1, 50)'
    """
    parts = [f'"table" := {table}', f'"line" := {line}', *(f'"{f}" := {f}' for f in fields)]
    return (
        f"list_slice(list(struct_pack({', '.join(parts)}) ORDER BY {order}), 1, {EVIDENCE_LIMIT})"
    )


def evidence_records(
    frame: pd.DataFrame, fields: Sequence[str], limit: int = EVIDENCE_LIMIT
) -> list[dict[str, Any]]:
    """Source records for a flag: ``{"table", "line", <fields>}`` per row, at most ``limit``.

    ``frame`` must carry the ``_table`` and ``_line`` provenance columns of the matched records.

    Examples
    --------
    >>> rows = pd.DataFrame({"_table": ["deaths"], "_line": [7], "death_date": [pd.Timestamp("2021-03-02")]})
    >>> evidence_records(rows, ["death_date"])
    [{'table': 'deaths', 'line': 7, 'death_date': '2021-03-02'}]
    """
    out = []
    for rec in frame.head(limit).to_dict("records"):
        item = {"table": _plain(rec.get("_table")), "line": _plain(rec.get("_line"))}
        for f in fields:
            item[f] = _plain(rec.get(f))
        out.append(item)
    return out


def yuan_zh(amount: float) -> str:
    """An amount in yuan as written in Chinese text.

    Examples
    --------
    >>> yuan_zh(3600.0), yuan_zh(1234.5)
    ('3,600元', '1,234.50元')
    """
    return _grouped(amount) + "元"


def yuan_en(amount: float) -> str:
    """An amount in yuan as written in English text.

    Examples
    --------
    >>> yuan_en(3600.0)
    'CNY 3,600'
    """
    return "CNY " + _grouped(amount)


def _grouped(amount: float) -> str:
    amount = float(amount or 0.0)
    if abs(amount - round(amount)) < 0.005:
        return f"{round(amount):,}"
    return f"{amount:,.2f}"
