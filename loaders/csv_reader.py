"""Read a CSV file line by physical line: every line is a record, part of one, skipped or rejected.

A CSV parser counts the records it assembled, not the lines of the file: one stray quote at the start
of a field makes it join the following thousand lines into one "record". This reader decides what
each physical line is before any field is split:

1. The bytes are decoded once (UTF-8, UTF-8 with BOM or GB18030, detected) and re-encoded as UTF-8.
2. Line breaks (``\\n``, ``\\r\\n`` or a lone ``\\r``), quotes, commas and blanks are located with
   numpy over the whole buffer; per line: the number of quotes, of field separators outside quotes,
   and whether its quoting is *simple* (every quote opens a field, closes one, or is a doubled
   quote inside one).
3. A line with simple quoting and as many fields as the header is a record. These lines, which are
   nearly all of a real file, are handed to pyarrow's CSV reader in one buffer with
   ``newlines_in_values=False``, so it can never join two lines; the row count it returns is
   checked against the lines given.
4. Every other line is examined in Python: a line that opens a quoted field may join the following
   lines only when the joined text is one well-formed record of the header's width, spans at most
   ``ReadLimits.max_record_lines`` lines, and at most one of its lines would be a complete row on
   its own (as many commas as the header); otherwise the line is rejected as ``unbalanced_quote`` and reading resumes on the next line.
   A line with the wrong number of fields is rejected as ``bad_row_shape`` (empty fields after the
   header's last column, a trailing comma, are not a wrong number: they are dropped).

The result accounts for every physical line: ``lines == header_line + len(skipped) + rows +
continuation + len(rejects) - skipped_above_header`` (see :class:`CsvFile`).

Examples
--------
>>> f = read_csv_bytes(b'id,name\\n1,"a\\nb"\\n2,"c\\n3,d\\n', pick_header=lambda rows: 0)
>>> f.lines, f.data.column("c1").to_pylist(), f.data.column("_line").to_pylist()
(5, ['a\\nb', 'd'], [2, 5])
>>> [(r.line, r.reason) for r in f.rejects]
[(4, 'unbalanced_quote')]
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from graph_models.errors import DataError
from loaders.limits import ReadLimits

__all__ = [
    "BLOCK_BYTES",
    "CsvFile",
    "LineReject",
    "SkippedLine",
    "decode_to_utf8",
    "iter_csv",
    "read_csv_bytes",
]

_NL, _CR, _QUOTE, _COMMA = 10, 13, 34, 44


@dataclass(frozen=True)
class LineReject:
    """A physical line refused before its fields were validated."""

    line: int
    reason: str  # bad_row_shape | unbalanced_quote
    message: str
    raw: str  # the line (or the cells, as JSON, when they could be split)


@dataclass(frozen=True)
class SkippedLine:
    """A line that is not data: a title or blank row above the header, a blank or totals row."""

    line: int
    kind: str  # title | blank | totals
    text: str


@dataclass
class CsvFile:
    """One CSV file as text cells, with every physical line accounted for.

    ``data`` has string columns ``c0 .. c{width-1}`` and ``_line`` (the physical line a record
    starts on), in line order. ``continuation`` counts lines that belong to the quoted field of the
    record above them. ``lines`` = header line + skipped + records + continuation + rejects.
    """

    encoding: str
    lines: int
    header_line: int  # 0 when the file has no non-blank line
    header: list[str]
    data: pa.Table
    rejects: list[LineReject] = field(default_factory=list)
    skipped: list[SkippedLine] = field(default_factory=list)
    continuation: int = 0
    above_header: list[list[str]] = field(default_factory=list)


def decode_to_utf8(data: bytes, name: str) -> tuple[bytes, str]:
    """(UTF-8 bytes without BOM, encoding detected): UTF-8 with BOM, UTF-8, else GB18030.

    Raises
    ------
    DataError
        ``unreadable_file`` when the bytes are neither UTF-8 nor GB18030 text.
    """
    if data.startswith(codecs.BOM_UTF8):
        body = data[len(codecs.BOM_UTF8) :]
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(
                "unreadable_file", f"{name}: starts with a UTF-8 mark but is not UTF-8 ({e.reason} "
                f"at byte {e.start + 3})",
            ) from e  # fmt: skip
        return body, "utf-8-sig"
    try:
        data.decode("utf-8")
        return data, "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030").encode("utf-8"), "gb18030"
    except UnicodeDecodeError as e:
        raise DataError(
            "unreadable_file",
            f"{name}: neither UTF-8 nor GB18030 text ({e.reason} at byte {e.start})",
        ) from e


def _line_bounds(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, content ends, next starts) of every physical line; breaks are LF, CRLF or CR."""
    n = len(buf)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    lf = np.flatnonzero(buf == _NL)
    crs = np.flatnonzero(buf == _CR)
    if crs.size:
        after = np.minimum(crs + 1, n - 1)
        lone = crs[(crs + 1 >= n) | (buf[after] != _NL)]
        brk = np.union1d(lf, lone) if lone.size else lf
    else:
        brk = lf
    brk = brk.astype(np.int64)
    starts = np.concatenate([np.zeros(1, np.int64), brk + 1])
    nxt = np.concatenate([brk + 1, np.array([n], np.int64)])
    ends = np.concatenate([brk, np.array([n], np.int64)])
    if brk.size and brk[-1] == n - 1:  # a final line break ends the last line; no empty line after
        starts, ends, nxt = starts[:-1], ends[:-1], nxt[:-1]
    if crs.size:  # a CRLF line ends before its CR
        valid = (ends < n) & (ends - 1 >= starts)
        at = np.where(valid, ends - 1, 0)
        crlf = valid & (buf[at] == _CR) & (buf[np.minimum(ends, n - 1)] == _NL)
        ends = ends - crlf.astype(np.int64)
    return starts, ends, nxt


def _count_in(pos: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    return np.searchsorted(pos, ends) - np.searchsorted(pos, starts)


def _split_one(text: str) -> list[str] | None:
    """Fields of one line as Python's csv module splits them; None when it cannot."""
    try:
        rows = list(csv.reader([text]))
    except csv.Error:
        return None
    return rows[0] if rows else []


def read_csv_bytes(
    data: bytes,
    pick_header: Callable[[Sequence[Sequence[str]]], int | None],
    limits: ReadLimits | None = None,
    name: str = "file.csv",
) -> CsvFile:
    """Read CSV bytes (any supported encoding) into one :class:`CsvFile` (see module docstring).

    ``pick_header`` gets the first non-blank rows as split cells and returns the index of the header
    among them (None: the file has no header). Raises ``DataError`` (``unreadable_file``,
    ``limit_exceeded``). :func:`iter_csv` reads a file block by block with the same result.
    """
    limits = limits or ReadLimits()
    text, encoding = decode_to_utf8(data, name)
    head = _CsvHead(encoding)
    block, _ = _parse_block(text, head, pick_header, limits, name, 0, final=True)
    return block


@dataclass
class _CsvHead:
    """What the first block decided for the whole file."""

    encoding: str
    header_line: int = 0
    header: list[str] = field(default_factory=list)
    width: int | None = None  # None until the header is found
    above: list[list[str]] = field(default_factory=list)


def _parse_block(
    text: bytes,
    head: _CsvHead,
    pick_header: Callable[[Sequence[Sequence[str]]], int | None],
    limits: ReadLimits,
    name: str,
    offset: int,
    final: bool,
) -> tuple[CsvFile, int]:
    """Parse whole lines of UTF-8 ``text`` whose first line is physical line ``offset + 1``.

    Returns the block and the bytes it used: when ``final`` is False, a record that may go on in the
    next block (a quote still open near the end) and every line after it are left for the next
    block.
    """
    buf = np.frombuffer(text, dtype=np.uint8)
    starts, ends, nxt = _line_bounds(buf)
    nlines = len(starts)
    if offset + nlines > limits.max_rows:
        raise DataError(
            "limit_exceeded",
            f"{name}: over {limits.max_rows:,} lines, the limit (max_rows)",
        )
    lengths = ends - starts
    if nlines and int(lengths.max()) > limits.max_line_bytes:
        worst = int(np.argmax(lengths))
        raise DataError(
            "limit_exceeded",
            f"{name}: line {offset + worst + 1} is {int(lengths[worst]):,} bytes long, over the "
            f"limit of {limits.max_line_bytes:,} (max_line_bytes)",
        )
    qpos = np.flatnonzero(buf == _QUOTE)
    cpos = np.flatnonzero(buf == _COMMA)
    nq = _count_in(qpos, starts, ends)
    ncomma = _count_in(cpos, starts, ends)
    # blank: only commas, spaces and tabs (the few candidates are checked one by one)
    blank = (nq == 0) & (lengths - ncomma <= 16)
    for i in np.flatnonzero(blank).tolist():
        rest = text[starts[i] : ends[i]].replace(b",", b"").replace(b" ", b"").replace(b"\t", b"")
        blank[i] = not rest

    # quoting: every quote must open a field, close one, or be a doubled quote inside one
    simple = nq % 2 == 0
    nsep = ncomma.copy()
    if qpos.size:
        qline = np.searchsorted(starts, qpos, side="right") - 1
        first_q = np.searchsorted(qpos, starts)
        parity = (np.arange(qpos.size) - first_q[qline]) % 2
        prev = buf[np.maximum(qpos - 1, 0)]
        at_start = qpos == starts[qline]
        nxt_b = buf[np.minimum(qpos + 1, len(buf) - 1)]
        at_end = qpos + 1 == ends[qline]
        ok = np.where(
            parity == 0,
            at_start | (prev == _COMMA) | (prev == _QUOTE),
            at_end | (nxt_b == _COMMA) | (nxt_b == _QUOTE),
        )
        bad_lines = np.unique(qline[~ok])
        simple[bad_lines] = False
        # separators inside quotes are not separators
        if cpos.size:
            # commas between an opening quote and the next quote are inside a quoted field
            opening = np.flatnonzero(parity == 0)
            closing = opening + 1
            paired = closing < qpos.size
            paired[paired] &= qline[closing[paired]] == qline[opening[paired]]
            o, c = qpos[opening[paired]], qpos[closing[paired]]
            inside_pair = np.searchsorted(cpos, c) - np.searchsorted(cpos, o)
            inside = np.bincount(qline[opening[paired]], weights=inside_pair, minlength=nlines)
            nsep = ncomma - inside.astype(np.int64)
    nfields = nsep + 1

    def line_text(i: int) -> str:
        return text[starts[i] : ends[i]].decode("utf-8")

    skipped: list[SkippedLine] = []
    first_body = 0
    if head.width is None:  # the first block: find the header among the first non-blank lines
        head_idx: list[int] = []
        head_rows: list[list[str]] = []
        i = 0
        while i < nlines and len(head_idx) < limits.max_header_scan:
            if not blank[i]:
                cells = _split_one(line_text(i))
                if cells is not None and any(c.strip() for c in cells):
                    head_idx.append(i)
                    head_rows.append(cells)
            i += 1
        h = pick_header(head_rows) if head_rows else None
        if h is None:
            if not final and nlines and len(head_idx) < limits.max_header_scan:
                return _empty_block(head), 0  # not enough lines yet: read more first
            skipped = [SkippedLine(offset + j + 1, "blank", line_text(j)) for j in range(nlines)]
            return CsvFile(head.encoding, nlines, 0, [], pa.table({"_line": pa.array([], pa.int64())}),
                           skipped=skipped), len(text)  # fmt: skip
        hline = head_idx[h]
        head.header = head_rows[h]
        head.header_line = offset + hline + 1
        head.width = len(head.header)
        if head.width > limits.max_columns:
            raise DataError(
                "limit_exceeded",
                f"{name}: the header has {head.width:,} columns, over the limit of "
                f"{limits.max_columns:,} (max_columns)",
            )
        for j in range(hline):
            kind = (
                "blank" if bool(blank[j]) or not line_text(j).replace(",", "").strip() else "title"
            )
            skipped.append(SkippedLine(offset + j + 1, kind, line_text(j)))
            if kind == "title":
                head.above.append(_split_one(line_text(j)) or [line_text(j)])
        first_body = hline + 1
    width = head.width

    body = np.arange(first_body, nlines)
    status = np.zeros(nlines, dtype=np.int8)  # 0 fast record, 1 python, 2 blank, 3 done, 4 later
    status[body] = np.where(blank[body], 2, np.where(simple[body], 0, 1))
    status[:first_body] = 3  # header and above: accounted already
    rejects: list[LineReject] = []
    slow_rows: list[list[str]] = []
    slow_lines: list[int] = []
    continuation = 0
    cut = nlines
    refused_until = -1  # lines inside a refused span are read alone (never a record's start)
    for j in np.flatnonzero(status == 1).tolist():
        if status[j] != 1:  # consumed by an earlier multi-line record
            continue
        if j <= refused_until and nq[j] % 2 == 1:
            status[j] = 3
            rejects.append(LineReject(offset + j + 1, "unbalanced_quote", _UNCLOSED, line_text(j)))
            continue
        got = _python_record(
            j, text, starts, ends, nq, ncomma, width, limits, line_text, final, offset
        )
        if isinstance(got, _Refused):
            refused_until = max(refused_until, got.last)
            got = got.reject
        if got is None:  # the record may go on in the next block: this block ends before it
            cut = j
            status[j:] = 4
            break
        status[j] = 3
        if isinstance(got, LineReject):
            rejects.append(got)
            continue
        cells, last = got
        slow_rows.append(cells)
        slow_lines.append(offset + j + 1)
        if last > j:
            continuation += int(last - j)
            status[j + 1 : last + 1] = 3
    # simple lines of the wrong width are rejected with their cells
    wrong = body[(status[body] == 0) & (nfields[body] != width)]  # not inside a quoted field
    for j in wrong.tolist():
        cells = _split_one(line_text(j)) or []
        status[j] = 3
        if _blank_tail(cells, width):  # only empty cells after the last column: a record
            slow_rows.append(cells[:width])
            slow_lines.append(offset + j + 1)
            continue
        rejects.append(LineReject(offset + j + 1, "bad_row_shape",
                                  f"{len(cells)} fields where the header has {width}",
                                  json.dumps(cells, ensure_ascii=False)))  # fmt: skip
    for j in np.flatnonzero(status == 2).tolist():
        skipped.append(SkippedLine(offset + j + 1, "blank", line_text(j)))
    fast = np.flatnonzero(status == 0)
    names = [f"c{k}" for k in range(width)]
    table = _arrow_rows(text, starts, nxt, fast, names, name)
    table = table.append_column("_line", pa.array(fast + offset + 1, pa.int64()))
    if slow_rows:
        cols = {n: pa.array([r[k] for r in slow_rows], pa.string()) for k, n in enumerate(names)}
        cols["_line"] = pa.array(slow_lines, pa.int64())
        table = pa.concat_tables([table, pa.table(cols)])
        table = table.take(np.argsort(table.column("_line").to_numpy(), kind="stable"))
    _check_field_size(table, names, limits, name)
    skipped.sort(key=lambda s: s.line)
    rejects.sort(key=lambda r: r.line)
    used = len(text) if cut == nlines else int(starts[cut])
    block = CsvFile(head.encoding, cut, head.header_line if offset == 0 or first_body else 0,
                    head.header, table, rejects, skipped, continuation, head.above)  # fmt: skip
    return block, used


def _empty_block(head: _CsvHead) -> CsvFile:
    return CsvFile(head.encoding, 0, 0, head.header, pa.table({"_line": pa.array([], pa.int64())}))


_UNCLOSED = (
    'an opening quote (") is never closed on this line; the line is rejected and reading goes on '
    "with the next line"
)

#: bytes of a file read at a time (a block is parsed, validated and dropped before the next)
BLOCK_BYTES = 64 << 20


def _utf8_ok(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(BLOCK_BYTES), b""):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False


def iter_csv(
    path: Path,
    pick_header: Callable[[Sequence[Sequence[str]]], int | None],
    limits: ReadLimits | None = None,
    encoding: str | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[CsvFile]:
    """Read a CSV file block by block (about ``block_bytes`` each), every line accounted for.

    The first block carries the header (``header_line``; later blocks have 0) and each block's
    ``lines`` counts its own physical lines, so the sums over blocks equal :func:`read_csv_bytes`
    on the whole file. Memory stays bounded by the block size whatever the file size.
    """
    limits = limits or ReadLimits()
    name = path.name
    with open(path, "rb") as f:
        first = f.read(4)
    given = encoding is not None
    if encoding is None:
        if first.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        elif _utf8_ok(path):
            encoding = "utf-8"
        else:
            encoding = "gb18030"
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError as e:
        raise DataError("unreadable_file", f"{name}: unknown encoding {encoding!r}") from e
    transcode = encoding.lower().replace("-", "").replace("_", "") not in ("utf8", "utf8sig")
    head = _CsvHead("gb18030" if encoding == "gb18030" else encoding)
    offset = 0
    pending = b""
    with open(path, "rb") as f:
        position = 0
        if encoding == "utf-8-sig":
            position = len(f.read(len(codecs.BOM_UTF8)))
        eof = False
        while not eof:
            chunk = f.read(block_bytes)
            eof = not chunk
            try:
                if transcode or encoding == "utf-8-sig":
                    text = decoder.decode(chunk, final=eof).encode("utf-8")
                else:
                    decoder.decode(chunk, final=eof)  # validates (raises on a bad byte)
                    text = chunk
            except UnicodeDecodeError as e:
                where = f"{e.reason} at byte {position + e.start}"
                what = f"not {encoding} text" if given else "neither UTF-8 nor GB18030 text"
                raise DataError("unreadable_file", f"{name}: {what} ({where})") from e
            position += len(chunk)
            pending += text
            if not eof:
                cut = _last_break(pending)
                if cut <= 0:
                    continue
                work, pending = pending[:cut], pending[cut:]
            else:
                work, pending = pending, b""
            while True:
                block, used = _parse_block(work, head, pick_header, limits, name, offset, eof)
                if used == 0 and not eof:
                    pending = work + pending  # nothing could be decided yet: read more
                    break
                offset += block.lines
                yield block
                if used >= len(work):
                    break
                if eof:
                    work = work[used:]
                    continue
                pending = work[used:] + pending
                break


def _last_break(buf: bytes) -> int:
    """Bytes up to and including the last line break that is surely whole (a CR at the very end
    may be the first half of a CRLF)."""
    lf = buf.rfind(b"\n")
    if lf >= 0:
        return lf + 1
    cr = buf.rfind(b"\r", 0, len(buf) - 1)
    return cr + 1 if cr >= 0 else 0


@dataclass(frozen=True)
class _Refused:
    """A refused multi-line record: no line inside its span may start another one."""

    reject: LineReject
    last: int


def _python_record(
    j: int,
    text: bytes,
    starts: np.ndarray,
    ends: np.ndarray,
    nq: np.ndarray,
    ncomma: np.ndarray,
    width: int,
    limits: ReadLimits,
    line_text: Callable[[int], str],
    final: bool = True,
    offset: int = 0,
) -> tuple[list[str], int] | LineReject | _Refused | None:
    """A record starting on line ``j`` (index) that pyarrow cannot be trusted with.

    Returns (cells, index of its last line), the reject for line ``j`` (a :class:`_Refused` when
    the lines up to a closing quote were found but are not one record), or None when the block ends
    before the record could (and it is not the file's last block).
    """
    raw = line_text(j)
    if nq[j] % 2 == 0:
        cells = _split_one(raw)
        if cells is None:
            return LineReject(
                offset + j + 1, "bad_row_shape", "the line cannot be split into fields", raw
            )
        if _blank_tail(cells, width):
            return cells[:width], j
        if len(cells) != width:
            return LineReject(offset + j + 1, "bad_row_shape",
                              f"{len(cells)} fields where the header has {width}",
                              json.dumps(cells, ensure_ascii=False))  # fmt: skip
        return cells, j
    why = _UNCLOSED
    total = int(nq[j])
    last = j
    while total % 2 == 1:
        last += 1
        if last - j + 1 > limits.max_record_lines:
            return LineReject(offset + j + 1, "unbalanced_quote", why, raw)
        if last >= len(starts):
            return LineReject(offset + j + 1, "unbalanced_quote", why, raw) if final else None
        total += int(nq[last])
    # lines of the span that would be whole rows on their own (as many commas as the header):
    # two or more mean stray quotes joined rows; a real quoted field rarely makes even one
    whole_rows = sum(1 for k in range(j, last + 1) if ncomma[k] + 1 == width)
    if whole_rows >= 2 and width > 1:
        return _Refused(LineReject(offset + j + 1, "unbalanced_quote", why, raw), last)
    joined = text[starts[j] : ends[last]].decode("utf-8")
    try:
        rows = list(csv.reader(io.StringIO(joined, newline=""), strict=True))
    except csv.Error:
        return _Refused(LineReject(offset + j + 1, "unbalanced_quote", why, raw), last)
    if len(rows) == 1 and _blank_tail(rows[0], width):
        return rows[0][:width], last
    if len(rows) != 1 or len(rows[0]) != width:
        return _Refused(LineReject(offset + j + 1, "unbalanced_quote", why, raw), last)
    return rows[0], last


def _blank_tail(cells: list[str], width: int) -> bool:
    """More cells than the header, every extra one empty (a trailing comma or two)."""
    return len(cells) > width and not any(c.strip() for c in cells[width:])


def _arrow_rows(
    text: bytes, starts: np.ndarray, nxt: np.ndarray, idx: np.ndarray, names: list[str], name: str
) -> pa.Table:
    """Parse the lines ``idx`` (each one whole record) with pyarrow; one row per line, checked."""
    if idx.size == 0:
        return pa.table({n: pa.array([], pa.string()) for n in names})
    # consecutive lines are one slice of the buffer
    breaks = np.flatnonzero(np.diff(idx) != 1)
    run_first = np.concatenate([[idx[0]], idx[breaks + 1]])
    run_last = np.concatenate([idx[breaks], [idx[-1]]])
    pieces = []
    for a, b in zip(run_first.tolist(), run_last.tolist(), strict=True):
        piece = text[starts[a] : nxt[b]]
        pieces.append(piece)
        if not piece.endswith((b"\n", b"\r")):
            pieces.append(b"\n")
    payload = b"".join(pieces)
    try:
        table = pacsv.read_csv(
            io.BytesIO(payload),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=False,
            ),
        )
    except pa.ArrowInvalid:  # pyarrow disagrees with our line analysis: split in Python instead
        table = None
    if table is None or table.num_rows != idx.size:
        rows = list(csv.reader(io.StringIO(payload.decode("utf-8"), newline="")))
        if len(rows) != idx.size:  # our bug, never their data
            raise AssertionError(f"{name}: {len(rows)} records from {idx.size} lines")
        table = pa.table(
            {n: pa.array([r[k] for r in rows], pa.string()) for k, n in enumerate(names)}
        )
    return table.combine_chunks()


def _check_field_size(table: pa.Table, names: list[str], limits: ReadLimits, name: str) -> None:
    import pyarrow.compute as pc

    for n in names:
        col = table.column(n)
        if not len(col):
            continue
        # bytes first: a field has at least as many bytes as characters, and counting bytes
        # reads only the offsets
        if (pc.max(pc.binary_length(col)).as_py() or 0) <= limits.max_field_chars:
            continue
        longest = pc.max(pc.utf8_length(col)).as_py() or 0
        if longest > limits.max_field_chars:
            raise DataError(
                "limit_exceeded",
                f"{name}: a field of {longest:,} characters, over the limit of "
                f"{limits.max_field_chars:,} (max_field_chars)",
            )
