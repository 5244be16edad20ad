"""Downloads of the queue's current filter: a printable HTML report, the same as PDF, an Excel
workbook and a CSV file, of the flags as the API shows them to the user (masked for their role
by the one masking policy, :mod:`api.access.masking`), with every evidence record and their
decisions. Every download is audited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from api.access.flag_scope import withheld_note
from api.reports.html_report import render_pdf, render_queue_report
from api.reports.workbook import flags_csv_bytes, flags_workbook_bytes
from api.server.auth.principals import Principal
from api.server.deps import AppServices, Graph, Services, audit, audit_revealed
from api.server.flag_views import FlagReader
from api.server.graph.scoped import ScopedGraph
from api.server.state.models import ReviewDecision
from api.server.web.data import Filters, QueueFilters, graph_region_names
from api.server.web.render import detector_titles, page_lang, secured, stamp

__all__ = ["EXPORT_LIMIT", "router"]

router = APIRouter(include_in_schema=False)

#: Flags a report or an export holds at most.
EXPORT_LIMIT = 5000


def _export_rows(
    services: AppServices, user: Principal, graph: ScopedGraph, filters: QueueFilters
) -> tuple[list[dict[str, Any]], list[ReviewDecision]]:
    """The filtered flags (masked for the user) and their decisions, oldest first."""
    with services.db.read() as session:
        rows = session.execute(filters.ordered(user).limit(EXPORT_LIMIT)).all()
        ids = [f.flag_id for f, _ in rows]
        reviews: list[ReviewDecision] = []
        for start in range(0, len(ids), 500):
            reviews.extend(
                session.scalars(
                    select(ReviewDecision)
                    .where(ReviewDecision.flag_id.in_(ids[start : start + 500]))
                    .order_by(ReviewDecision.id)
                )
            )
        reader = FlagReader(graph)
        reader.prepare([f for f, _ in rows], reviews)
        flags = {f.flag_id: f for f, _ in rows}
        # review comments may name what the user may not see, as the flags do: cut them alike
        for r in reviews:
            session.expunge(r)
            r.comment = reader.text(flags[r.flag_id], r.comment or "")
        return [_with_note(reader.flag(f, s, detail=True)) for f, s in rows], reviews


def _with_note(flag: dict[str, Any]) -> dict[str, Any]:
    """The flag with what was withheld from it said at the end of its explanation (a report
    or a workbook is read away from the page that would say it)."""
    if not any(flag["withheld"].values()):
        return flag
    explanation = dict(flag["explanation"])
    for lang in ("zh", "en"):
        note = withheld_note(flag["withheld"], lang)
        text = explanation.get(lang) or ""
        explanation[lang] = f"{text}（{note}）" if lang == "zh" else f"{text} ({note})"
    return {**flag, "explanation": explanation}


def _report(request: Request, services: AppServices, graph: ScopedGraph, filters: QueueFilters,
            pdf: bool) -> tuple[str, int]:  # fmt: skip
    user = graph.principal
    rows, reviews = _export_rows(services, user, graph, filters)
    document = render_queue_report(
        rows, lang=page_lang(request), filters=filters.as_dict(), user_name=user.name,
        region_names=graph_region_names(services.graph, user.scope), detector_titles=detector_titles(),
        limit=EXPORT_LIMIT, reviews=reviews, masked=not user.policy.personal_clearance, pdf=pdf,
    )  # fmt: skip
    return document, len(rows)


def _attachment(response: Response, name: str) -> Response:
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return secured(response)


@router.get("/web/report.html")
def report_download(
    request: Request, services: Services, graph: Graph, filters: Filters
) -> Response:
    """The queue's current filter as a self-contained, printable HTML report."""
    document, n = _report(request, services, graph, filters, pdf=False)
    audit(
        services, request, graph.principal, "web_report", {"filters": filters.as_dict(), "flags": n}
    )
    audit_revealed(services, request, graph.principal, graph.masker)
    return _attachment(HTMLResponse(document), f"riskgraph-report-{stamp()}.html")


@router.get("/web/report.pdf")
def pdf_download(request: Request, services: Services, graph: Graph, filters: Filters) -> Response:
    """The same report as PDF (A4 landscape, page numbers)."""
    document, n = _report(request, services, graph, filters, pdf=True)
    data = render_pdf(document)
    audit(services, request, graph.principal, "web_report_pdf",
          {"filters": filters.as_dict(), "flags": n})  # fmt: skip
    audit_revealed(services, request, graph.principal, graph.masker)
    return _attachment(
        Response(data, media_type="application/pdf"), f"riskgraph-report-{stamp()}.pdf"
    )


@router.get("/web/export.xlsx")
def xlsx_download(request: Request, services: Services, graph: Graph, filters: Filters) -> Response:
    """The queue's current filter as an Excel workbook (flags, every evidence record, decisions)."""
    user = graph.principal
    rows, reviews = _export_rows(services, user, graph, filters)
    data = flags_workbook_bytes(
        rows, lang=page_lang(request), detector_titles=detector_titles(), reviews=reviews,
        region_names=graph_region_names(services.graph, user.scope),
    )  # fmt: skip
    audit(services, request, user, "web_export", {"filters": filters.as_dict(), "flags": len(rows)})
    audit_revealed(services, request, user, graph.masker)
    media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return _attachment(Response(data, media_type=media), f"riskgraph-flags-{stamp()}.xlsx")


@router.get("/web/export.csv")
def csv_download(request: Request, services: Services, graph: Graph, filters: Filters) -> Response:
    """The queue's current filter as CSV: one row per evidence record, every record."""
    user = graph.principal
    rows, _reviews = _export_rows(services, user, graph, filters)
    data = flags_csv_bytes(
        rows, lang=page_lang(request), detector_titles=detector_titles(),
        region_names=graph_region_names(services.graph, user.scope),
    )  # fmt: skip
    audit(services, request, user, "web_export_csv",
          {"filters": filters.as_dict(), "flags": len(rows)})  # fmt: skip
    audit_revealed(services, request, user, graph.masker)
    return _attachment(Response(data, media_type="text/csv; charset=utf-8"),
                       f"riskgraph-flags-{stamp()}.csv")  # fmt: skip
