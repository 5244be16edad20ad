"""``guarantee.contagion``: firms whose distress would spread furthest (DebtRank).

The credit network joins guarantees (a guarantor is exposed to its debtor for the guaranteed
amount) and loans (a lender is exposed to its borrower for the outstanding balance, or the
principal when no balance is given). DebtRank (Battiston et al., Scientific Reports 2:541, 2012;
:mod:`engine.contagion`) gives each firm's systemic impact ``R``: the share of the network's
economic value lost if it alone defaults, the firm's own value excluded. Equity is net assets;
the relative value ``v`` is total assets (else net assets + liabilities, else net assets),
normalised to 1. Exposures of a creditor whose net assets are unknown are left out (counted in
the evidence): with unknown equity the paper's impact ``min(1, A/E)`` is undefined.

Two kinds of runs, one flag per firm:

* ranking: exact DebtRank for the ``max_ranked_firms`` firms with the largest first-round impact
  ``sum_j W_ij v_j`` (a lower bound of ``R``: ``h_j`` never falls below its first-round value);
* stress: one run from every borrower with an overdue or defaulted loan (initial distress
  ``default_shock`` / ``overdue_shock``), with the expected equity loss (``h_j(T) * E_j``) per
  bank and per region in the evidence.

A firm is flagged when its distress would spread far (docs/detectors.md: "firms whose distress would
spread furthest"), read two ways from the same run:

* network-wide: its DebtRank reaches ``debtrank_line``. ``R`` is a share of the value of the
  whole network, so in a province-wide network of 100,000 firms even a chain reaction that
  wipes out a dozen firms can stay well under 1 %;
* a chain reaction (担保链): it pushes at least ``cascade_firms`` other institutions to a
  distress of ``cascade_distress`` or more (each loses at least half of its equity by default),
  whatever the size of the rest of the network.

An overdue loan whose default reaches little beyond its own lender is neither
(``flag_every_stress_run`` flags every stress run anyway, severity low). Severity: high at
``high_line`` and above, medium for a flag at the line or a chain reaction, low otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.contagion import ExposureNetwork
from engine.context import DetectorContext
from engine.debt_registers import ENTITIES, entity_directory, guarantees_in_force
from engine.evidence import pct, scaled_zh, yuan_en
from engine.flags import Finding
from engine.node_index import encode_nodes
from engine.registry import any_of, detector

__all__ = ["ContagionSettings", "contagion", "credit_exposures"]


@dataclass(frozen=True)
class ContagionSettings:
    debtrank_line: float = field(
        default=0.01,
        metadata={"doc": "Flag a firm whose DebtRank R (share of network value) reaches this."},
    )
    high_line: float = field(default=0.05, metadata={"doc": "Severity high from this DebtRank."})
    cascade_firms: int = field(
        default=3,
        metadata={
            "doc": "Also flag a firm whose default pushes at least this many other institutions "
            "to cascade_distress or more (a chain reaction along guarantees, which the "
            "network-wide debtrank_line misses in a large network). 0 turns this off."
        },
    )
    cascade_distress: float = field(
        default=0.5,
        metadata={
            "doc": "Distress h (share of its equity lost) at which an institution counts as "
            "pushed over for cascade_firms."
        },
    )
    max_ranked_firms: int = field(
        default=2000,
        metadata={"doc": "Exact DebtRank for this many firms with the largest first-round impact."},
    )
    default_shock: float = field(
        default=1.0, metadata={"doc": "Initial distress of a defaulted borrower."}
    )
    overdue_shock: float = field(
        default=1.0,
        metadata={"doc": "Initial distress of an overdue borrower (1 = treat as default)."},
    )
    include_lapsed: bool = field(
        default=False,
        metadata={
            "doc": "Also count guarantees whose end_date is before the reference date. Off: DebtRank measures live exposure, and a lapsed guarantee exposes nobody. Guarantees starting after the reference date never count."
        },
    )
    flag_every_stress_run: bool = field(
        default=False,
        metadata={
            "doc": "Flag the stress run of every overdue/defaulted borrower, even below "
            "debtrank_line (severity low). Off: a stress run is flagged, with its expected loss "
            "per bank and per region, only when its DebtRank reaches debtrank_line; below it the "
            "default reaches little beyond the borrower's own lenders, which its loan status "
            "already tells them, and one flag per overdue loan would bury the firms whose "
            "distress spreads."
        },
    )
    listed_in_evidence: int = field(
        default=10, metadata={"doc": "Firms hit, banks and regions listed per flag."}
    )


def credit_exposures(ctx: DetectorContext, include_lapsed: bool) -> pd.DataFrame:
    """``creditor, debtor, amount, kind, ref`` from guarantees and outstanding loans."""
    parts = []
    g = guarantees_in_force(ctx, include_lapsed)
    if not g.empty:
        parts.append(
            pd.DataFrame(
                {
                    "creditor": g["src"].astype(str),
                    "debtor": g["dst"].astype(str),
                    "amount": g["amount"],
                    "kind": "guarantee",
                    "ref": g["id"].astype(str),
                }
            )
        )
    loans = ctx.frame("Loan")
    if not loans.empty:
        bal = pd.to_numeric(loans["balance"], errors="coerce")
        amount = bal.fillna(pd.to_numeric(loans["principal"], errors="coerce")).fillna(0.0)
        status = loans.get("status", pd.Series(None, index=loans.index))
        maturity = loans.get("maturity_date", pd.Series(None, index=loans.index))
        live = (
            maturity.isna()
            | (maturity.astype(str) >= ctx.as_of.isoformat())
            | status.isin(["overdue", "default"])
        )
        keep = (
            live.to_numpy(dtype=bool)
            & (amount.to_numpy() > 0)
            & loans["lender_id"].notna().to_numpy()
        )
        parts.append(
            pd.DataFrame(
                {
                    "creditor": loans.loc[keep, "lender_id"].astype(str),
                    "debtor": loans.loc[keep, "borrower_id"].astype(str),
                    "amount": amount[keep],
                    "kind": "loan",
                    "ref": loans.loc[keep, "id"].astype(str),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["creditor", "debtor", "amount", "kind", "ref"])
    return pd.concat(parts, ignore_index=True)


def _distressed_borrowers(ctx: DetectorContext, s: ContagionSettings) -> dict[str, float]:
    loans = ctx.frame("Loan")
    if loans.empty:
        return {}
    shock = loans["status"].map({"default": s.default_shock, "overdue": s.overdue_shock})
    hit = shock.notna().to_numpy(dtype=bool) & (shock.fillna(0.0).to_numpy(dtype=float) > 0)
    if not hit.any():
        return {}
    worst = (
        pd.Series(shock.to_numpy(dtype=float)[hit], index=loans["borrower_id"].astype(str)[hit])
        .groupby(level=0, sort=True)
        .max()
    )
    return dict(zip(worst.index.tolist(), worst.tolist(), strict=True))


@detector(
    "guarantee.contagion",
    title_zh="担保链风险传染",
    title_en="Contagion through guarantee and credit links",
    subject="uscc",
    reads=("Loan", *ENTITIES),
    requires=("Enterprise", any_of("GUARANTEES", "Loan")),
    settings=ContagionSettings,
    partition="driver",
)
def contagion(ctx: DetectorContext, settings: ContagionSettings) -> Iterator[Finding]:
    """DebtRank (Battiston et al. 2012) of firms on the guarantee + loan exposure network; flag
    firms at or above the DebtRank line and report a stress run from every overdue/defaulted
    borrower (expected loss per bank and per region). Score = DebtRank R."""
    directory = entity_directory(ctx)
    ex = credit_exposures(ctx, settings.include_lapsed)
    if ex.empty:
        return
    frame = directory.frame
    equity = frame["net_assets"].dropna()
    ids, (creditor, with_equity) = encode_nodes(ex["creditor"], equity.index)
    has_equity = np.zeros(len(ids), dtype=bool)
    has_equity[with_equity] = True
    known = has_equity[creditor]
    dropped = int((~known).sum())
    ex = ex[known]
    if ex.empty:
        return
    value = (
        frame["total_assets"]
        .fillna(frame["net_assets"] + frame["total_liabilities"])
        .fillna(frame["net_assets"])
    )
    value = value.dropna().clip(lower=0.0)
    stress = _distressed_borrowers(ctx, settings)
    network = ExposureNetwork(ex, equity, value, extra_nodes=stress)
    nodes = network.nodes
    first_round = network.first_round_impact()
    order = np.argsort(-first_round, kind="stable")
    ranked = [nodes[i] for i in order[: settings.max_ranked_firms] if first_round[i] > 0]
    shocks = dict.fromkeys(ranked, 1.0)
    shocks.update(stress)
    names = nodes.to_numpy(dtype=object)
    in_frame = nodes.get_indexer(frame.index)
    listed = in_frame >= 0
    region_codes, regions = pd.factorize(frame["region_code"].to_numpy(dtype=object), sort=True)
    region = np.full(len(nodes), -1, dtype=np.int64)
    region[in_frame[listed]] = region_codes[listed]
    is_bank = np.zeros(len(nodes), dtype=bool)
    is_bank[in_frame[listed]] = (frame["kind"] == "bank").to_numpy(dtype=bool)[listed]
    eq = np.zeros(len(nodes))
    eq[in_frame[listed]] = frame["net_assets"].fillna(0.0).clip(lower=0.0).to_numpy()[listed]
    k = settings.listed_in_evidence
    for batch in network.single_shock_runs(shocks):
        r_values = batch.R
        src_of = nodes.get_indexer(batch.sources)
        for c, firm in enumerate(batch.sources):
            r = float(r_values[c])
            in_stress = firm in stress
            src = int(src_of[c])
            reached, h = batch.distress(c)
            others = reached != src
            hit_idx, h_hit = reached[others], h[others]
            pushed_over = int((h_hit >= settings.cascade_distress).sum())
            cascade = settings.cascade_firms > 0 and pushed_over >= settings.cascade_firms
            if not (
                r >= settings.debtrank_line
                or cascade
                or (in_stress and settings.flag_every_stress_run)
            ):
                continue
            loss_hit = h_hit * eq[hit_idx]
            top = np.argsort(-h_hit, kind="stable")[:k]
            hits = [
                {
                    "id": names[hit_idx[i]],
                    "name": directory.name(names[hit_idx[i]]),
                    "distress": float(h_hit[i]),
                    "equity_loss": float(loss_hit[i]),
                }
                for i in top
            ]
            evidence = {
                "debtrank": r,
                "initial_distress": float(batch.shocks[c]),
                "first_round_impact": float(first_round[src]),
                "firms_hit": len(hit_idx),
                "firms_pushed_over": pushed_over,
                "cascade_distress": settings.cascade_distress,
                "hits": hits,
                "network": {
                    "nodes": len(nodes),
                    "exposures": len(ex),
                    "exposures_without_equity": dropped,
                },
            }
            bank_loss = 0.0
            if in_stress:
                banks = np.flatnonzero(is_bank[hit_idx])
                banks = banks[np.argsort(-loss_hit[banks], kind="stable")]
                bank_loss = float(loss_hit[banks].sum())
                hit_region = region[hit_idx]
                known = hit_region >= 0
                region_loss = np.bincount(
                    hit_region[known], loss_hit[known], minlength=len(regions)
                )
                present = np.flatnonzero(np.bincount(hit_region[known], minlength=len(regions)))
                by_region = present[np.argsort(-region_loss[present], kind="stable")]
                evidence["stress"] = {
                    "reason": "borrower_in_default",
                    "expected_loss_total": float(loss_hit.sum()),
                    "expected_loss_by_bank": [
                        {
                            "id": names[hit_idx[i]],
                            "name": directory.name(names[hit_idx[i]]),
                            "equity_loss": float(loss_hit[i]),
                            "distress": float(h_hit[i]),
                        }
                        for i in banks[:k]
                    ],
                    "expected_loss_by_region": [
                        {"region_code": regions[i], "equity_loss": float(region_loss[i])}
                        for i in by_region[:k]
                    ],
                    "bank_loss_total": bank_loss,
                }
            severity = (
                "high"
                if r >= settings.high_line
                else "medium"
                if r >= settings.debtrank_line or cascade
                else "low"
            )
            name = directory.name(firm)
            top_zh = (
                f"，受损最重的是{hits[0]['name']}（困境度{pct(hits[0]['distress'])}）"
                if hits
                else ""
            )
            top_en = (
                f"; hardest hit: {hits[0]['name']} (distress {pct(hits[0]['distress'])})"
                if hits
                else ""
            )
            stress_zh = (
                f"该企业贷款已逾期或违约，压力测试下银行预期权益损失合计{scaled_zh(bank_loss)}。"
                if in_stress
                else ""
            )
            stress_en = (
                f" Its loans are overdue or in default: expected bank equity loss {yuan_en(bank_loss)}."
                if in_stress
                else ""
            )
            yield Finding(
                subject_id=firm,
                severity=severity,
                score=r,
                entities=[firm, *[x["id"] for x in hits]],
                region_code=directory.region(firm),
                evidence=evidence,
                explanation={
                    "zh": f"若{name}陷入困境（初始冲击{pct(batch.shocks[c])}），按DebtRank测算将通过担保和信贷关系"
                    f"损失网络经济价值的{pct(r)}，波及{len(hit_idx)}家机构，其中{pushed_over}家损失"
                    f"{pct(settings.cascade_distress)}以上权益{top_zh}。{stress_zh}",
                    "en": f"If {name} failed (initial distress {pct(batch.shocks[c])}), DebtRank says the guarantee and "
                    f"credit network would lose {pct(r)} of its economic value, reaching {len(hit_idx)} institutions, "
                    f"{pushed_over} of which lose {pct(settings.cascade_distress)} or more of their equity{top_en}.{stress_en}",
                },
            )
