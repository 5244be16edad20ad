"""The web pages for inspectors and analysts, served by the API app (no Node at run time).

Pages (HTML shells; their scripts call the JSON API ``/api/v1/...`` with the session cookie):

==========================  ====================================================================
``/web/login``              sign in with an API token (``POST`` the form), ``/web/logout``
``/web/flags``              the flag queue: filters, counts per filter, sort, downloads
``/web/flags/{flag_id}``    one flag on one screen: explanation, evidence, graph, decision
``/web/entities/{id}``      an entity: properties (masked per role), neighbours, control, flags
``/web/regions``            every role's dashboard over its regions (debt charts for debt roles)
``/web/cases``              cases: list, new; ``/web/cases/{id}`` flags, status, assignee, thread
``/web/scans``              scans and the progress of a running one (admin)
``/web/report.html``        printable HTML report of the queue's current filter (download)
``/web/report.pdf``         the same report as PDF
``/web/export.xlsx``        the queue's current filter as an Excel workbook (download)
``/web/export.csv``         the same as CSV, one row per evidence record
``/web/api/search``         search as you type (the top bar of every page)
==========================  ====================================================================

``pages.py`` serves the pages, ``data.py`` the JSON reads under ``/web/api`` the API does not
offer, ``downloads.py`` the report and the workbook; ``render.py`` makes a page from its Jinja2
template. ``api.server.app.create_app`` mounts :data:`web_router`;
``api.server.deps.current_principal`` accepts the session cookie (CSRF-checked on writes) where
no bearer token is sent.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.server.web import data, downloads, pages

__all__ = ["web_router"]

web_router = APIRouter(include_in_schema=False)
for _part in (pages.router, data.router, downloads.router):
    web_router.include_router(_part)
