"""The poverty-aid registers as typed DuckDB views, shared by every ``aid.*`` detector in a run.

One DuckDB session per run (:class:`engine.crossmatch.CrossMatch`) holds each register once, as a
view over the store's frame with the columns and types of :mod:`engine.tables`, plus the few
derived tables several detectors need:

``households``
    every ``Household`` with ``village_key``: the 12-digit village code (when one row of a
    village carries it, every row of that county and village name gets it: exports give the long
    code on some rows only), else county + village name, else the county; ``exit_date`` (the
    contract's 脱贫日期 extension column, when the data has it) and its aid period
    (:meth:`AidRegisters.household_periods`).
``roster``
    person -> household for every household on the roster, enrolled or exited: heads
    (``Household.head_id`` and ``HEADED_BY``) and members (``MEMBER_OF``). Identifiers are already
    canonical (the loaders normalised 15/18-digit IDs, case and spaces), so equality is identity.
``payments``
    every ``Payment`` with its household resolved: the payment's own ``household_id`` when given,
    else the recipient's roster household (the smallest id when the recipient is on several).

A detector reaches them through :func:`aid_registers`, which shows it only the views whose tables
it declared in ``reads`` (``payments`` needs :data:`PAYMENTS`, ``roster`` needs :data:`ROSTER`):
its queries run in a DuckDB schema of its own holding just those, so a query naming an
undeclared register fails with :class:`engine.context.UndeclaredAccess`. Views are registered,
and derived tables built, the first time a detector that may see them asks.

Examples
--------
>>> from graph_models.memory_store import MemoryStore
>>> from engine.context import RunContext
>>> ctx = RunContext(MemoryStore()).context("demo.example", reads=PAYMENTS)
>>> aid_registers(ctx).scalar("SELECT count(*) FROM payments")
0
>>> aid_registers(ctx).scalar("SELECT count(*) FROM deaths")
Traceback (most recent call last):
...
engine.context.UndeclaredAccess: demo.example reads DeathRecord (register deaths), which it does not declare: add it to reads=... in its @detector registration
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from engine.context import DetectorContext, UndeclaredAccess
from engine.crossmatch import CrossMatch
from engine.tables import column_types, is_relationship

__all__ = [
    "DUCKDB_MEMORY_LIMIT",
    "PAYMENTS",
    "ROSTER",
    "AidRegisters",
    "aid_registers",
]

#: DuckDB's memory cap for the aid cross-matches (its tables and working memory); beyond it
#: DuckDB spills to a temporary directory instead of growing. The store's frames already hold
#: most of the memory a scan needs: at a million households they are ~5 GB, and 3 GB here keeps
#: the whole scan under 12 GB. ``RISKGRAPH_DUCKDB_MEMORY`` overrides it (e.g. ``8GB`` on a
#: bigger server: fewer spills, faster).
DUCKDB_MEMORY_LIMIT = os.environ.get("RISKGRAPH_DUCKDB_MEMORY", "3GB")

#: What the ``roster`` (and ``households``) derive from: declare these to read them.
ROSTER = ("Household", "MEMBER_OF", "HEADED_BY")
#: What ``payments`` derives from (a payment's household resolves through the roster).
PAYMENTS = ("Payment", *ROSTER)

#: register (view) name -> the label or relationship type it shows
_REGISTERS = {
    "payments_raw": "Payment",
    "households_raw": "Household",
    "persons": "Person",
    "accounts": "Account",
    "deaths": "DeathRecord",
    "payroll": "PayrollRecord",
    "prison": "PrisonTerm",
    "vehicles": "Vehicle",
    "properties": "Property",
    "enterprises": "Enterprise",
    "rejected": "RejectedRow",
    "member_of": "MEMBER_OF",
    "headed_by": "HEADED_BY",
    "holds_account": "HOLDS_ACCOUNT",
    "business": "REGISTERED_BUSINESS",
    "insured": "INSURED",
    "offices": "HOLDS_OFFICE",
    "kin": "KIN",
}

#: derived table -> (the registers and derived tables it is built from, how: table or view, SQL)
_DERIVED: dict[str, tuple[tuple[str, ...], str, str]] = {
    "households": (
        ("households_raw",),
        "table",
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
    ),
    "roster": (
        ("member_of", "households", "headed_by"),
        "table",
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
    ),
    # Payments stay a view over the store's frame (a materialised copy of ten million payments
    # costs gigabytes): only the rare payment without a household of its own needs a lookup,
    # and that small table is materialised.
    "recipient_households": (
        ("roster", "payments_raw"),
        "table",
        """
        SELECT r.person_id, min(r.household_id) AS household_id
        FROM roster AS r
        WHERE r.person_id IN (SELECT recipient_id FROM payments_raw WHERE household_id IS NULL)
        GROUP BY r.person_id
        """,
    ),
    "payments": (
        ("payments_raw", "recipient_households"),
        "view",
        """
        SELECT p.id AS payment_id, p.program, p.recipient_id,
               COALESCE(p.household_id, r.household_id) AS household_id,
               p.household_id AS household_id_given, p.account_no, p.amount, p.paid_date,
               p.region_code, p.village_code, p.approver_id, p._table, p._line
        FROM payments_raw AS p
        LEFT JOIN recipient_households AS r
          ON p.household_id IS NULL AND r.person_id = p.recipient_id
        """,
    ),
    "household_periods": (
        ("households", "payments"),
        "table",
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
    ),
}

#: built only when a detector asks (:meth:`AidRegisters.household_periods`)
_ON_DEMAND = {"household_periods"}
_SHARED = "shared"


def _labels(name: str) -> frozenset[str]:
    """The labels and relationship types a register or derived table is built from."""
    if name in _REGISTERS:
        return frozenset([_REGISTERS[name]])
    return frozenset().union(*(_labels(dep) for dep in _DERIVED[name][0]))


class _Session:
    """The run's DuckDB session: which registers exist, the per-detector schemas, person names."""

    def __init__(self) -> None:
        self.cm = CrossMatch(memory_limit=DUCKDB_MEMORY_LIMIT)
        self.cm.con.execute(f"CREATE SCHEMA {_SHARED}")
        self.built: set[str] = set()
        self.schemas: dict[str, tuple[str, set[str]]] = {}

    def build(self, name: str, ctx: DetectorContext) -> None:
        """Create register or derived table ``name`` in the shared schema (reads via ``ctx``)."""
        if name in self.built:
            return
        if name in _REGISTERS:
            label = _REGISTERS[name]
            # the store's Arrow table when it keeps one (scanned in place), else its frame
            frame = ctx.arrow(label)
            if frame is None:
                frame = ctx.relationships(label) if is_relationship(label) else ctx.nodes(label)
            self.cm.con.execute(f"SET schema = '{_SHARED}'")
            self.cm.register(name, frame, column_types(label))
        else:
            deps, kind, sql = _DERIVED[name]
            for dep in deps:
                self.build(dep, ctx)
            self.cm.con.execute(f"SET schema = '{_SHARED}'")
            if kind == "view":
                self.cm.view(name, sql)
            else:
                # the aid period of a household still enrolled runs to the reference date
                params = [ctx.as_of] if name == "household_periods" else None
                self.cm.materialise(name, sql, params)
        self.built.add(name)

    def schema_for(self, ctx: DetectorContext) -> tuple[str, set[str]]:
        """The detector's own schema: a view of every register its reads cover."""
        if ctx.detector_id not in self.schemas:
            schema = "d_" + re.sub(r"[^a-z0-9]+", "_", ctx.detector_id.lower())
            self.cm.con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self.schemas[ctx.detector_id] = (schema, set())
            for name in [*_REGISTERS, *_DERIVED]:
                if name not in _ON_DEMAND and _labels(name) <= ctx.reads:
                    self.expose(name, ctx)
        return self.schemas[ctx.detector_id]

    def expose(self, name: str, ctx: DetectorContext) -> None:
        schema, visible = self.schemas[ctx.detector_id]
        if name in visible:
            return
        ctx.check_reads(sorted(_labels(name)))
        self.build(name, ctx)
        self.cm.con.execute(
            f'CREATE OR REPLACE VIEW "{schema}"."{name}" AS SELECT * FROM {_SHARED}."{name}"'
        )
        visible.add(name)


class AidRegisters:
    """One detector's view of the aid registers (module doc): queries see only what it declared.

    Parameters
    ----------
    ctx : DetectorContext
        The detector's context; registers come from its ``reads``.
    """

    def __init__(self, ctx: DetectorContext) -> None:
        self.ctx = ctx
        self._session: _Session = ctx.memo("aid.registers", _Session)
        self._schema, self._visible = self._session.schema_for(ctx)
        self.as_of = ctx.as_of

    def _execute(self, sql: str, params: list[Any] | None, arrow: bool = False) -> Any:
        """Run ``sql`` in this detector's schema: the cursor, or (``arrow``) the result as an
        Arrow table (text stays Arrow strings: no Python string per value)."""
        con = self._session.cm.con
        con.execute(f'SET schema = "{self._schema}"')
        try:
            if arrow:
                return con.sql(sql, params=params or None).to_arrow_table()
            return con.execute(sql, params or [])
        except Exception as e:  # duckdb.CatalogException: a register this detector cannot see
            found = re.search(r"Table with name (\w+) does not exist", str(e))
            name = found.group(1) if found else None
            if name in _REGISTERS or name in _DERIVED:
                labels = ", ".join(sorted(_labels(name) - self.ctx.reads)) or name
                raise UndeclaredAccess(
                    f"{self.ctx.detector_id} reads {labels} (register {name}), which it does "
                    "not declare: add it to reads=... in its @detector registration"
                ) from None
            raise

    def query(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Run ``sql`` and return a pandas frame (dates come back as ``datetime64``)."""
        return self._execute(sql, params).df()

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Run ``sql`` and return plain Python rows (lists and structs stay lists and dicts)."""
        cursor = self._execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        """First column of the first row of ``sql``."""
        row = self._execute(sql, params).fetchone()
        return None if row is None else row[0]

    def each_group(
        self,
        sql: str,
        by: str,
        order: str,
        fn: Callable[[pd.DataFrame], list[Any]],
        params: list[Any] | None = None,
    ) -> list[Any]:
        """``fn`` over each group of rows of ``sql`` sharing column ``by``, rows sorted by
        ``order``; the findings of every group, groups in ``by`` order.

        For a step whose result about a row depends only on the rows of its group (a peer model
        per county): on Spark each group runs in a task of its own (``applyInPandas``) and only
        the findings reach the driver; here the groups run one after the other.
        """
        frame = self.query(sql, params)
        out: list[Any] = []
        if frame.empty:
            return out
        for _, part in frame.groupby(by, sort=True, dropna=False):
            out.extend(fn(part.sort_values(order, kind="stable").reset_index(drop=True)))
        return out

    def find_rings(self, memberships_sql: str, groups_sql: str, **settings: Any) -> list[Any]:
        """Communities of nodes sharing attributes (:func:`engine.rings.find_rings`):
        ``memberships_sql`` gives ``node, attribute``, ``groups_sql`` ``node, grp``; on Spark the
        projection runs in Spark SQL and Leiden per connected component
        (:mod:`engine.spark.rings`)."""
        from engine.rings import find_rings

        # the memberships go back into DuckDB: as Arrow, never as millions of Python strings
        memberships = self._execute(memberships_sql, None, arrow=True)
        groups = self.query(groups_sql)
        series = pd.Series(groups["grp"].to_numpy(), index=pd.Index(groups["node"]))
        return find_rings(memberships, series.dropna(), **settings)

    def household_periods(self) -> str:
        """Name of the table of each household's aid period (built on first call).

        The aid period is ``[start, end]``: ``start`` is the earlier of the enrolment date and the
        first payment; ``end`` is ``ctx.as_of`` while the household is enrolled (a household still on
        the roster is still in the programme), and for an exited household its exit date when the
        data carries one, else its last payment, else its enrolment date.
        """
        self._session.expose("household_periods", self.ctx)
        return "household_periods"

    def names(self, person_ids: Iterable[str]) -> dict[str, str]:
        """Person id -> name (only ids with a known name)."""
        self.ctx.check_reads(["Person"])
        wanted = list(dict.fromkeys(p for p in person_ids if isinstance(p, str)))
        if not wanted:
            return {}
        self._session.build("persons", self.ctx)
        found = self._session.cm.con.execute(
            f"SELECT id, name FROM {_SHARED}.persons WHERE name IS NOT NULL"
            " AND id IN (SELECT unnest(?::VARCHAR[]))",
            [wanted],
        ).fetchall()
        return {str(k): str(v) for k, v in found}

    def name_of(self, person_id: str | None, names: dict[str, str]) -> str:
        """The person's name, or the id itself when the registers give no name."""
        if person_id is None:
            return "?"
        return names.get(person_id, person_id)


def aid_registers(ctx: DetectorContext) -> AidRegisters:
    """The aid registers as detector ``ctx`` may see them (module doc); on a Spark run the same
    registers and queries run on Spark (``SparkEngine.aid_registers``).

    Examples
    --------
    >>> from graph_models.memory_store import MemoryStore
    >>> from engine.context import RunContext
    >>> ctx = RunContext(MemoryStore()).context("demo.example", reads=ROSTER)
    >>> aid_registers(ctx).rows("SELECT count(*) AS n FROM roster")
    [{'n': 0}]
    """
    on_engine = getattr(ctx.run.engine, "aid_registers", None)  # a distributed engine's own
    if on_engine is not None:
        return on_engine(ctx)  # type: ignore[no-any-return]
    return AidRegisters(ctx)
