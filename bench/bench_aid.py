"""Benchmark of the poverty-aid engine: every ``aid.*`` detector over a million-household store.

Usage::

    .venv/bin/python bench/bench_aid.py                        # 100,000 households
    .venv/bin/python bench/bench_aid.py --households 1000000   # the target size
    .venv/bin/python bench/bench_aid.py --micro                # join-engine micro-benchmark only

What runs
---------
1. **Synthetic registers**, seeded, built as store frames directly (no loaders): households of
   1-5 persons in villages of ~60 households, 10 quarterly payments per household over 2020-2022
   into the head's account, one or two approving clerks per village, and the other registers scaled with
   the households: deaths (1 % of persons), payroll (0.5 %), prison terms (0.2 %), vehicles
   (2 %), properties (3 %, a third commercial), business registrations (1 %), resident medical
   insurance for every person (0.1 % enrolled twice), kinship (one edge per member plus 0.5 %
   cross-household siblings), three officials per village, quarantined rows (0.05 %), plus
   planted cases (shared accounts, rings, unregistered recipients). Relationship types no aid
   detector reads (PAID_TO, DIED, OWNS_VEHICLE ...) are left out.
2. **ours**: all eleven aid detectors through ``run_detectors`` on the MemoryStore, evidence and
   explanations included; time per detector, total, and peak RSS during the scan (sampled every
   0.1 s) as well as the process peak.
3. **pandas baseline**, same run, same frames: the cross-matches written the obvious way
   (``merge`` + filter for deaths, prison and payroll, ``isin`` anti-join for the roster,
   ``groupby().nunique()`` for shared accounts and duplicates), without evidence or flags.
4. **micro** (``--micro``, and always at the default size): 1M x 1M inner join and semi-join on
   an 18-character resident ID and a shared-phone self-join in pandas, DuckDB and Polars (when
   installed), medians of ``--repeats``. This is the measurement that chose DuckDB for
   ``engine/crossmatch.py``.

Results go to ``bench/results/aid-<date>.json``; a summary is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import machine_info, peak_rss_mb
from engine.runner import run_detectors
from graph_models.memory_store import MemoryStore

AID = [
    "aid.deceased_recipient", "aid.public_payroll", "aid.asset_mismatch", "aid.duplicate_benefit",
    "aid.shared_account", "aid.official_relative", "aid.paid_in_prison", "aid.not_registered",
    "aid.invalid_identity", "aid.fraud_ring", "aid.anomaly",
]  # fmt: skip
AS_OF = dt.date(2024, 1, 1)
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_CHECK = np.array(list("10X98765432"))
EPOCH = np.datetime64("2020-01-01")


class RssSampler:
    """Peak RSS of this process while a block runs (sampled, MiB)."""

    def __init__(self, every: float = 0.1) -> None:
        self.every = every
        self.peak = 0.0
        self._stop = threading.Event()
        self._proc = psutil.Process()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss / 2**20)
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def person_ids(regions: np.ndarray, serial: np.ndarray) -> np.ndarray:
    """Valid, unique 18-character resident IDs: region + birth date + sequence + GB 11643 check."""
    birth = np.datetime64("1940-01-01") + (serial // 1000).astype("timedelta64[D]")
    birth_s = np.char.replace(np.datetime_as_string(birth, unit="D").astype("U10"), "-", "")
    seq = np.char.zfill((serial % 1000).astype("U3"), 3)
    body = np.char.add(np.char.add(regions.astype("U6"), birth_s), seq)
    digits = np.frombuffer(body.astype("S17").tobytes(), dtype=np.uint8).reshape(-1, 17) - 48
    check = _CHECK[(digits.astype(np.int64) @ _WEIGHTS) % 11]
    return np.char.add(body, check)


def dates(rng: np.random.Generator, n: int, lo: int = 0, hi: int = 1095) -> np.ndarray:
    return np.datetime_as_string(EPOCH + rng.integers(lo, hi, n).astype("timedelta64[D]"), unit="D")


def prov(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    return frame.assign(_table=table, _line=np.arange(2, len(frame) + 2), _batch="bench")


def rel(src, src_label, dst, dst_label, table, **props) -> pd.DataFrame:
    f = pd.DataFrame(
        {"src": src, "src_label": src_label, "dst": dst, "dst_label": dst_label, **props}
    )
    f["id"] = (
        f["src"].astype(str) + "|" + f["dst"].astype(str) + "|" + np.arange(len(f)).astype(str)
    )
    return prov(f, table)


def generate(n_households: int, seed: int = 1) -> dict[str, dict[str, pd.DataFrame]]:
    """Store frames for ``n_households`` households (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n_villages = max(2, n_households // 60)
    n_counties = int(np.clip(round(np.sqrt(n_households) / 25), 3, 120))
    county_codes = np.array([f"41{1000 + 17 * i:04d}" for i in range(n_counties)])
    village_county = rng.integers(0, n_counties, n_villages)
    hh_village = np.sort(rng.integers(0, n_villages, n_households))
    hh_county = village_county[hh_village]
    hh_ids = np.char.add("H", np.arange(n_households).astype("U8"))
    village_names = np.char.add("村", np.arange(n_villages).astype("U6"))

    size = rng.integers(1, 6, n_households)
    n_persons = int(size.sum())
    p_hh = np.repeat(np.arange(n_households), size)
    first = np.concatenate([[0], np.cumsum(size)[:-1]])
    rank = np.arange(n_persons) - np.repeat(first, size)
    pids = person_ids(county_codes[hh_county[p_hh]], np.arange(n_persons))
    relation = np.where(rank == 0, "head", np.where(rank == 1, "spouse", "child"))
    heads = pids[first]
    phones = np.where(
        rng.random(n_persons) < 0.7,
        np.char.add("13", np.char.zfill(rng.integers(0, 10**9, n_persons).astype("U9"), 9)),
        None,
    )

    households = prov(
        pd.DataFrame(
            {
                "id": hh_ids, "head_id": heads, "region_code": county_codes[hh_county],
                "village": village_names[hh_village],
                "enrolled_date": dates(rng, n_households, -1500, -300),
                "status": np.where(rng.random(n_households) < 0.3, "exited", "enrolled"),
                "income_per_capita": rng.gamma(6.0, 700.0, n_households).round(0),
            }
        ),
        "households",
    )  # fmt: skip
    persons = prov(
        pd.DataFrame(
            {
                "id": pids,
                "name": np.char.add("人", np.arange(n_persons).astype("U8")),
                "phone": phones,
            }
        ),
        "persons",
    )

    # payments: ~10 per household to its head, into its account, approved by the village clerk
    n_pay = n_households * 10
    pay_hh = np.repeat(np.arange(n_households), 10)
    offsets = rng.integers(0, 120, n_households)[pay_hh] + np.tile(np.arange(10) * 91, n_households)
    accounts = np.char.add("62220202", np.char.zfill(np.arange(n_households).astype("U11"), 11))
    pay_account = accounts[pay_hh]
    clerks = person_ids(county_codes[village_county], 900_000_000 + np.arange(n_villages))
    clerks2 = person_ids(county_codes[village_county], 950_000_000 + np.arange(n_villages))
    approver = np.where(
        rng.random(n_pay) < 0.8, clerks[hh_village[pay_hh]], clerks2[hh_village[pay_hh]]
    )
    recipient = heads[pay_hh].copy()
    # planted: 0.2 % of payments to people on no roster, 0.05 % into a broker's account
    outsiders = rng.random(n_pay) < 0.002
    recipient[outsiders] = person_ids(
        county_codes[hh_county[pay_hh[outsiders]]], 990_000_000 + np.arange(outsiders.sum())
    )
    brokered = rng.random(n_pay) < 0.0005
    pay_account[brokered] = accounts[rng.integers(0, 50, brokered.sum())]
    payments = prov(
        pd.DataFrame(
            {
                "id": np.char.add("P", np.arange(n_pay).astype("U9")),
                "program": rng.choice(["低保", "产业奖补", "教育资助", "健康扶贫"], n_pay, p=[0.6, 0.2, 0.1, 0.1]),
                "recipient_id": recipient, "household_id": hh_ids[pay_hh], "account_no": pay_account,
                "amount": rng.integers(200, 1500, n_pay).astype(float),
                "paid_date": np.datetime_as_string(EPOCH + offsets.astype("timedelta64[D]"), unit="D"),
                "region_code": county_codes[hh_county[pay_hh]],
                "approver_id": approver,
            }
        ),
        "aid_payments",
    )  # fmt: skip

    def sample(frac: float) -> np.ndarray:
        return rng.choice(n_persons, max(1, int(n_persons * frac)), replace=False)

    dead = sample(0.01)
    prison = sample(0.002)
    payroll = sample(0.005)
    cars = sample(0.02)
    houses = sample(0.03)
    firms = sample(0.01)
    nodes = {
        "Household": households,
        "Person": persons,
        "Payment": payments,
        "Account": prov(pd.DataFrame({"id": accounts, "holder_id": heads}), "bank_accounts"),
        "DeathRecord": prov(pd.DataFrame({"id": np.char.add("D", dead.astype("U9")), "person_id": pids[dead], "death_date": dates(rng, len(dead)), "source": "civil_affairs"}), "deaths"),
        "PrisonTerm": prov(pd.DataFrame({"id": np.char.add("T", prison.astype("U9")), "person_id": pids[prison], "start_date": dates(rng, len(prison)), "end_date": dates(rng, len(prison), 600, 1400)}), "prisoners"),
        "PayrollRecord": prov(pd.DataFrame({"id": np.char.add("R", payroll.astype("U9")), "person_id": pids[payroll], "position": "科员", "monthly_salary": 4000.0, "start_date": dates(rng, len(payroll), -2000, 900), "end_date": np.where(rng.random(len(payroll)) < 0.5, dates(rng, len(payroll), 900, 1400), None)}), "payroll"),
        "Vehicle": prov(pd.DataFrame({"id": np.char.add("豫A", cars.astype("U9")), "owner_id": pids[cars], "vehicle_type": rng.choice(["小型轿车", "摩托车"], len(cars)), "registered_date": dates(rng, len(cars), -2000, 1400)}), "vehicles"),
        "Property": prov(pd.DataFrame({"id": np.char.add("房", houses.astype("U9")), "owner_id": pids[houses], "property_type": rng.choice(["commercial", "self_built", "self_built"], len(houses)), "registered_date": dates(rng, len(houses), -3000, 1400)}), "properties"),
        "RejectedRow": pd.DataFrame({"id": np.char.add("persons:", np.arange(n_persons // 2000).astype("U9")), "table": "persons", "line": np.arange(n_persons // 2000) + 2, "reason": "bad_checksum", "column": "person_id", "raw_value": np.char.add(pids[: n_persons // 2000], "9"), "raw": "{}"}),
    }  # fmt: skip
    kin_other = sample(0.005)
    officials = rng.integers(0, n_persons, 3 * n_villages)
    dup_ins = sample(0.001)
    rels = {
        "HEADED_BY": rel(hh_ids, "Household", heads, "Person", "households"),
        "MEMBER_OF": rel(pids, "Person", hh_ids[p_hh], "Household", "persons", relation=relation),
        "HOLDS_ACCOUNT": rel(heads, "Person", accounts, "Account", "bank_accounts"),
        "KIN": rel(
            np.concatenate([pids[rank > 0], pids[kin_other]]), "Person",
            np.concatenate([heads[p_hh[rank > 0]], pids[rng.integers(0, n_persons, len(kin_other))]]),
            "Person", "kinship", relation="other",
        ),
        "HOLDS_OFFICE": rel(pids[officials], "Person", county_codes[hh_county[p_hh[officials]]], "Region", "officials", position="村委委员", village=village_names[hh_village[p_hh[officials]]]),
        "INSURED": rel(
            np.concatenate([pids, pids[dup_ins]]), "Person",
            np.concatenate([county_codes[hh_county[p_hh]], county_codes[(hh_county[p_hh[dup_ins]] + 1) % n_counties]]),
            "Region", "social_insurance", scheme="resident_medical",
        ),
        "REGISTERED_BUSINESS": rel(pids[firms], "Person", np.char.add("92410000MA", np.char.zfill(firms.astype("U8"), 8)), "Enterprise", "business_registrations", role="sole_proprietor", registered_date=dates(rng, len(firms), -2000, 1400)),
    }  # fmt: skip
    return {"nodes": nodes, "relationships": rels}


def fill_store(frames: dict[str, dict[str, pd.DataFrame]]) -> MemoryStore:
    store = MemoryStore()
    for label, frame in frames["nodes"].items():
        store.upsert_nodes(label, frame)
    for rtype, frame in frames["relationships"].items():
        store.upsert_relationships(rtype, frame)
    return store


def pandas_baseline(frames: dict[str, dict[str, pd.DataFrame]], as_of: dt.date) -> dict[str, float]:
    """The same cross-matches written the obvious way in pandas (no evidence, no flags)."""
    nodes, rels = frames["nodes"], frames["relationships"]
    pay = nodes["Payment"].assign(paid=lambda f: pd.to_datetime(f["paid_date"]))
    out: dict[str, float] = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        n = fn()
        out[name] = round(time.perf_counter() - t0, 3)
        out[name + ":rows"] = int(n)

    def deceased():
        d = nodes["DeathRecord"].assign(died=lambda f: pd.to_datetime(f["death_date"]))
        m = pay.merge(d[["person_id", "died"]], left_on="recipient_id", right_on="person_id")
        return (m["paid"] > m["died"] + pd.Timedelta(days=31)).sum()

    def prison():
        t = nodes["PrisonTerm"].assign(
            s=lambda f: pd.to_datetime(f["start_date"]),
            e=lambda f: pd.to_datetime(f["end_date"]).fillna(pd.Timestamp(as_of)),
        )
        m = pay.merge(t[["person_id", "s", "e"]], left_on="recipient_id", right_on="person_id")
        return ((m["paid"] >= m["s"]) & (m["paid"] <= m["e"])).sum()

    def payroll():
        roster = rels["MEMBER_OF"][["src", "dst"]].rename(
            columns={"src": "person_id", "dst": "household_id"}
        )
        p = nodes["PayrollRecord"].merge(roster, on="person_id")
        p = p.assign(
            s=pd.to_datetime(p["start_date"]),
            e=pd.to_datetime(p["end_date"]).fillna(pd.Timestamp(as_of)),
        )
        m = pay.merge(p[["household_id", "s", "e"]], on="household_id")
        return ((m["paid"] >= m["s"]) & (m["paid"] <= m["e"])).sum()

    def not_registered():
        roster = pd.concat([rels["MEMBER_OF"]["src"], nodes["Household"]["head_id"]])
        return (~pay["recipient_id"].isin(roster)).sum()

    def shared_account():
        n = pay.groupby("account_no")["household_id"].nunique()
        return (n >= 3).sum()

    def duplicates():
        g = pay.groupby(["recipient_id", "program"]).agg(
            hh=("household_id", "nunique"), counties=("region_code", "nunique")
        )
        month = (
            pay.assign(m=pay["paid"].dt.to_period("M"))
            .groupby(["recipient_id", "program", "m"])
            .size()
        )
        return ((g["hh"] >= 2) | (g["counties"] >= 2)).sum() + (month >= 2).sum()

    for name, fn in [("deceased", deceased), ("prison", prison), ("payroll", payroll),
                     ("not_registered", not_registered), ("shared_account", shared_account),
                     ("duplicates", duplicates)]:  # fmt: skip
        timed(name, fn)
    out["total"] = round(sum(v for k, v in out.items() if ":" not in k), 3)
    return out


def micro(n: int, repeats: int) -> dict[str, float]:
    """1M x 1M joins on an 18-character ID and a shared-phone self-join: pandas, DuckDB, Polars."""
    import duckdb

    rng = np.random.default_rng(0)
    ids = person_ids(np.full(2 * n, "410822"), rng.permutation(2 * n))
    a = pd.DataFrame({"k": pd.Series(ids[:n], dtype="str"), "x": rng.random(n)})
    b_keys = np.concatenate([ids[: n // 2], ids[n : n + n // 2]])
    b = pd.DataFrame({"k": pd.Series(b_keys, dtype="str"), "y": rng.random(n)})
    ph = pd.DataFrame(
        {
            "h": np.arange(n),
            "p": pd.Series(rng.integers(0, int(n * 0.9), n).astype(str), dtype="str"),
        }
    )
    con = duckdb.connect()
    for name, frame in (("a", a), ("b", b), ("ph", ph)):
        con.register(name, frame)
    cases = {
        "join:pandas_merge": lambda: a.merge(b, on="k"),
        "join:duckdb": lambda: con.sql("SELECT * FROM a JOIN b USING (k)").df(),
        "semijoin:pandas_isin": lambda: a[a["k"].isin(b["k"])],
        "semijoin:pandas_isin_object": lambda: a[a["k"].astype(object).isin(b["k"].astype(object))],
        "semijoin:duckdb": lambda: con.sql("SELECT * FROM a SEMI JOIN b USING (k)").df(),
        "selfjoin:pandas": lambda: (lambda m: m[m["h_x"] < m["h_y"]])(ph.merge(ph, on="p")),
        "selfjoin:duckdb": lambda: con.sql(
            "SELECT x.h, y.h FROM ph x JOIN ph y ON x.p = y.p AND x.h < y.h"
        ).df(),
    }
    try:
        import polars as pl

        cases["join:polars"] = lambda: pl.from_pandas(a).join(pl.from_pandas(b), on="k").to_pandas()
        cases["semijoin:polars"] = lambda: (
            pl.from_pandas(a).join(pl.from_pandas(b), on="k", how="semi").to_pandas()
        )
        cases["selfjoin:polars"] = lambda: (
            lambda p: p.join(p, on="p").filter(pl.col("h") < pl.col("h_right")).to_pandas()
        )(pl.from_pandas(ph))
    except ImportError:
        pass
    out = {}
    for name, fn in cases.items():
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out[name] = round(statistics.median(times), 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--households", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=1, help="scan repeats (median reported)")
    ap.add_argument("--micro", action="store_true", help="only the join-engine micro-benchmark")
    ap.add_argument("--micro-rows", type=int, default=1_000_000)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    result: dict = {
        "benchmark": "aid",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine_info(
            ("pandas", "pyarrow", "numpy", "duckdb", "polars", "igraph", "scikit-learn")
        ),
    }
    if args.micro or args.households <= 100_000:
        result["micro"] = {
            "rows": args.micro_rows,
            "repeats": 3,
            "seconds": micro(args.micro_rows, 3),
        }
        print(json.dumps(result["micro"], indent=1))
    if not args.micro:
        t0 = time.perf_counter()
        frames = generate(args.households)
        store = fill_store(frames)
        gen = time.perf_counter() - t0
        sizes = {k: len(v) for part in frames.values() for k, v in part.items()}
        print(f"generated in {gen:.1f}s: {sizes}", flush=True)
        runs = []
        for _ in range(args.repeats):
            gc.collect()
            with RssSampler() as rss:
                t0 = time.perf_counter()
                scan = run_detectors(store, only=AID, as_of=AS_OF)
                seconds = time.perf_counter() - t0
            runs.append({"seconds": round(seconds, 2), "peak_rss_mb": round(rss.peak, 1),
                         "timings": scan.timings, "skipped": scan.skipped})  # fmt: skip
            print(
                f"scan: {seconds:.1f}s, peak RSS {rss.peak:.0f} MiB, {len(scan.flags)} flags",
                flush=True,
            )
        flags: dict[str, int] = {}
        for f in scan.flags:
            flags[f.detector] = flags.get(f.detector, 0) + 1
        del scan
        result["scan"] = {
            "households": args.households,
            "rows": sizes,
            "generate_seconds": round(gen, 1),
            "seconds_median": statistics.median(r["seconds"] for r in runs),
            "peak_rss_mb_scan": max(r["peak_rss_mb"] for r in runs),
            "runs": runs,
            "flags": flags,
            "target": {"seconds": 300, "rss_mb": 12 * 1024},
        }
        if not args.no_baseline:
            result["pandas_baseline"] = pandas_baseline(frames, AS_OF)
            ours = {k: runs[0]["timings"].get(v, 0.0) for k, v in [
                ("deceased", "aid.deceased_recipient"), ("prison", "aid.paid_in_prison"),
                ("payroll", "aid.public_payroll"), ("not_registered", "aid.not_registered"),
                ("shared_account", "aid.shared_account"), ("duplicates", "aid.duplicate_benefit")]}  # fmt: skip
            result["same_crossmatches_ours_with_evidence"] = {
                **ours,
                "total": round(sum(ours.values()), 3),
            }
            print("pandas baseline:", result["pandas_baseline"])
            print(
                "ours (same detectors, with flags and evidence):",
                result["same_crossmatches_ours_with_evidence"],
            )
        result["process_peak_rss_mb"] = peak_rss_mb()
        print(
            json.dumps(
                {k: result["scan"][k] for k in ("seconds_median", "peak_rss_mb_scan", "flags")},
                ensure_ascii=False,
            )
        )
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "micro" if args.micro else f"{args.households // 1000}k"
    path = args.out / f"aid-{dt.date.today().isoformat()}-{suffix}.json"
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
