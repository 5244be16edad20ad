"""Readers: every physical line accounted for, no record built from two rows, kernels = rules."""

from __future__ import annotations

import csv
import io
import re

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph_models.errors import DataError
from loaders.contract import CONTRACT
from loaders.csv_reader import read_csv_bytes
from loaders.headers import find_header, match_header
from loaders.limits import ReadLimits
from loaders.sheet_reader import check_xlsx_extent


def _physical_lines(data: bytes) -> int:
    text = data.decode("utf-8-sig")
    if not text:
        return 0
    parts = re.split(r"\r\n|\n|\r", text)
    return len(parts) - (1 if parts[-1] == "" else 0)


def _accounted(f) -> int:
    above = sum(1 for s in f.skipped if s.line < f.header_line)
    return (
        f.header_line + len(f.skipped) - above + f.data.num_rows + f.continuation + len(f.rejects)
    )


def _first_row(rows):
    return 0


# junk that breaks CSVs: quotes, separators, line breaks, blanks, CJK
_junk = st.text(alphabet=st.sampled_from(list('a,"\n\r \t　合计x')), max_size=6)
# what a clerk's hand adds to one line: stray quotes, but no separators or line breaks
_stray = st.text(alphabet=st.sampled_from(list('a" 　合x')), max_size=4)


def _tags_per_record(f) -> list[set[str]]:
    out = []
    for k in range(f.data.num_rows):
        tags: set[str] = set()
        for c in ("c0", "c1", "c2"):
            tags.update(re.findall(r"<(\d+)>", f.data.column(c)[k].as_py()))
        out.append(tags)
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(_junk, min_size=3, max_size=3), min_size=1, max_size=12))
def test_written_csv_every_line_accounted_and_no_record_mixes_rows(rows):
    # every cell carries its row's tag; the junk around it is quoted as a CSV writer does
    tagged = [[f"{c[:2]}<{i}>{c[2:]}" for c in r] for i, r in enumerate(rows)]
    buf = io.StringIO()
    csv.writer(buf).writerows([["h0", "h1", "h2"], *tagged])
    data = buf.getvalue().encode("utf-8")
    f = read_csv_bytes(data, _first_row)
    assert f.lines == _physical_lines(data)
    assert _accounted(f) == f.lines
    assert all(len(t) <= 1 for t in _tags_per_record(f))
    # a row spanning lines is only told from stray quotes by its commas: where no row that spans
    # lines has a comma inside a cell, a well-formed file comes back whole (but blank and totals
    # rows, skipped); otherwise a row may be refused as unbalanced_quote, never joined wrongly
    plain = all(
        not any("," in c for c in r) for r in tagged if any(re.search("[\r\n]", c) for c in r)
    )
    if plain:
        assert f.data.num_rows + len(f.skipped) == len(rows)
        assert not f.rejects


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(_stray, min_size=3, max_size=3), min_size=1, max_size=15))
def test_stray_quotes_never_join_rows(rows):
    tagged = [[f"{c[:1]}<{i}>{c[1:]}" for c in r] for i, r in enumerate(rows)]
    data = ("h0,h1,h2\n" + "".join(",".join(r) + "\n" for r in tagged)).encode()
    f = read_csv_bytes(data, _first_row)
    assert _accounted(f) == f.lines == len(rows) + 1
    assert all(len(t) == 1 for t in _tags_per_record(f))
    assert f.continuation == 0
    assert {r.reason for r in f.rejects} <= {"unbalanced_quote", "bad_row_shape"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(_junk, min_size=3, max_size=3), min_size=1, max_size=12))
def test_hand_written_csv_every_line_accounted(rows):
    text = "h0,h1,h2\n" + "\n".join(",".join(r) for r in rows) + "\n"
    data = text.encode("utf-8")
    f = read_csv_bytes(data, _first_row)
    assert f.lines == _physical_lines(data)
    assert _accounted(f) == f.lines
    for rec in f.data.to_pylist():  # every record is one well-formed CSV record
        assert all(isinstance(rec[c], str) for c in ("c0", "c1", "c2"))


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_any_bytes_are_read_or_refused(data):
    try:
        f = read_csv_bytes(data, _first_row, ReadLimits(max_line_bytes=10_000))
    except DataError as e:
        assert e.code in ("unreadable_file", "limit_exceeded")
        return
    text = data.decode("utf-8-sig") if data.startswith(b"\xef\xbb\xbf") else None
    if text is not None or f.encoding == "utf-8":
        assert f.lines == _physical_lines(data)
    assert _accounted(f) == f.lines


def test_stray_quote_rejects_one_line_and_reading_resumes():
    body = "".join(f"P{i},x,{i}\n" for i in range(1000))
    data = ("id,name,n\n" + 'P-1,"broken,5\n' + body).encode()
    f = read_csv_bytes(data, _first_row)
    assert [(r.line, r.reason) for r in f.rejects] == [(2, "unbalanced_quote")]
    assert f.data.num_rows == 1000 and f.data.column("_line")[0].as_py() == 3


def test_quoted_newline_is_one_record_spanning_lines():
    data = b'id,addr,n\n1,"line one\nline two",5\n2,b,6\n'
    f = read_csv_bytes(data, _first_row)
    assert f.data.column("c1").to_pylist() == ["line one\nline two", "b"]
    assert f.data.column("_line").to_pylist() == [2, 4] and f.continuation == 1


def test_hostile_csv_is_refused_at_the_header():
    data = ("," * 10_000 + "x\n").encode()
    with pytest.raises(DataError) as e:
        read_csv_bytes(data, _first_row)
    assert e.value.code == "limit_exceeded" and "max_columns" in e.value.message


def test_xlsx_extent_checked_before_loading(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = "x"
    wb.active["B1048576"] = "y"
    wb.save(tmp_path / "tall.xlsx")
    with pytest.raises(DataError) as e:
        check_xlsx_extent(tmp_path / "tall.xlsx", ReadLimits(max_rows=1000))
    assert e.value.code == "limit_exceeded"


def test_header_found_below_title_rows_and_annotations_matched():
    spec = CONTRACT["households"]
    rows = [["2024年某县脱贫户名册"], ["单位：元"], ["户编号", "户主身份证号（18位）", "区划代码 "]]
    assert find_header(rows, spec, {}) == 2
    assert match_header("人均纯收入（万元）", spec, {}) == ("income_per_capita", 10_000)
    assert match_header("企业（含金融机构）", CONTRACT["enterprises"], {}) == (None, None)


def test_documented_limits_are_the_defaults():
    from dataclasses import fields
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "data-contract.md").read_text("utf-8")
    documented = {
        name: int(value.replace(",", ""))
        for name, value in re.findall(r"^\| `(max_\w+)` \| ([\d,]+)", doc, re.M)
    }
    documented["max_line_bytes"] = 1 << 20  # written as "1 MiB"
    assert documented == {f.name: f.default for f in fields(ReadLimits)}


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rows=st.lists(st.lists(_junk, min_size=3, max_size=3), min_size=0, max_size=15),
       block=st.integers(1, 64), encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
       written=st.booleans())  # fmt: skip
def test_block_by_block_reading_equals_whole_file_reading(tmp_path, rows, block, encoding, written):
    from loaders.csv_reader import iter_csv

    if written:
        buf = io.StringIO()
        csv.writer(buf).writerows([["h0", "h1", "h2"], *rows])
        text = buf.getvalue()
    else:
        text = "h0,h1,h2\n" + "\n".join(",".join(r) for r in rows) + "\n"
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode(encoding))
    whole = read_csv_bytes(path.read_bytes(), _first_row)
    blocks = list(iter_csv(path, _first_row, block_bytes=block))
    assert sum(b.lines for b in blocks) == whole.lines
    assert sum(b.continuation for b in blocks) == whole.continuation
    assert [r for b in blocks for r in b.rejects] == whole.rejects
    assert [s for b in blocks for s in b.skipped] == whole.skipped
    got = pa.concat_tables([b.data for b in blocks if b.data.num_columns == whole.data.num_columns])
    assert got.to_pylist() == whole.data.to_pylist()
    assert blocks[0].header_line == whole.header_line and blocks[0].header == whole.header
