"""``riskgraph report`` and ``riskgraph export-flags``: a scan's flags for people."""

from __future__ import annotations

from pathlib import Path

import click

from api.cli.common import (
    console,
    friendly,
)
from graph_models.errors import DataError


@click.command()
@click.option("--scan", "scan_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=Path("demo-out"), show_default=True, help="A scan output directory.")  # fmt: skip
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option(
    "--unmasked", is_flag=True, help="Show personal data (IDs, accounts, phones, names) in full."
)
@friendly
def report(scan_dir: Path, out_file: Path, lang: str, unmasked: bool) -> None:
    """Write a printable HTML report of a scan."""
    from api.reports.html_report import write_report

    if not (scan_dir / "summary.json").exists():
        raise DataError("missing_scan", f"{scan_dir}: no summary.json (run 'riskgraph scan' first)")
    path = write_report(scan_dir, out_file, lang=lang, unmasked=unmasked)
    console.print(f"report written to [bold]{path}[/]")


@click.command("export-flags")
@click.argument("scan_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The .xlsx file to write.")  # fmt: skip
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--region", default=None, help="Only flags of this region and below (6 digits).")
@click.option(
    "--unmasked", is_flag=True, help="Show resident IDs, phone and account numbers in full."
)
@friendly
def export_flags(
    scan_dir: Path, out_file: Path, lang: str, region: str | None, unmasked: bool
) -> None:
    """Export a scan's flags to an Excel workbook (flags, evidence rows, counts)."""
    from api.access.scopes import is_region_code
    from api.reports.workbook import write_flags_xlsx

    if not (scan_dir / "flags.jsonl").is_file():
        raise DataError("missing_flags", f"{scan_dir}: no flags.jsonl (run 'riskgraph scan' first)")
    if region is not None and not is_region_code(region):
        raise DataError("bad_region", f"region codes are 6 digits: {region}")
    path, n = write_flags_xlsx(scan_dir, out_file, lang=lang, region=region, unmasked=unmasked)
    console.print(f"{n:,} flags written to [bold]{path}[/]")
