"""Load benchmark: rows/s and peak RSS of ``riskgraph load`` at a given size.

Baseline (named, measured in the same run): ``pandas.read_csv`` / ``read_excel`` /
``read_parquet`` of the same files with no validation, mapping or store writes — the floor any
loader pays just to parse the input. The ratio says what validation + mapping + store cost on top.

Each measurement runs in a fresh subprocess so peak RSS is that of the load alone.

Usage::

    .venv/bin/python bench/bench_load.py --households 100000 [--repeats 3]
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
import json, sys, time, resource
from graph_models.memory_store import MemoryStore
from loaders.load import load_dataset
t0 = time.perf_counter()
store = MemoryStore(sys.argv[2])
report = load_dataset(sys.argv[1], store, rejects_dir=sys.argv[2] + "/rejects")
secs = time.perf_counter() - t0
print(json.dumps({"seconds": secs, "rows": sum(t.read for t in report.tables.values()),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "balanced": all(t.balanced for t in report.tables.values())}))
"""

BASELINE = """
import json, sys, time, resource
from pathlib import Path
import pandas as pd
from loaders.reading import detect_encoding
t0 = time.perf_counter(); rows = 0
for p in sorted(Path(sys.argv[1]).iterdir()):
    if p.suffix == ".csv":
        df = pd.read_csv(p, dtype=str, encoding=detect_encoding(p), keep_default_na=False)
    elif p.suffix == ".xlsx":
        df = pd.read_excel(p, dtype=str)
    elif p.suffix == ".parquet":
        df = pd.read_parquet(p)
    else:
        continue
    rows += len(df)
secs = time.perf_counter() - t0
print(json.dumps({"seconds": secs, "rows": rows,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--households", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--dataset", type=Path, default=None, help="Reuse an existing dataset directory."
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
        ours, base = [], []
        for i in range(args.repeats):
            base.append(_run(BASELINE, str(dataset)))
            ours.append(_run(LOAD, str(dataset), f"{tmp}/ws{i}"))
    med = lambda xs, k: statistics.median(x[k] for x in xs)  # noqa: E731
    rows = ours[0]["rows"]
    result = {
        "benchmark": "load",
        "date": dt.date.today().isoformat(),
        "households": args.households,
        "input_rows": rows,
        "generate_seconds": gen_secs,
        "riskgraph_load": {
            "median_seconds": round(med(ours, "seconds"), 2),
            "rows_per_s": round(rows / med(ours, "seconds")),
            "peak_rss_mb": round(max(x["rss_mb"] for x in ours)),
            "balanced": all(x["balanced"] for x in ours),
            "runs": [round(x["seconds"], 2) for x in ours],
        },
        "baseline_pandas_parse_only": {
            "median_seconds": round(med(base, "seconds"), 2),
            "rows_per_s": round(base[0]["rows"] / med(base, "seconds")),
            "peak_rss_mb": round(max(x["rss_mb"] for x in base)),
            "runs": [round(x["seconds"], 2) for x in base],
        },
        "ratio_load_over_parse_only": round(med(ours, "seconds") / med(base, "seconds"), 2),
        "load_average_before_after": [load_before, os.getloadavg()],
        "machine": machine_info(),
    }
    out = ROOT / "bench" / "results" / f"load-{args.households}-{result['date']}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False), "utf-8")
    r, b = result["riskgraph_load"], result["baseline_pandas_parse_only"]
    print(f"households={args.households:,} input rows={rows:,}")
    print(
        f"riskgraph load : {r['median_seconds']:8.2f} s  {r['rows_per_s']:>10,} rows/s  peak {r['peak_rss_mb']:,} MiB"
    )
    print(
        f"parse-only base: {b['median_seconds']:8.2f} s  {b['rows_per_s']:>10,} rows/s  peak {b['peak_rss_mb']:,} MiB"
    )
    print(f"ratio (load / parse-only): {result['ratio_load_over_parse_only']}x   -> {out}")


if __name__ == "__main__":
    main()
