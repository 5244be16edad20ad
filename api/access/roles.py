"""Who may see what: the roles, what each may see and whether it sees personal data.

Roles (the state DB's ``roles`` table mirrors :data:`ROLES`):

==============  ==================  =====================  =========  ======  ========
role            flag families       graph labels           personal   Cypher  audit,
                                                           clearance          scans
==============  ==================  =====================  =========  ======  ========
debt_analyst    debt, guarantee,    Region, GovUnit,       no         no      no
                ownership           Enterprise, Loan,
                                    Bond, Project, Person
aid_inspector   aid                 aid data + GovUnit,    yes        no      no
                                    Enterprise, Region
investigator    all                 all                    yes        yes     no
admin           all                 all                    yes        yes     yes
==============  ==================  =====================  =========  ======  ========

Every role but admin is limited to its region scopes (admin sees every region). Personal
properties are masked for roles without clearance; confidential properties are hidden outside
the role's own domain (``confidential``: an aid inspector does not see an enterprise's balance
sheet, a debt analyst does not see payment amounts).

Examples
--------
>>> ROLES["debt_analyst"].sees_flag_family("aid")
False
>>> ROLES["investigator"].sees_label("Household")
True
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ROLES", "RolePolicy"]

_DEBT_LABELS = frozenset({"GovUnit", "Enterprise", "Loan", "Bond", "Project"})
_DEBT_TYPES = frozenset(
    {"GUARANTEES", "FUND_FLOW", "HOLDS_SHARES", "BORROWED", "LENT", "FINANCES", "ISSUED",
     "OWNS_PROJECT"}
)  # fmt: skip
_AID_LABELS = frozenset(
    {"Household", "Person", "Payment", "Account", "Phone", "Vehicle", "Property", "DeathRecord",
     "PayrollRecord", "PrisonTerm"}
)  # fmt: skip
_AID_TYPES = frozenset(
    {"MEMBER_OF", "HEADED_BY", "PAID_TO", "PAID_INTO", "PAID_FOR", "APPROVED_BY",
     "HOLDS_ACCOUNT", "ACCOUNT_AT", "HAS_PHONE", "DIED", "ON_PAYROLL", "IMPRISONED",
     "EMPLOYED_BY", "OWNS_VEHICLE", "OWNS_PROPERTY", "REGISTERED_BUSINESS", "INSURED",
     "HOLDS_OFFICE", "KIN"}
)  # fmt: skip


@dataclass(frozen=True)
class RolePolicy:
    """What a role may see and do. ``None`` for a set means "everything"."""

    name: str
    flag_families: frozenset[str] | None
    labels: frozenset[str] | None
    confidential: frozenset[str] | None  # labels and relationship types with need-to-know
    personal_clearance: bool
    cypher: bool = False
    admin: bool = False

    def sees_flag_family(self, family: str) -> bool:
        return self.flag_families is None or family in self.flag_families

    def sees_label(self, label: str) -> bool:
        return self.labels is None or label in self.labels

    def needs_confidential(self, label_or_type: str) -> bool:
        return self.confidential is None or label_or_type in self.confidential


ROLES: dict[str, RolePolicy] = {
    "debt_analyst": RolePolicy(
        "debt_analyst",
        flag_families=frozenset({"debt", "guarantee", "ownership"}),
        labels=_DEBT_LABELS | {"Region", "Person"},
        confidential=_DEBT_LABELS | _DEBT_TYPES,
        personal_clearance=False,
    ),
    "aid_inspector": RolePolicy(
        "aid_inspector",
        flag_families=frozenset({"aid"}),
        labels=_AID_LABELS | {"Region", "GovUnit", "Enterprise"},
        confidential=_AID_LABELS | _AID_TYPES,
        personal_clearance=True,
    ),
    "investigator": RolePolicy(
        "investigator", None, None, None, personal_clearance=True, cypher=True
    ),
    "admin": RolePolicy(
        "admin", None, None, None, personal_clearance=True, cypher=True, admin=True
    ),
}
