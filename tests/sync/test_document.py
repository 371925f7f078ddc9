"""Streaming report documents: incremental gunzip and item-by-item JSON parsing."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator

import pytest

from soldscope_cli.sync.document import MAX_SLICE, ChunkStream, DocumentError, json_items

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
