"""The ``riskgraph`` command line.

Every command prints one readable line and exits non-zero on bad input (a missing directory, an
unreadable file, a wrong-typed column); ``--debug`` adds the traceback. The commands live in
one module per group: :mod:`~api.cli.datasets` (synth, load), :mod:`~api.cli.scanning` (scan,
demo, evaluate, detectors), :mod:`~api.cli.reporting` (report, export-flags),
:mod:`~api.cli.state_db` (db, users, import-flags, audit) and :mod:`~api.cli.serving` (serve).
"""

from __future__ import annotations

import logging

import click

from api.cli import datasets, reporting, scanning, serving, state_db
from api.cli.common import State

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.version_option(package_name="riskgraph")
def main(debug: bool) -> None:
    """riskgraph: graph analytics for hidden debt, guarantee circles and aid fraud."""
    State.debug = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


for command in (
    datasets.synth, datasets.load, scanning.scan, scanning.demo, scanning.evaluate,
    scanning.detectors, reporting.report, reporting.export_flags, state_db.db, state_db.users,
    state_db.import_flags_cmd, state_db.audit, serving.serve,
):  # fmt: skip
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
