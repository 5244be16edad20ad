"""End-to-end benchmark: files to flags with ``riskgraph scan``, against the parse floor, same run.

Each measurement runs in a fresh subprocess (its own peak RSS, read from ``wait4``; with its
staging workers, the sum sampled by ``bench/rss.py``), in turn, ``--repeats`` times; medians
are reported:

- **floor**: pyarrow's CSV reader on the same files (every column as text, GB18030 transcoded),
  calamine for workbooks, pyarrow for Parquet (``bench/bench_load.py``'s floor, the fastest
  well-known way to parse the input);
- **scan**: ``riskgraph scan DATASET --out OUT --workspace W --no-report`` into an empty workspace:
  parse, validate, map (tables staged in worker processes, ``loaders.staging_workers``),
  resolve, write the generation, run every detector, write the flags; the
  split (staging = read + validate + map, build = resolve + write the graph, detect, write) comes
  from the scan's ``summary.json``;
- **rescan**: the same command again with other settings of one detector on the same workspace
  (no file changed: nothing is read, the graph is reused, and the other detectors' flags are
  taken from the previous scan, ``engine.reuse``);
- **rescan_every_detector**: the same again with ``--fresh`` and the first settings: every
  detector runs (what a rescan costs when every detector's settings change);
- **before** (``--before DIR``): ``riskgraph scan`` of another source tree (the code before a
  change), same interpreter, same files.

Targets (issue 19): at 1,000,000 households a scan in under 5 minutes and 12 GiB peak RSS on a
2-core machine, a rescan with other settings in under 1 minute. The machine's load average is
recorded before and after: on a shared machine, compare ratios measured in the same run.

Usage::

    .venv/bin/python bench/bench_scan.py --households 100000 [--repeats 3] [--data-root /data]
    .venv/bin/python bench/bench_scan.py --dataset DIR --before /path/to/old/checkout

Results go to ``bench/results/scan-<households>-<date>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_load import FLOOR, warm  # noqa: E402
from bench.machine import machine_info  # noqa: E402
from bench.rss import TreeRss  # noqa: E402

#: other settings for the rescan (a longer grace period, a higher payroll threshold)
RESCAN_SETTINGS = {"aid.deceased_recipient": {"grace_days": 60}}


def _timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None,
           timeout: float | None = None) -> dict:  # fmt: skip
    """Run ``cmd``; wall seconds, peak RSS (MiB) and exit status from ``wait4``.

    Past ``timeout`` seconds the command is stopped; a command stopped so or killed (out of
    memory) returns ``timed_out`` or ``killed_by_signal`` with the
    last lines it wrote to stderr (a scan's progress lines: where it was).
    """
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        tree = TreeRss(proc.pid)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if timeout is not None and time.perf_counter() - t0 > timeout:
                timed_out = True
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.2)
        proc.returncode = os.waitstatus_to_exitcode(status)
        secs = time.perf_counter() - t0
        tree_mb = round(tree.stop())
        pss_mb = round(tree.peak_pss_mb)
        err.seek(0)
        tail = err.read()[-8000:].decode(errors="replace")
        if timed_out or proc.returncode < 0:  # stopped here, or killed (e.g. out of memory)
            return {"seconds": secs, "rss_mb": usage.ru_maxrss / 1024, "tree_rss_mb": tree_mb,
                    "tree_pss_mb": pss_mb, "timed_out": timed_out,
                    "killed_by_signal": -proc.returncode if proc.returncode < 0 else None,
                    "stderr_tail": tail.splitlines()[-40:]}  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[:4]} failed ({proc.returncode}): {tail}")
        out.seek(0)
        stdout = out.read().decode()
    return {
        "seconds": secs,
        "rss_mb": usage.ru_maxrss / 1024,
        "tree_rss_mb": tree_mb,
        "tree_pss_mb": pss_mb,
        "stdout": stdout,
    }


def floor(dataset: Path) -> dict:
    r = _timed([sys.executable, "-c", FLOOR, str(dataset)], ROOT)
    doc = json.loads(r["stdout"].strip().splitlines()[-1])
    return {"seconds": doc["seconds"], "rss_mb": doc["rss_mb"], "rows": doc["rows"]}


def scan(tree: Path, dataset: Path, out: Path, workspace: Path | None,
         settings: Path | None = None, timeout: float | None = None,
         fresh: bool = False) -> dict:  # fmt: skip
    cmd = [sys.executable, "-m", "api.cli.main", "scan", str(dataset), "--out", str(out),
           "--no-report", "--as-of", "2024-06-30"] + (["--fresh"] if fresh else [])  # fmt: skip
    if workspace is not None:
        cmd += ["--workspace", str(workspace)]
    if settings is not None:
        cmd += ["--settings", str(settings)]
    env = {**os.environ, "PYTHONPATH": str(tree), "RISKGRAPH_STORE": "memory"}
    r = _timed(cmd, tree, env, timeout)
    if "stderr_tail" in r:  # did not finish
        return {k: r[k] for k in ("seconds", "rss_mb", "tree_rss_mb", "tree_pss_mb", "timed_out",
                                  "killed_by_signal", "stderr_tail")}  # fmt: skip
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    t = summary.get("timings", {})
    stages = t.get("load_stages", {})
    return {
        "seconds": r["seconds"], "rss_mb": r["rss_mb"], "tree_rss_mb": r["tree_rss_mb"],
        "tree_pss_mb": r["tree_pss_mb"], "load": t.get("load"), "staging": stages.get("staging"), "build": stages.get("build"),
        "detect": t.get("detect"), "write": t.get("write"),
        "rows": sum(c.get("read", 0) for c in (summary.get("load") or {}).values()),
        "flags": summary.get("flags_total"),
        "loaded_files": len((summary.get("workspace") or {}).get("loaded_files", [])),
        "reused_detectors": len(summary.get("reused") or {}),
        "detectors": t.get("detectors", {}),
    }  # fmt: skip


def _median(runs: list[dict], key: str) -> float | None:
    vals = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(vals), 2) if vals else None


def _summary(runs: list[dict]) -> dict:
    out = {k: _median(runs, k) for k in ("seconds", "load", "staging", "build", "detect", "write")}
    out["peak_rss_mb"] = round(max(r["rss_mb"] for r in runs))
    # the scan and its staging workers together, sampled every 0.2 s (bench/rss.py)
    out["peak_tree_rss_mb"] = round(max(r.get("tree_rss_mb") or 0 for r in runs))
    # what the tree really holds: forked detector workers share the scan's tables, which the sum
    # of resident sets counts once per process (bench/rss.py)
    out["peak_tree_pss_mb"] = round(max(r.get("tree_pss_mb") or 0 for r in runs))
    out["not_finished"] = sum("stderr_tail" in r for r in runs)
    out["runs"] = [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()
                    if k != "detectors"} for r in runs]  # fmt: skip
    det = runs[0].get("detectors") or {}
    if det:
        out["detectors_first_run"] = det
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--households", type=int, default=100_000)
    ap.add_argument("--dataset", type=Path, default=None, help="default DATA_ROOT/synth-<N>")
    ap.add_argument("--data-root", type=Path, default=Path(tempfile.gettempdir()),
                    help="where generated datasets are kept between runs (not the repository)")  # fmt: skip
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--before", type=Path, default=None, help="another source tree to time")
    ap.add_argument("--work", type=Path, default=None, help="scratch directory (default: temp)")
    ap.add_argument("--no-floor", action="store_true")
    ap.add_argument("--timeout", type=float, default=None,
                    help="stop a scan after this many seconds and record where it was")  # fmt: skip
    ap.add_argument("--note", default=None, help="recorded with the result (e.g. who else ran)")
    args = ap.parse_args()
    dataset = args.dataset or args.data_root / f"synth-{args.households}"
    generated = None
    if not dataset.exists():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "api.cli.main", "synth", str(dataset),
                        "--households", str(args.households)], cwd=ROOT, check=True)  # fmt: skip
        generated = round(time.perf_counter() - t0, 1)
    size = sum(p.stat().st_size for p in dataset.rglob("*") if p.is_file())
    work = Path(tempfile.mkdtemp(prefix="bench-scan-", dir=args.work))
    settings = work / "rescan.json"
    settings.write_text(json.dumps(RESCAN_SETTINGS), "utf-8")
    load_before = os.getloadavg()
    floors, scans, rescans, fresh, befores = [], [], [], [], []
    try:
        for i in range(args.repeats):
            warm(dataset)
            if not args.no_floor:
                floors.append(floor(dataset))
                print(f"floor   {floors[-1]['seconds']:.1f}s", flush=True)
            ws = work / f"ws{i}"
            scans.append(scan(ROOT, dataset, work / f"out{i}", ws, timeout=args.timeout))
            print(f"scan    {scans[-1]['seconds']:.1f}s  rss {scans[-1]['rss_mb']:.0f} MiB"
                  f" (with workers {scans[-1]['tree_rss_mb']:.0f} MiB resident, "
                  f"{scans[-1]['tree_pss_mb']:.0f} MiB proportional)", flush=True)  # fmt: skip
            if "stderr_tail" in scans[-1]:
                print("scan did not finish:", *scans[-1]["stderr_tail"][-3:], sep="\n")
                break
            rescans.append(scan(ROOT, dataset, work / f"re{i}", ws, settings))
            print(
                f"rescan  {rescans[-1]['seconds']:.1f}s  rss {rescans[-1]['rss_mb']:.0f} MiB"
                f"  ({rescans[-1].get('reused_detectors')} detectors reused)",
                flush=True,
            )
            fresh.append(scan(ROOT, dataset, work / f"fr{i}", ws, fresh=True))
            print(f"rescan, every detector  {fresh[-1]['seconds']:.1f}s  "
                  f"rss {fresh[-1]['rss_mb']:.0f} MiB", flush=True)  # fmt: skip
            shutil.rmtree(ws, ignore_errors=True)
            if args.before is not None:
                befores.append(scan(args.before, dataset, work / f"before{i}", work / f"wsb{i}"))
                print(f"before  {befores[-1]['seconds']:.1f}s", flush=True)
                shutil.rmtree(work / f"wsb{i}", ignore_errors=True)
    finally:
        load_after = os.getloadavg()
    rows = scans[0].get("rows")
    result: dict = {
        "benchmark": "scan",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "households": args.households if args.dataset is None else None,
        "dataset": str(dataset),
        "dataset_bytes": size,
        "input_rows": rows,
        "generate_seconds": generated,
        "load_average_before_after": [list(load_before), list(load_after)],
        "scan": _summary(scans),
        "rescan_other_settings": _summary(rescans) if rescans else None,
        "rescan_every_detector": _summary(fresh) if fresh else None,
        "timeout_seconds": args.timeout,
        "note": args.note,
        "target": {"scan_seconds": 300, "peak_rss_mb": 12 * 1024, "rescan_seconds": 60},
        "machine": machine_info(["pandas", "pyarrow", "numpy", "duckdb", "igraph"]),
    }
    if floors:
        f = statistics.median(x["seconds"] for x in floors)
        frows = floors[0]["rows"]
        result["floor_pyarrow"] = {"median_seconds": round(f, 2), "rows": frows,
                                   "rows_per_s": round(frows / f),
                                   "peak_rss_mb": round(max(x["rss_mb"] for x in floors)),
                                   "runs": [round(x["seconds"], 2) for x in floors]}  # fmt: skip
        if result["scan"]["load"] is not None:
            result["ratio_scan_load_over_floor"] = round(result["scan"]["load"] / f, 2)
            result["ratio_scan_over_floor"] = round(result["scan"]["seconds"] / f, 2)
    if befores:
        result["before"] = _summary(befores)
        result["before_tree"] = str(args.before)
    name = f"scan-{args.households if args.dataset is None else dataset.name}-{dt.date.today()}"
    path = ROOT / "bench" / "results" / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n", "utf-8")
    shutil.rmtree(work, ignore_errors=True)
    keys = ("scan", "rescan_other_settings", "rescan_every_detector")
    print(json.dumps({k: result[k] for k in keys}, default=str)[:3000])
    print(f"written to {path}")


if __name__ == "__main__":
    main()
