"""Everything a user touches, above the engine: one folder per way in.

- ``api.cli``      the ``riskgraph`` command (load, scan, report, export, users, serve ...)
- ``api.scan``     the batch scan pipeline: load a dataset, run the detectors, write the flags
- ``api.reports``  the HTML report, the Excel export and the one table of user-facing words
- ``api.access``   who may see what: roles, region scopes, masking of personal data
- ``api.server``   the HTTP API and web pages: app, routes, web, auth, graph access, state DB

Data flows one way: ``cli`` uses all of them; ``server`` uses ``scan``, ``reports`` and
``access``; ``reports`` uses ``access``; nothing outside ``api`` imports ``api.server``.
"""
