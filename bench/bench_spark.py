"""Embedded engine vs Spark ``local[2]``: the same synthetic dataset, files to flags, one run.

Usage::

    .venv/bin/python bench/bench_spark.py                      # 100,000 households
    .venv/bin/python bench/bench_spark.py --households 5000    # a quick look

What runs, in one process, one after the other:

1. ``riskgraph synth`` writes the dataset as CSV files (``--households``, seeded; enterprises
   scale with it), not timed; or ``--dataset DIR`` names one already written.
2. **embedded**: ``scan_dataset`` into a fresh workspace -- load the files, run every detector
   in-process, write flags.jsonl / csv / summary.
3. **spark**: the same into another fresh workspace with ``engine="spark"`` on ``local[2]``:
   load the files, start the Spark session, run every detector on Spark over the workspace's
   Parquet tables, write the same outputs.

Reported: wall seconds of each (files to flags), the Spark split (session start-up; register
SQL = the ``sql`` detectors; graph steps = connected components + detectors per component; the
``driver`` detectors), flag counts of both and whether the flag ids agree (rings excepted:
community ids may differ). Results go to ``bench/results/spark-<date>-<n>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import machine_info, peak_rss_mb


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--households", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--master", default="local[2]")
    p.add_argument("--keep", action="store_true", help="Keep the work directory.")
    p.add_argument("--dataset", type=Path, default=None,
                   help="An existing dataset directory (e.g. one 'riskgraph synth' wrote with the "
                        "same --households and --seed) instead of generating one.")  # fmt: skip
    args = p.parse_args()

    from click.testing import CliRunner

    from api.cli.main import main as cli
    from api.scan.pipeline import scan_dataset
    from engine.registry import all_detectors
    from graph_models.memory_store import MemoryStore

    work = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    data = args.dataset or work / "data"
    as_of = dt.date(2024, 6, 30)
    if args.dataset is None:
        res = CliRunner().invoke(
            cli,
            ["synth", str(data), "--households", str(args.households), "--seed", str(args.seed)],
        )
        if res.exit_code:
            raise SystemExit(res.output)
    size_mb = sum(f.stat().st_size for f in data.rglob("*") if f.is_file()) / 1e6
    print(f"dataset: {args.households:,} households, {size_mb:.0f} MB of CSV", flush=True)

    load_before = os.getloadavg()
    t0 = time.perf_counter()
    emb = scan_dataset(MemoryStore(work / "ws-a"), work / "out-a", data, as_of=as_of)
    embedded_s = time.perf_counter() - t0
    print(f"embedded: {embedded_s:.1f}s, {len(emb.result.flags):,} flags", flush=True)

    t0 = time.perf_counter()
    spk = scan_dataset(
        MemoryStore(work / "ws-b"), work / "out-b", data, as_of=as_of, engine="spark",
        spark_master=args.master,
    )  # fmt: skip
    spark_s = time.perf_counter() - t0
    load_after = os.getloadavg()
    print(f"spark: {spark_s:.1f}s, {len(spk.result.flags):,} flags", flush=True)

    placement = {s.id: s.partition for s in all_detectors()}
    det = spk.summary["timings"]["detectors"]
    split = {
        "start_up": spk.summary["timings"].get("spark_start"),
        "load_files_to_workspace": spk.summary["timings"].get("load"),
        "register_sql_detectors": round(
            sum(v for k, v in det.items() if placement.get(k) == "sql"), 2
        ),
        "graph_steps": spk.summary["timings"].get("spark", {}),
        "driver_detectors": round(
            sum(v for k, v in det.items() if placement.get(k) == "driver"), 2
        ),
        "detect_total": spk.summary["timings"].get("detect"),
    }
    same = lambda r: sorted(f.flag_id for f in r.flags if f.detector != "aid.fraud_ring")  # noqa: E731
    out = {
        "benchmark": "embedded vs spark, files to flags",
        "date": dt.date.today().isoformat(),
        "households": args.households,
        "csv_mb": round(size_mb, 1),
        "master": args.master,
        "embedded_seconds": round(embedded_s, 2),
        "spark_seconds": round(spark_s, 2),
        "spark_over_embedded": round(spark_s / embedded_s, 2),
        "embedded_timings": emb.summary["timings"],
        "spark_split": split,
        "spark_detector_seconds": det,
        "flags": {"embedded": len(emb.result.flags), "spark": len(spk.result.flags)},
        "same_flag_ids_except_rings": same(emb.result) == same(spk.result),
        "dataset": str(data) if args.dataset else None,
        "load_average_before_after": [list(load_before), list(load_after)],
        "peak_rss_mb_process": peak_rss_mb(),
        "note": "one run each, same process, machine shared with other work: noisy",
        "machine": machine_info(("pyspark", "sqlglot", "duckdb", "pandas", "pyarrow")),
    }
    dest = Path(__file__).parent / "results" / f"spark-{out['date']}-{args.households}.json"
    dest.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(json.dumps({k: out[k] for k in ("embedded_seconds", "spark_seconds", "spark_split")}))
    print(f"written {dest}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
