"""``riskgraph scan``, ``demo``, ``evaluate`` and ``detectors``: run the detectors and judge them."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import click

from api.cli.common import (
    STORES,
    console,
    default_workspace,
    friendly,
    open_graph_store,
    print_flags,
    print_load,
    read_settings,
    reporter,
    with_options,
)
from graph_models.errors import DataError
from loaders.csv_cells import safe_frame


def _run_scan(
    dataset: Path | None, out: Path, workspace: Path | None, store_kind: str, settings: Path | None,
    only: tuple[str, ...], as_of: str | None, allow_partial: bool = False,
    engine: str = "embedded", spark_master: str | None = None, spark_graph: str | None = None,
    fresh: bool = False,
) -> Any:  # fmt: skip
    """Scan with the embedded store through the workspace (unchanged files are not read again;
    the flags say which are new since the previous scan), with another store by loading it."""
    from api.scan.pipeline import scan_dataset, scan_workspace
    from engine.registry import all_detectors
    from graph_models.stores import store_class

    if dataset is not None and not dataset.is_dir():
        raise DataError("missing_dataset", f"{dataset}: no such dataset directory")
    as_of_date = dt.date.fromisoformat(as_of) if as_of else None
    ws = workspace or default_workspace()
    ids = list(only) or [s.id for s in all_detectors()]
    with reporter() as progress:
        progress.plan_detectors(ids, _last_timings(ws))
        common = dict(
            settings_doc=read_settings(settings), only=list(only) or None, as_of=as_of_date,
            allow_partial=allow_partial, detector_progress=progress.detector_started,
            detector_done=progress.detector_done,
            engine=engine, spark_master=spark_master, spark_graph=spark_graph,
            detect_workers=None,  # one process per CPU when the store and the work allow
        )  # fmt: skip
        if dataset is not None and store_class(store_kind).in_process:
            return scan_workspace(
                ws, dataset, out, load_progress=progress, reuse=not fresh, **common
            )
        store = open_graph_store(store_kind, ws)
        try:
            return scan_dataset(store, out, dataset, load_progress=progress, **common)
        finally:
            store.close()


def _last_timings(workspace: Path) -> dict[str, float]:
    """Seconds each detector took in the workspace's previous scan (for time-left estimates);
    a detector that scan reused counts with what computing it took last."""
    from api.scan.pipeline import last_scan_dir

    found = last_scan_dir(workspace)
    try:
        doc = json.loads((found[1] / "summary.json").read_text("utf-8")) if found else {}
        seconds = {k: float(v) for k, v in doc["timings"]["detectors"].items()}
        for k, v in (doc.get("reused") or {}).items():
            if v.get("seconds") is not None:
                seconds.setdefault(k, float(v["seconds"]))
        return seconds
    except (OSError, ValueError, KeyError, TypeError):
        return {}


_scan_options = [
    click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=None,
                 help="The workspace (default $RISKGRAPH_WORKSPACE or riskgraph-workspace, the one "
                      "'riskgraph serve' opens): files unchanged since its last load or scan are "
                      "not read again, and the scan becomes its current generation."),
    click.option("--store", "store_kind", type=STORES, default=lambda: os.environ.get("RISKGRAPH_STORE", "memory")),
    click.option("--settings", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                 help="YAML/JSON file: {detector_id: {setting: value}}."),
    click.option("--only", multiple=True, help="Run only this detector id (repeatable)."),
    click.option("--as-of", default=None, help="Reference date YYYY-MM-DD for open intervals (default today)."),
    click.option("--engine", type=click.Choice(["embedded", "spark"]),
                 default=lambda: os.environ.get("RISKGRAPH_ENGINE", "embedded"), show_default="embedded",
                 help="Where the detectors run: in this process, or on Apache Spark (docs/spark.md)."),
    click.option("--spark-master", default=None,
                 help="Spark master for --engine spark (default: spark-submit's, $SPARK_MASTER, local[*])."),
    click.option("--spark-graph", default=None,
                 help="Graph tables Spark reads (default WORKSPACE/graph; hdfs://, s3a://, oss:// URIs)."),
]  # fmt: skip


@click.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True)
@with_options(_scan_options)
@click.option(
    "--report/--no-report", default=True, show_default=True, help="Also write report.html."
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--allow-partial", is_flag=True,
              help="Scan what can be loaded when files are unmapped or unreadable or a referenced "
                   "table is missing (the problems are still reported).")  # fmt: skip
@click.option("--fresh", is_flag=True,
              help="Run every detector, even one whose tables, settings, reference date and code "
                   "are unchanged since the workspace's previous scan (by default its flags are "
                   "taken from that scan).")  # fmt: skip
@friendly
def scan(
    dataset: Path, out: Path, workspace: Path | None, store_kind: str, settings: Path | None,
    only: tuple[str, ...], as_of: str | None, report: bool, lang: str, allow_partial: bool,
    engine: str, spark_master: str | None, spark_graph: str | None, fresh: bool,
) -> None:  # fmt: skip
    """Load DATASET, run every detector, write flags.jsonl, flags.csv, summary.json, rejects/."""
    outcome = _run_scan(dataset, out, workspace, store_kind, settings, only, as_of, allow_partial,
                        engine, spark_master, spark_graph, fresh)  # fmt: skip
    if outcome.load:
        print_load(outcome.load)
    print_flags(outcome.summary)
    if report:
        from api.reports.html_report import write_report

        write_report(out, out / "report.html", lang=lang)
    console.print(f"outputs in [bold]{out}[/]: flags.jsonl, flags.csv, summary.json, rejects/"
                  + (", report.html" if report else ""))  # fmt: skip


#: What the demo leaves in its workspace, so a later ``riskgraph demo`` knows the graph is its own.
DEMO_MARKER = "demo-dataset.txt"


def _demo_workspace(workspace: Path) -> None:
    """Refuse a workspace whose graph is not the demo's (the demo replaces its graph)."""
    marker = workspace / DEMO_MARKER
    if (workspace / "graph").exists() and not marker.is_file():
        raise DataError(
            "workspace_in_use",
            f"{workspace} already holds a graph that the demo did not write; run the demo in "
            "another workspace (riskgraph demo --workspace DIR) or remove that one",
        )


def _busiest_county(flags_path: Path, family: str) -> str | None:
    """The county with the most flags of ``family`` (for the printed example commands)."""
    from collections import Counter

    from engine.outputs import read_flags

    counts = Counter(
        f.region_code for f in read_flags(flags_path)
        if f.family == family and f.region_code and not f.region_code.endswith("00")
    )  # fmt: skip
    return counts.most_common(1)[0][0] if counts else None


@click.command()
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"),
              show_default=True)  # fmt: skip
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path),
              default=default_workspace, show_default="$RISKGRAPH_WORKSPACE or riskgraph-workspace",
              help="Where the demo's graph and state DB go ('riskgraph serve' opens it).")  # fmt: skip
@click.option("--households", default=500, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@friendly
def demo(out: Path, workspace: Path, households: int, seed: int, lang: str) -> None:
    """Generate the demo dataset, load it into the workspace, scan, import the flags, report.

    The graph and the state DB go into the default workspace, so ``riskgraph serve`` without
    options serves the demo with its flags already imported. Run again with the same options,
    the files are unchanged and are not read again.
    """
    import shutil

    from api.reports.html_report import write_report
    from fixtures.synth import SNAPSHOT_DATE, generate

    dataset = out / "dataset"
    _demo_workspace(workspace)
    if dataset.exists():
        shutil.rmtree(dataset)
    console.print(f"generating {households} households (seed {seed}) ...")
    generate(dataset, households=households, seed=seed)
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / DEMO_MARKER).write_text(f"{dataset.resolve()}\n", "utf-8")
    console.print(f"reference date (--as-of) {SNAPSHOT_DATE}: the synthetic registers' export date")
    outcome = _run_scan(dataset, out, workspace, "memory", None, (), SNAPSHOT_DATE.isoformat())
    if outcome.load:
        print_load(outcome.load)
    print_flags(outcome.summary)
    path = write_report(out, out / "report.html", lang=lang)
    from engine.evaluation import evaluate, format_evaluation

    ev = evaluate(out / "flags.jsonl", dataset / "ground_truth.jsonl")
    safe_frame(ev).to_csv(out / "evaluation.csv", index=False)
    click.echo(format_evaluation(ev), err=True)
    from api.cli.state_db import import_scan

    result = import_scan(out, workspace, None)
    county = _busiest_county(out / "flags.jsonl", "aid") or "000000"
    ws = "" if workspace == Path("riskgraph-workspace") else f" --workspace {workspace}"
    console.print(
        f"\n[bold green]done[/]: flags in {out / 'flags.jsonl'}, report in [bold]{path}[/]\n"
        f"graph and state DB in [bold]{workspace}[/] ({result.total:,} flags imported); next:\n"
        f"  riskgraph users add 王检查 --role aid_inspector --region {county}{ws}\n"
        f"  riskgraph serve{ws}      # then open http://127.0.0.1:8000/web/ and sign in with the token",
        highlight=False,
    )


@click.command()
@click.argument("scan_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--truth", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="ground_truth.jsonl written by 'riskgraph synth'.")  # fmt: skip
@friendly
def evaluate(scan_dir: Path, truth: Path) -> None:
    """Precision and recall of every detector against a synthetic dataset's ground truth."""
    from engine.evaluation import evaluate as run_eval
    from engine.evaluation import format_evaluation

    ev = run_eval(scan_dir / "flags.jsonl", truth)
    click.echo(format_evaluation(ev))


@click.command()
@click.option("--json", "as_json", is_flag=True)
def detectors(as_json: bool) -> None:
    """List the detectors: what each requires, reads and uses, where it runs, what its score
    measures (unit and meaning; flags are ordered by severity first, then by score within a
    detector), its settings and defaults."""
    from engine.registry import all_detectors
    from engine.scores import SCORES
    from engine.settings import settings_doc
    from engine.spark.engine import placement_note

    specs = all_detectors()
    if as_json:
        doc = [
            {"id": s.id, "title_zh": s.title_zh, "title_en": s.title_en,
             "subject": list(s.subjects), "reads": list(s.reads),
             "requires": [str(r) for r in s.requires], "uses": list(s.uses),
             "runs_on": {"embedded": True, "spark": s.partition is not None},
             "partition": s.partition, "spark": placement_note(s.partition),
             "score": SCORES[s.id]._asdict() if s.id in SCORES else None,
             "settings": settings_doc(s.settings)}
            for s in specs
        ]  # fmt: skip
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2, default=str))
        return
    for s in specs:
        click.echo(f"{s.id:32s} {s.title_zh} / {s.title_en}")
        click.echo(f"    requires: {', '.join(map(str, s.requires)) or '-'}")
        click.echo(f"    reads:    {', '.join(s.reads)}")
        if s.id in SCORES:
            m = SCORES[s.id]
            click.echo(f"    score:    {m.unit_en}: {m.meaning_en} / {m.unit_zh}：{m.meaning_zh}")
        if s.uses:
            click.echo(f"    uses:     {', '.join(s.uses)}")
        click.echo(f"    runs on:  embedded; {placement_note(s.partition)}")
        for item in settings_doc(s.settings):
            click.echo(f"    {item['name']} = {item['default']!r}: {item['doc']}")
