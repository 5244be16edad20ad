"""The ``riskgraph`` command line (``api.cli.main:main``), one module per group of commands."""
