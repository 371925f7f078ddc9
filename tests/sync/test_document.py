"""Streaming report documents: incremental gunzip and item-by-item JSON parsing."""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Iterator

import pytest

from soldscope_cli.sync.document import (
    MAX_LINE,
    MAX_SLICE,
    PARSE_BUFFER,
    READ_AHEAD_BLOCK,
    READ_AHEAD_BLOCKS,
    BadLines,
    ChunkStream,
    DocumentError,
    ReadAhead,
    _backend,
    flat_file_records,
    json_items,
    read_head,
)

PREFIX = "dataByDepartmentAndSearchTerm.item"


def document(n: int) -> bytes:
    return json.dumps(
        {
            "reportSpecification": {"reportType": "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT"},
            "dataByDepartmentAndSearchTerm": [
                {"searchTerm": f"t{i}", "clickShare": 0.5, "searchFrequencyRank": i}
                for i in range(n)
            ],
        }
    ).encode()


def cut(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_gzip_document_parsed_across_any_chunking(chunk: int) -> None:
    raw = document(2000)
    items = list(json_items(ChunkStream(cut(gzip.compress(raw), chunk), gzip=True), PREFIX))
    assert len(items) == 2000
    assert items[1999] == {"searchTerm": "t1999", "clickShare": 0.5, "searchFrequencyRank": 1999}
    assert isinstance(items[0]["clickShare"], float)


def test_items_arrive_before_the_download_ends() -> None:
    raw = document(50_000)
    chunks = cut(gzip.compress(raw), 8192)
    consumed = {"n": 0}

    def source() -> Iterator[bytes]:
        for c in chunks:
            consumed["n"] += 1
            yield c

    items = json_items(ChunkStream(source(), gzip=True), PREFIX)
    next(items)
    assert consumed["n"] < len(chunks) / 2


def test_decompressed_output_is_bounded_per_step() -> None:
    # 64 MB of zeros compress to ~64 KB: one chunk must not turn into 64 MB in memory.
    bomb = gzip.compress(b'{"dataByDepartmentAndSearchTerm": []}' + b" " * (64 << 20))
    stream = ChunkStream([bomb], gzip=True)
    largest = 0
    while True:
        piece = stream.read(256 * 1024)
        if not piece:
            break
        largest = max(largest, len(piece))
        assert len(stream._buffer) <= MAX_SLICE
    assert largest <= 256 * 1024
    assert stream.bytes_out == 64 * (1 << 20) + 37


def test_concatenated_gzip_members_are_one_document() -> None:
    raw = document(100)
    half = len(raw) // 2
    data = gzip.compress(raw[:half]) + gzip.compress(raw[half:])
    assert len(list(json_items(ChunkStream(cut(data, 333), gzip=True), PREFIX))) == 100


def test_zlib_header_is_accepted_too() -> None:
    assert len(list(json_items(ChunkStream([zlib.compress(document(3))], gzip=True), PREFIX))) == 3


def test_truncated_gzip_is_an_error_not_a_short_document() -> None:
    data = gzip.compress(document(1000))
    with pytest.raises(DocumentError, match="ended before"):
        list(json_items(ChunkStream([data[: len(data) - 20]], gzip=True), PREFIX))


def test_corrupt_gzip_is_an_error() -> None:
    with pytest.raises(DocumentError, match="not valid gzip"):
        list(json_items(ChunkStream([b"\x1f\x8b\x08\x00garbage" * 10], gzip=True), PREFIX))


def test_broken_json_is_an_error() -> None:
    with pytest.raises(DocumentError, match="not valid JSON"):
        list(
            json_items(
                ChunkStream([b'{"dataByDepartmentAndSearchTerm": [{"a": 1}, {"b"'], gzip=False),
                PREFIX,
            )
        )


def test_plain_document_read_whole() -> None:
    stream = ChunkStream([b"ab", b"", b"cd"], gzip=False)
    assert stream.read(0) == b""
    assert stream.read() == b"abcd"
    assert stream.read(10) == b""


# --- gzip decided by the bytes, flat files -------------------------------------------------------


@pytest.mark.parametrize("first", [1, 2, 4096])
def test_gzip_is_recognised_by_its_magic_bytes_whatever_the_chunking(first: int) -> None:
    data = gzip.compress(document(300))
    stream = ChunkStream([data[:first], data[first:]])
    assert len(list(json_items(stream, PREFIX))) == 300
    assert stream.gzip is True


def test_a_plain_document_is_read_as_it_is() -> None:
    stream = ChunkStream(cut(document(300), 1))
    assert len(list(json_items(stream, PREFIX))) == 300
    assert stream.gzip is False


def test_an_empty_document_is_empty() -> None:
    stream = ChunkStream([b"", b""])
    assert stream.read(10) == b""
    assert stream.gzip is False


def test_the_json_parser_is_ijsons_c_backend() -> None:
    # The pure-Python backends parse several times slower; the wheel ships yajl2_c.
    assert _backend().backend_name == "yajl2_c"


def flat(data: bytes, encoding: str = "utf-8") -> tuple[list[dict[str, str]], BadLines]:
    bad = BadLines()
    return list(flat_file_records(ChunkStream(cut(data, 5)), encoding, bad)), bad


def test_flat_file_header_bom_and_line_endings() -> None:
    records, bad = flat("\ufeffsku\tname\r\nA\tÄpfel\nB\t\r\n".encode())
    assert records == [{"sku": "A", "name": "Äpfel"}, {"sku": "B", "name": ""}]
    assert bad.count == 0


def test_flat_file_in_shift_jis() -> None:
    records, _ = flat("sku\t商品名\nA\t水筒\n".encode("shift_jis"), "shift_jis")
    assert records == [{"sku": "A", "商品名": "水筒"}]


def test_a_line_too_long_is_skipped_not_buffered() -> None:
    data = b"sku\tqty\n" + b"A\t" + b"9" * (MAX_LINE + 10) + b"\nB\t2\n"
    records, bad = flat(data)
    assert records == [{"sku": "B", "qty": "2"}]
    assert bad.count == 1 and bad.examples == [f"line 2: longer than {MAX_LINE:,} bytes"]
    # Much longer: dropped while it streams in, counted once.
    records, bad = flat(b"sku\tqty\n" + b"9" * (3 * MAX_LINE) + b"\nB\t2\nC\t3")
    assert records == [{"sku": "B", "qty": "2"}, {"sku": "C", "qty": "3"}]
    assert bad.count == 1


def test_only_the_first_bad_lines_are_kept_as_examples() -> None:
    records, bad = flat(b"a\tb\n" + b"x\n" * 10 + b"1\t2\n")
    assert records == [{"a": "1", "b": "2"}]
    assert bad.count == 10 and len(bad.examples) == 3


def test_an_unreadable_header_fails_the_document() -> None:
    with pytest.raises(DocumentError, match="header row is not valid utf-8"):
        flat(b"\xff\xfe\tb\n1\t2\n")


def test_read_head_is_bounded() -> None:
    data, more = read_head([gzip.compress(b"x" * 1000)], 100)
    assert (data, more) == (b"x" * 100, True)
    assert read_head([b"short"], 100) == (b"short", False)


# --- read-ahead on a helper thread ---------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 1000, PARSE_BUFFER, 3 * PARSE_BUFFER + 7, -1])
def test_read_ahead_reads_what_the_stream_holds(size: int) -> None:
    raw = document(20_000)
    with ReadAhead(cut(gzip.compress(raw), 4096)) as stream:
        pieces = []
        while piece := stream.read(size):
            assert size < 0 or len(piece) <= size
            pieces.append(piece)
    assert b"".join(pieces) == raw
    assert stream.gzip is True and stream.bytes_out == len(raw)
    assert stream.compressed_bytes == len(gzip.compress(raw))


def test_read_ahead_feeds_the_parser() -> None:
    with ReadAhead(cut(gzip.compress(document(2000)), 999)) as stream:
        assert len(list(json_items(stream, PREFIX))) == 2000


def test_read_ahead_raises_a_download_error_after_the_bytes_before_it() -> None:
    raw = document(20_000)

    def failing() -> Iterator[bytes]:
        yield raw[: 2 * PARSE_BUFFER]
        raise OSError("connection reset")

    with ReadAhead(failing()) as stream:
        assert stream.read(2 * PARSE_BUFFER) == raw[: 2 * PARSE_BUFFER]
        with pytest.raises(OSError, match="connection reset"):
            stream.read(10)


def test_leaving_early_stops_the_read_thread_and_bounds_what_it_read() -> None:
    pulled = {"chunks": 0}

    def endless() -> Iterator[bytes]:
        while True:
            pulled["chunks"] += 1
            yield b"x" * 65536

    with ReadAhead(endless()) as stream:
        stream.read(10)
        time.sleep(0.05)
    assert not stream._thread.is_alive()
    # A few blocks ahead, never the whole (here: endless) document.
    assert pulled["chunks"] * 65536 <= (READ_AHEAD_BLOCKS + 4) * READ_AHEAD_BLOCK
