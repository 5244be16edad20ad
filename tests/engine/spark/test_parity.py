"""The fixture cases on both engines: the embedded scan and the Spark scan raise the SAME flags.

Every hand-drawn aid case (fixtures/aid) and debt case (fixtures/debt) is loaded through the real
loaders into a workspace, scanned by the embedded engine (the store's frames, DuckDB) and by Spark
in local mode over the workspace's Parquet tables; the flags must be identical -- ids, subjects,
severities, scores, entities, evidence and explanations. Rings are the exception: their subject
is a community id, so there the Spark flags are checked against the case's planted truth.
"""

from __future__ import annotations

import pytest

from engine.runner import parse_settings, run_detectors
from engine.spark.engine import SparkEngine
from fixtures import aid, debt
from graph_models.memory_store import MemoryStore
from loaders.load import load_dataset

pytestmark = pytest.mark.spark


def _load(write, case, root):
    store = MemoryStore(root / "ws")
    load_dataset(write(case, root / "data"), store)
    store.flush()
    return store


def _both(store, spark, root, **kw):
    embedded = run_detectors(store, **kw)
    engine = SparkEngine(spark, str(root / "ws" / "graph"))
    try:
        on_spark = run_detectors(store, engine=engine, **kw)
    finally:
        engine.close()
    return embedded, on_spark


def _same(embedded, on_spark):
    assert on_spark.skipped == embedded.skipped
    a = [f.to_dict() for f in embedded.flags]
    b = [f.to_dict() for f in on_spark.flags]
    assert [f["flag_id"] for f in b] == [f["flag_id"] for f in a]
    for x, y in zip(a, b, strict=True):
        assert y == x, x["subject"]


@pytest.mark.parametrize("name", aid.case_names())
def test_aid_case_same_flags(name, spark, tmp_path):
    case = aid.load_case(name)
    store = _load(aid.write_dataset, case, tmp_path)
    settings = (
        parse_settings({case["detector"]: case["settings"]}) if case.get("settings") else None
    )
    embedded, on_spark = _both(
        store, spark, tmp_path, settings=settings, only=[case["detector"]], as_of=case["as_of"]
    )
    assert embedded.flags, "the case raises flags"
    if case["detector"] == "aid.fraud_ring":
        from tests.engine.test_aid_fixtures import check_flags

        check_flags(case, on_spark.flags)
        assert len(on_spark.flags) == len(embedded.flags)
    else:
        _same(embedded, on_spark)


@pytest.mark.parametrize("name", debt.case_names())
def test_debt_case_same_flags(name, spark, tmp_path):
    case = debt.load_case(name)
    store = _load(debt.write_dataset, case, tmp_path)
    wanted = {i["detector"] for i in case.get("expect", []) + case.get("near_misses", [])}
    wanted |= set(case.get("exact", []))
    settings = parse_settings(case.get("settings")) if case.get("settings") else None
    embedded, on_spark = _both(
        store, spark, tmp_path, settings=settings, only=sorted(wanted), as_of=case["as_of"]
    )
    assert embedded.flags
    _same(embedded, on_spark)
    debt.check_case(case, on_spark)


def test_detector_without_partition_is_skipped_on_spark_with_its_reason(spark, tmp_path):
    from dataclasses import dataclass

    from engine.registry import detector

    @dataclass(frozen=True)
    class NoSettings:
        pass

    @detector("demo.local_only", title_zh="示例", title_en="Example", subject="household_id",
              reads=("Household",), requires=("Household",), settings=NoSettings,
              register=False)  # fmt: skip
    def local_only(ctx, settings):
        return []

    case = aid.load_case("deceased_recipient")
    store = _load(aid.write_dataset, case, tmp_path)
    engine = SparkEngine(spark, str(tmp_path / "ws" / "graph"))
    result = run_detectors(store, detectors=[local_only.spec], engine=engine)
    assert result.skipped["demo.local_only"].startswith("cannot run on Spark yet")
    assert run_detectors(store, detectors=[local_only.spec]).skipped == {}
