"""Load benchmark: rows/s and peak RSS of ``riskgraph load`` against the parse floor, same run.

Three measurements on the same files, each in a fresh subprocess (so peak RSS is its own), taken
in turn ``--repeats`` times and reported as medians:

- **floor** (the baseline): pyarrow's CSV reader (``pyarrow.csv.read_csv``, every column as text,
  GB18030 files transcoded to UTF-8 first), python-calamine for workbooks, pyarrow for Parquet:
  the fastest well-known way to parse the input, with no validation, mapping or store writes;
- **parse + validate**: riskgraph's readers (every physical line accounted for) and validation
  (column kernels) of every file, no mapping or store writes;
- **load**: what ``riskgraph load`` does, into an empty workspace (``Workspace.load``: parse,
  validate and map every file, its tables staged in worker processes when the dataset is big
  enough, ``loaders.staging_workers``; resolve; write the generation). Its peak RSS is the
  loading process's; ``peak_tree_rss_mb`` adds its workers' (sampled, ``bench/rss.py``).

The ratios ``parse_validate / floor`` and ``load / floor`` are the numbers to watch (target: the
whole load within 5x of the floor).

Usage::

    .venv/bin/python bench/bench_load.py --households 20000 [--repeats 3] [--dataset DIR] [--before DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import machine_info  # noqa: E402

LOAD = """
import json, os, sys, time, resource
if len(sys.argv) > 3:  # another source tree (the code before a change), same interpreter
    sys.path.insert(0, sys.argv[3])
from bench.rss import TreeRss
from loaders.workspace import Workspace
tree = TreeRss(os.getpid())
t0 = time.perf_counter()
with Workspace(sys.argv[2]).load(sys.argv[1]) as build:
    build.commit()
report = build.report
secs = time.perf_counter() - t0
print(json.dumps({"seconds": secs, "rows": sum(t.read for t in report.tables.values()),
                  "lines": sum(f.lines for f in getattr(report, "files", [])),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "tree_rss_mb": tree.stop(),
                  "balanced": all(t.balanced for t in report.tables.values())}))
"""

PARSE_VALIDATE = """
import json, sys, time, resource
from loaders.contract import CONTRACT
from loaders.reading import CHUNK_ROWS, discover, read_file
from loaders.validation import DuplicateTracker, plan_file, validate_chunk
t0 = time.perf_counter(); rows = 0; read = 0.0
found = discover(sys.argv[1])
for table, sources in found.tables.items():
    dups = DuplicateTracker()
    for src in sources:
        t1 = time.perf_counter()
        raw = read_file(src, found.limits)  # parses the first block
        read += time.perf_counter() - t1
        blocks = iter(raw.blocks)
        while True:
            t1 = time.perf_counter()
            block = next(blocks, None)
            read += time.perf_counter() - t1
            if block is None:
                break
            plan = plan_file(block.data, CONTRACT[table], raw.units)
            rows += len(block.rejects)
            for start in range(0, max(block.rows, 1), CHUNK_ROWS):
                chunk = block.data.slice(start, CHUNK_ROWS)
                rows += validate_chunk(chunk, CONTRACT[table], dups, plan).read
secs = time.perf_counter() - t0
print(json.dumps({"seconds": secs, "read_seconds": read, "rows": rows,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

FLOOR = """
import io, json, sys, time, resource
from pathlib import Path
import pyarrow as pa, pyarrow.csv as pacsv, pyarrow.parquet as pq
t0 = time.perf_counter(); rows = 0
root = Path(sys.argv[1])
files = sorted(p for p in root.rglob("*") if p.is_file())
for p in files:
    suffix = p.suffix.lower()
    if suffix == ".csv":
        data = p.read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            data = data.decode("gb18030").encode("utf-8")
        head = pacsv.read_csv(io.BytesIO(data[: data.find(b"\\n") + 1]))
        types = {c: pa.string() for c in head.column_names}
        t = pacsv.read_csv(io.BytesIO(data), convert_options=pacsv.ConvertOptions(column_types=types))
        rows += t.num_rows
    elif suffix in (".xlsx", ".xls", ".xlsm"):
        from python_calamine import CalamineWorkbook
        rows += len(CalamineWorkbook.from_path(str(p)).get_sheet_by_index(0).to_python()) - 1
    elif suffix == ".parquet":
        rows += pq.read_table(p).num_rows
secs = time.perf_counter() - t0
print(json.dumps({"seconds": secs, "rows": rows,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def warm(dataset: Path) -> None:
    """Read every file of the dataset once, so the floor and riskgraph's runs all find it in the
    page cache (the first reader otherwise pays the disk: a cold floor at 1M households took
    71 s, warm ones 27-36 s)."""
    for p in sorted(dataset.rglob("*")):
        if p.is_file():
            with open(p, "rb") as f:
                while f.read(1 << 24):
                    pass


def _run(code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _summary(runs: list[dict], rows: int) -> dict:
    med = statistics.median(x["seconds"] for x in runs)
    return {
        "median_seconds": round(med, 2),
        "rows_per_s": round(rows / med),
        "peak_rss_mb": round(max(x["rss_mb"] for x in runs)),
        "peak_tree_rss_mb": round(max(x.get("tree_rss_mb", 0) for x in runs)),
        "runs": [round(x["seconds"], 2) for x in runs],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--households", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--dataset", type=Path, default=None, help="Reuse an existing dataset directory."
    )
    ap.add_argument(
        "--before",
        type=Path,
        default=None,
        help="Also time the load of another source tree (e.g. `git archive main` unpacked).",
    )
    args = ap.parse_args()
    from fixtures.synth import generate

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="rg-bench-") as tmp:
        dataset = args.dataset or Path(tmp) / "ds"
        if args.dataset is None:
            t0 = time.perf_counter()
            generate(dataset, households=args.households, seed=args.seed)
            gen_secs = time.perf_counter() - t0
        else:
            gen_secs = None
        floor, pv, ours, before = [], [], [], []
        for i in range(args.repeats):
            warm(dataset)
            floor.append(_run(FLOOR, str(dataset)))
            pv.append(_run(PARSE_VALIDATE, str(dataset)))
            ours.append(_run(LOAD, str(dataset), f"{tmp}/ws{i}"))
            if args.before:
                before.append(_run(LOAD, str(dataset), f"{tmp}/before{i}", str(args.before)))
    rows = ours[0]["rows"]
    f_med = statistics.median(x["seconds"] for x in floor)
    result = {
        "benchmark": "load",
        "date": dt.date.today().isoformat(),
        "households": args.households,
        "input_rows": rows,
        "physical_lines": ours[0]["lines"],
        "generate_seconds": gen_secs,
        "baseline_pyarrow_floor": _summary(floor, floor[0]["rows"]),
        "riskgraph_parse_validate": {
            **_summary(pv, rows),
            "median_read_seconds": round(statistics.median(x["read_seconds"] for x in pv), 2),
        },
        "riskgraph_load": {
            **_summary(ours, rows),
            "balanced": all(x["balanced"] for x in ours),
        },
        "ratio_parse_validate_over_floor": round(
            statistics.median(x["seconds"] for x in pv) / f_med, 2
        ),
        "ratio_load_over_floor": round(statistics.median(x["seconds"] for x in ours) / f_med, 2),
        **(
            {
                "before_load": _summary(before, rows),
                "ratio_before_load_over_floor": round(
                    statistics.median(x["seconds"] for x in before) / f_med, 2
                ),
            }
            if before
            else {}
        ),
        "load_average_before_after": [load_before, os.getloadavg()],
        "machine": machine_info(),
    }
    out = ROOT / "bench" / "results" / f"load-{args.households}-{result['date']}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False), "utf-8")
    print(f"households={args.households:,} input rows={rows:,}")
    for key, label in (
        ("baseline_pyarrow_floor", "pyarrow floor   "),
        ("riskgraph_parse_validate", "parse + validate"),
        ("riskgraph_load", "riskgraph load  "),
        ("before_load", "load (--before) "),
    ):
        if key not in result:
            continue
        r = result[key]
        print(f"{label}: {r['median_seconds']:8.2f} s  {r['rows_per_s']:>10,} rows/s  "
              f"peak {r['peak_rss_mb']:,} MiB")  # fmt: skip
    print(f"ratios: parse+validate / floor {result['ratio_parse_validate_over_floor']}x, "
          f"load / floor {result['ratio_load_over_floor']}x   -> {out}")  # fmt: skip


if __name__ == "__main__":
    main()
