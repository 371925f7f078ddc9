"""Report documents read as a stream: gunzip chunk by chunk, parse JSON item by item.

Brand Analytics documents reach 1.6 GB (FACTS.md §7); memory must not grow with their size, so
nothing here ever holds more than one decompressed slice and one batch of rows.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from typing import Any

import ijson  # type: ignore[import-untyped]

# zlib's wbits 32 + 15: accept a gzip or zlib header, with the largest window.
AUTO_HEADER_WBITS = 47
# Upper bound of decompressed bytes produced per inflate call: keeps a highly compressible chunk
# from ballooning in memory.
MAX_SLICE = 1 << 20
# ijson's read size: large enough that per-call overhead vanishes, small enough to stay flat.
PARSE_BUFFER = 256 * 1024


class DocumentError(Exception):
    """A report document could not be decoded (truncated gzip, broken JSON)."""


class ChunkStream:
    """A read()-able byte stream over an iterator of chunks, optionally gunzipped on the fly."""

    def __init__(self, chunks: Iterable[bytes], *, gzip: bool) -> None:
        self._chunks = iter(chunks)
        self._gzip = gzip
        self._inflater = zlib.decompressobj(AUTO_HEADER_WBITS) if gzip else None
        self._pending = b""  # compressed input not yet fed to the inflater
        self._buffer = b""  # output not yet returned
        self._done = False
        self.compressed_bytes = 0
        self.bytes_out = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (all remaining when size < 0); b"" at the end."""
        if size == 0:
            return b""
        while not self._done and (size < 0 or len(self._buffer) < size):
            # Inflate no more than asked for: the buffer then rarely needs slicing (copying).
            self._fill(MAX_SLICE if size < 0 else min(MAX_SLICE, size - len(self._buffer)))
        if size < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        self.bytes_out += len(out)
        return out

    def _next_chunk(self) -> bytes | None:
        for chunk in self._chunks:
            if chunk:
                self.compressed_bytes += len(chunk)
                return chunk
        return None

    def _fill(self, limit: int) -> None:
        if self._inflater is None:
            chunk = self._next_chunk()
            if chunk is None:
                self._done = True
            else:
                self._buffer += chunk
            return
        inflater = self._inflater
        if inflater.unconsumed_tail:
            data = inflater.unconsumed_tail
        elif self._pending:
            data, self._pending = self._pending, b""
        else:
            chunk = self._next_chunk()
            if chunk is None:
                if not inflater.eof:
                    raise DocumentError("the document ended before its gzip stream was complete")
                self._done = True
                return
            data = chunk
        try:
            self._buffer += inflater.decompress(data, limit)
        except zlib.error as exc:
            raise DocumentError(f"the document is not valid gzip: {exc}") from None
        if inflater.eof:
            rest = inflater.unused_data
            # Concatenated gzip members are one valid stream (RFC 1952 §2.2).
            self._inflater = zlib.decompressobj(AUTO_HEADER_WBITS)
            if rest.strip(b"\0"):
                self._pending = rest
            else:
                self._finish_members()

    def _finish_members(self) -> None:
        # After a complete member, only more members or the end may follow.
        chunk = self._next_chunk()
        if chunk is None:
            self._done = True
            return
        self._pending = chunk


def json_items(stream: ChunkStream, prefix: str) -> Iterator[dict[str, Any]]:
    """The objects under `prefix` (ijson syntax), parsed incrementally with the fastest backend."""
    try:
        # Items are yielded as they come: a per-item check here costs ~10% of the load rate;
        # the consumer rejects anything that is not an object.
        yield from _backend().items(stream, prefix, use_float=True, buf_size=PARSE_BUFFER)
    except ijson.JSONError as exc:
        raise DocumentError(f"the document is not valid JSON: {exc}") from None


def _backend() -> Any:
    try:
        return ijson.get_backend("yajl2_c")
    except (ImportError, ValueError):
        return ijson
