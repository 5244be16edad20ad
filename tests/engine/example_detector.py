"""A minimal detector: the template that docs/detectors.md, "Adding a detector", walks through.

To add a real one, copy this file to ``engine/detectors/<family>_<name>.py``, give it its own id,
settings and logic, and drop ``register=False`` (every module of ``engine/detectors/`` registers
itself when the registry loads). This one is left out of the registry: ``tests/engine/test_detector_api.py``
runs it with ``run_detectors(..., detectors=[large_payment.spec])``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd

from engine.context import DetectorContext
from engine.evidence import record, yuan_en, yuan_zh
from engine.flags import Finding
from engine.registry import detector

__all__ = ["LargePaymentSettings", "large_payment"]


@dataclass(frozen=True)
class LargePaymentSettings:
    # Every setting has a default and a doc: `riskgraph detectors` and the docs list them.
    min_amount: float = field(
        default=10_000.0, metadata={"doc": "Flag a single aid payment of at least this (yuan)."}
    )
    high_amount: float = field(
        default=50_000.0, metadata={"doc": "Severity high from this amount (yuan)."}
    )


@detector(
    "example.large_payment",  # the id, written once: the runner stamps it on every flag
    title_zh="单笔大额扶贫资金",
    title_en="Unusually large aid payment",
    subject="payment_id",  # what each finding is about
    reads=("Payment", "Person"),  # everything it reads; the context refuses anything else
    requires=("Payment",),  # without payments it is skipped with the reason, never run
    settings=LargePaymentSettings,
    register=False,  # an example: not in the production registry
)
def large_payment(ctx: DetectorContext, settings: LargePaymentSettings) -> Iterator[Finding]:
    """Aid payments of at least ``min_amount`` yuan in one go. Score = amount. (The docstring is
    the detector's documentation: logic, score, and the rule it comes from.)"""
    pays = ctx.frame("Payment")  # the graph model's columns, with _table and _line
    amount = pd.to_numeric(pays["amount"], errors="coerce")
    big = pays.assign(amount=amount)[amount >= settings.min_amount].sort_values("id")
    persons = ctx.frame("Person").drop_duplicates("id")
    names = dict(zip(persons["id"], persons["name"], strict=True))
    for row in big.to_dict("records"):
        who = names.get(row["recipient_id"]) or row["recipient_id"]
        paid, value = row["paid_date"], float(row["amount"])
        yield Finding(
            subject_id=row["id"],
            severity="high" if value >= settings.high_amount else "medium",
            score=value,
            entities=[row["id"], row["recipient_id"], row["household_id"]],
            region_code=row["region_code"],
            evidence={
                "payments": [record(row, ["id", "program", "recipient_id", "amount", "paid_date"])],
                "figures": {"amount": value, "line": settings.min_amount},
            },
            explanation={
                "zh": f"{paid}向{who}一次发放{row['program']}资金{yuan_zh(value)}，"
                f"超过{yuan_zh(settings.min_amount)}",
                "en": f"On {paid} {who} received {row['program']} aid of {yuan_en(value)} in one "
                f"payment, more than {yuan_en(settings.min_amount)}",
            },
        )
