"""The web pages for inspectors and analysts, served by the API app (no Node at run time).

Pages (HTML shells; their scripts call the JSON API ``/api/v1/...`` with the session cookie):

==========================  ====================================================================
``/web/login``              sign in with an API token (``POST`` the form), ``/web/logout``
``/web/flags``              the flag queue: filters, counts per filter, sort, downloads
``/web/flags/{flag_id}``    one flag on one screen: explanation, evidence, graph, decision
``/web/entities/{id}``      an entity: properties (masked per role), neighbours, control, flags
``/web/regions``            regional debt and guarantee risk for debt analysts (charts)
``/web/report.html``        printable HTML report of the queue's current filter (download)
``/web/export.xlsx``        the queue's current filter as an Excel workbook (download)
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
