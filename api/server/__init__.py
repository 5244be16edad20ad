"""The HTTP API and the web pages (``riskgraph serve``).

- ``app``, ``deps``, ``errors``, ``models``: the FastAPI application, the dependencies the
  routes share, the one error shape and the request/response models
- ``auth/``: who is asking (API tokens, web sign-in sessions)
- ``graph/``: the graph as one user may see it (lock, caches, region visibility, search)
- ``routes/``: the JSON API under ``/api/v1``, one module per resource
- ``web/``: the web pages for inspectors and analysts (templates, scripts, styles)
- ``state/``: the state DB (users, flags and reviews, cases, scans, audit trail, migrations)
- ``scan_jobs``, ``workers``: background scans, and several worker processes on one port

Only ``api.cli`` imports it; reports and the scan pipeline never do.
"""
