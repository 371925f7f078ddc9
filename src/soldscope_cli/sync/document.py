"""Report documents read as a stream: gunzip chunk by chunk, parse record by record.

Brand Analytics documents reach 1.6 GB (FACTS.md §7); memory must not grow with their size, so
nothing here ever holds more than one decompressed slice and a few lines.
Two formats: JSON, whose records are the objects under a prefix (ijson), and Amazon's
tab-separated flat files (a header row, then one record per line).
"""

from __future__ import annotations

import codecs
import contextlib
import queue
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import ijson  # type: ignore[import-untyped]

# zlib's wbits 32 + 15: accept a gzip or zlib header, with the largest window.
AUTO_HEADER_WBITS = 47
# A gzip member starts with these two bytes (RFC 1952 §2.3.1). Amazon labels some plain documents
# GZIP and serves some gzip ones unlabelled (FACTS.md §8): the bytes decide, not the label.
GZIP_MAGIC = b"\x1f\x8b"
# Upper bound of decompressed bytes produced per inflate call: keeps a highly compressible chunk
# from ballooning in memory.
MAX_SLICE = 1 << 20
# ijson's read size: large enough that per-call overhead vanishes, small enough to stay flat.
PARSE_BUFFER = 256 * 1024
# Read-ahead: decompressed blocks of this size, at most READ_AHEAD_BLOCKS waiting. Enough to keep
# the download thread ahead of the parser; little enough that memory never follows the document.
READ_AHEAD_BLOCK = 64 * 1024
READ_AHEAD_BLOCKS = 4
# How long closing waits for the download thread: it stops at its next chunk, within
# milliseconds, unless the network stalls; a stalled read ends when the download is closed.
STOP_WAIT_S = 1.0
# A flat file line longer than this is skipped as bad rather than buffered: a file without line
# breaks must not end up in memory whole.
MAX_LINE = 1 << 20


class ByteStream(Protocol):
    """What the parsers read: a document's decompressed bytes."""

    def read(self, size: int = -1, /) -> bytes: ...


class DocumentError(Exception):
    """A report document could not be decoded (truncated gzip, broken JSON, unreadable header)."""


class ChunkStream:
    """A read()-able byte stream over an iterator of chunks, gunzipped on the fly when gzip.

    gzip=None (what the sync uses) decides from the first two bytes; True or False forces it.
    """

    def __init__(self, chunks: Iterable[bytes], *, gzip: bool | None = None) -> None:
        self._chunks = iter(chunks)
        self.gzip = gzip
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
        if self.gzip is None:
            self._sniff()
        while not self._done and (size < 0 or len(self._buffer) < size):
            # Inflate no more than asked for: the buffer then rarely needs slicing (copying).
            self._fill(MAX_SLICE if size < 0 else min(MAX_SLICE, size - len(self._buffer)))
        if size < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        self.bytes_out += len(out)
        return out

    def _sniff(self) -> None:
        head = b""
        while len(head) < len(GZIP_MAGIC):
            chunk = self._next_chunk()
            if chunk is None:
                break
            head += chunk
        self.gzip = head.startswith(GZIP_MAGIC)
        if self.gzip:
            self._inflater = zlib.decompressobj(AUTO_HEADER_WBITS)
            self._pending = head
        else:
            self._buffer = head
            self._done = not head

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


def json_items(stream: ByteStream, prefix: str) -> Iterator[dict[str, Any]]:
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


@dataclass
class BadLines:
    """Lines a flat file reader skipped: how many, and the first few, for the sync's note."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, line: int, why: str) -> None:
        self.count += 1
        if len(self.examples) < 3:
            self.examples.append(f"line {line}: {why}")

    def merge(self, other: BadLines) -> None:
        """Count `other`'s lines too (a child process's), keeping the first few examples."""
        self.count += other.count
        self.examples.extend(other.examples[: max(0, 3 - len(self.examples))])


class Columns(list[str]):
    """The column names: the first item flat_file_lines yields."""


class WithNul(list[str]):
    """A line's fields, one of which holds U+0000 (which neither engine stores as text)."""


def flat_file_records(
    stream: ByteStream, encoding: str, bad: BadLines, fallback: str | None = None
) -> Iterator[dict[str, str]]:
    """The lines of a tab-separated flat file as {column: value}, named by its header row
    (flat_file_lines' lines, as dicts)."""
    lines = flat_file_lines(stream, encoding, bad, fallback)
    header = next(lines, None)
    if header is None:
        return
    for fields in lines:
        yield dict(zip(header, fields, strict=True))


def flat_file_lines(
    stream: ByteStream, encoding: str, bad: BadLines, fallback: str | None = None
) -> Iterator[list[str]]:
    """The lines of a tab-separated flat file as lists of fields, its header row's column names
    (Columns) first.

    A line that does not decode in `encoding`, nor in `fallback` when one is given (the legacy
    code page some marketplaces' files are written in), or has more or fewer fields than the header
    is counted in `bad` and skipped; the rest of the document still loads. Lines are split on the
    byte 0x0A before decoding, which is safe in every encoding Amazon uses for flat files (UTF-8,
    Windows-1252, Shift_JIS: none has 0x0A inside a character). A slice of whole lines that
    decodes at once and is not too long is split in bulk (no per-line decode); anything else goes
    line by line, with the same lines kept, skipped and counted. A line holding U+0000 comes as
    WithNul, for the row builder to clean.
    """
    lines = _LineSplitter(encoding, fallback, bad)
    rest = b""
    while True:
        block = stream.read(PARSE_BUFFER)
        data = rest + block
        if block:
            cut = data.rfind(b"\n")
            body, rest = (data[:cut], data[cut + 1 :]) if cut >= 0 else (None, data)
        else:
            body, rest = data, b""
        if block and len(rest) > MAX_LINE:
            if not lines.skipping:
                bad.add(lines.number + 1, f"longer than {MAX_LINE:,} bytes")
            rest, lines.skipping = b"", True
        if body is not None:
            text = lines.decoded_whole(body)
            yield from (lines.in_bulk(text) if text is not None else lines.one_by_one(body))
        if not block:
            return


class _LineSplitter:
    """flat_file_lines' state across the slices of a document (the header, the line number,
    whether a line too long is being skipped) and its two ways to split a slice of whole lines
    into fields."""

    def __init__(self, encoding: str, fallback: str | None, bad: BadLines) -> None:
        self.encoding = encoding
        self.first = codecs.getdecoder(encoding)
        self.second = codecs.getdecoder(fallback) if fallback is not None else None
        self.names = f"{encoding} or {fallback}" if fallback else encoding
        self.bad = bad
        self.header: list[str] | None = None
        self.number = 0
        self.skipping = False  # inside a line already counted as too long

    def decoded_whole(self, body: bytes) -> str | None:
        """The slice decoded at once, when it can be split in bulk: past the header, not in a
        line being skipped, within MAX_LINE, in the first encoding; else None."""
        header = self.header
        if header is None or self.skipping or len(body) > MAX_LINE or len(header) <= 1:
            return None
        try:
            return body.decode(self.encoding)
        except UnicodeDecodeError:
            return None

    def in_bulk(self, text: str) -> Iterator[list[str]]:
        """Every line of a decoded slice, split at once."""
        assert self.header is not None
        width = len(self.header)
        number, bad = self.number, self.bad
        lines = text.split("\n")
        if "\r" in text:
            lines = [line.removesuffix("\r") for line in lines]
        nul = "\x00" in text
        for fields in [line.split("\t") for line in lines]:
            number += 1
            if len(fields) != width:
                fitted = _fit(fields, width, number, bad)
                if fitted is None:
                    continue
                fields = fitted
            yield WithNul(fields) if nul and "\x00" in "".join(fields) else fields
        self.number = number

    def one_by_one(self, body: bytes) -> Iterator[list[str]]:
        """Every line of a slice decoded on its own, in the first encoding or the fallback;
        the header's column names (Columns) when it is the first."""
        for raw in body.split(b"\n"):
            self.number += 1
            if self.skipping:
                self.skipping = False
                continue
            raw = raw.removesuffix(b"\r")
            if not raw:
                continue
            if len(raw) > MAX_LINE:
                self.bad.add(self.number, f"longer than {MAX_LINE:,} bytes")
                continue
            line = self._decoded(raw)
            if line is None:
                continue
            fields = line.split("\t")
            if self.header is None:
                self.header = [name.strip() for name in fields]
                self.header[0] = self.header[0].removeprefix("\ufeff")
                yield Columns(self.header)
                continue
            if len(fields) != len(self.header):
                fitted = _fit(fields, len(self.header), self.number, self.bad)
                if fitted is None:
                    continue
                fields = fitted
            yield WithNul(fields) if "\x00" in line else fields

    def _decoded(self, raw: bytes) -> str | None:
        """One line's text; None when neither encoding reads it (counted). A header row that
        does not decode fails the document."""
        for decode in (self.first, self.second):
            if decode is not None:
                with contextlib.suppress(UnicodeDecodeError):
                    return decode(raw)[0]
        if self.header is None:
            raise DocumentError(f"the header row is not valid {self.names}")
        self.bad.add(self.number, f"not valid {self.names}")
        return None


def _fit(fields: list[str], width: int, number: int, bad: BadLines) -> list[str] | None:
    """A line whose field count is not the header's: None when skipped (an empty line, or one
    counted as bad), its fields without the trailing tabs after the last column otherwise."""
    if len(fields) == 1 and not fields[0]:
        return None
    if len(fields) > width and not any(fields[width:]):
        del fields[width:]
        return fields
    bad.add(number, f"{len(fields)} fields where the header has {width}")
    return None


class DocumentFormat(Protocol):
    """How a report's document turns into records (one object per row of its dataset)."""

    def records(self, stream: ByteStream, bad: BadLines) -> Iterator[Any]: ...


@dataclass(frozen=True)
class JsonDocument:
    """A JSON document whose records are the objects under `prefix` (ijson syntax, e.g.
    "dataByDepartmentAndSearchTerm.item")."""

    prefix: str

    def records(self, stream: ByteStream, bad: BadLines) -> Iterator[Any]:
        return json_items(stream, self.prefix)


@dataclass(frozen=True)
class FlatFile:
    """A tab-separated flat file in `encoding` (lines that are not, in `fallback`); records are
    {column: text} dicts."""

    encoding: str = "utf-8"
    fallback: str | None = None

    def records(self, stream: ByteStream, bad: BadLines) -> Iterator[Any]:
        return flat_file_records(stream, self.encoding, bad, self.fallback)


def read_head(chunks: Iterable[bytes], limit: int) -> tuple[bytes, bool]:
    """The first `limit` bytes of a small document (gunzipped if gzip), and whether it had more."""
    stream = ChunkStream(chunks)
    data = stream.read(limit)
    return data, bool(data) and bool(stream.read(1))


Rows = list[tuple[Any, ...]]
# A batch of a document's records as the rows its dataset stores.
RowBuilder = Callable[[list[Any]], Rows]


class _Closed(Exception):
    """The reader was closed: the download thread ends where it is."""


class ReadAhead:
    """A document's bytes, downloaded and gunzipped on a helper thread a few blocks ahead.

    Socket reads and inflating release the GIL, so on this thread they use a second core while
    the caller parses and writes. The rest of a load (ijson building objects, the row builder,
    sqlite3 binding parameters) holds the GIL, and moving it to a thread only adds handovers:
    this is the part worth moving. Blocks wait in a bounded queue, so memory stays flat. An error
    on the thread is raised by the read that reaches it. Use as a context manager: leaving it
    stops the thread at its next chunk.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._source = ChunkStream(self._until_closed(chunks))
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=READ_AHEAD_BLOCKS)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="soldscope-read", daemon=True)
        self._block = b""
        self._at = 0
        self._end = False
        self.bytes_out = 0

    @property
    def gzip(self) -> bool | None:
        return self._source.gzip

    @property
    def compressed_bytes(self) -> int:
        return self._source.compressed_bytes

    def __enter__(self) -> ReadAhead:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (all remaining when size < 0); b"" at the end."""
        parts: list[bytes] = []
        want = size
        while want:
            if self._at >= len(self._block):
                if self._end:
                    break
                item = self._queue.get()
                if isinstance(item, BaseException):
                    raise item
                if not item:
                    self._end = True
                    break
                self._block, self._at = item, 0
            left = len(self._block) - self._at
            take = left if want < 0 else min(want, left)
            parts.append(self._block[self._at : self._at + take])
            self._at += take
            if want > 0:
                want -= take
        out = parts[0] if len(parts) == 1 else b"".join(parts)
        self.bytes_out += len(out)
        return out

    def close(self) -> None:
        """Stop the download thread and wait (briefly) for it to end."""
        self._closed.set()
        while True:  # unblock a put waiting for room
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._thread.ident is not None:
            self._thread.join(STOP_WAIT_S)
        # A reader on another thread (the feed of a parser process) may be waiting for a block
        # that will never come: it gets _Closed instead.
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_Closed())

    def _until_closed(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            if self._closed.is_set():
                raise _Closed
            yield chunk

    def _put(self, item: bytes | BaseException) -> None:
        if self._closed.is_set():
            raise _Closed
        self._queue.put(item)

    def _produce(self) -> None:
        try:
            while block := self._source.read(READ_AHEAD_BLOCK):
                self._put(block)
            self._put(b"")
        except _Closed:
            return
        except BaseException as exc:  # handed to the reader, which raises it
            try:
                self._put(exc)
            except _Closed:
                return
