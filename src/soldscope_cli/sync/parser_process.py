"""A big report document parsed in a child process, so that parsing and writing use two cores.

Parsing (ijson building objects, the row builder) and writing (sqlite3 binding parameters) both
hold the GIL: on two threads they only take turns. A document of at least CHILD_MIN_BYTES
(decompressed) is therefore parsed by a child Python process: the parent keeps the download and
gunzip (ReadAhead) and pipes the bytes to the child's stdin; the child parses, builds each batch's
rows with the load's picklable `row_builder` and sends them back on its stdout; the parent only
writes. Pipes and the child's send-ahead (SEND_AHEAD_BYTES) are bounded, so memory stays flat
whatever the document's size.

A smaller document, or a load without a `row_builder`, is parsed in-process as before: starting
an interpreter costs about as much as parsing a few MB. What the child raises (a DocumentError, a
row builder's error) is raised again by the parent, with the same message; its skipped lines are
added to the parent's BadLines. Closing kills the child and waits for it; a parent that dies
leaves the child reading EOF (or writing to a closed pipe), which ends it.

    python -m soldscope_cli.sync.parser_process    # the child; the parent starts it
"""

from __future__ import annotations

import marshal
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from itertools import islice
from typing import IO

from soldscope_cli.sync.document import (
    READ_AHEAD_BLOCK,
    STOP_WAIT_S,
    BadLines,
    ByteStream,
    DocumentError,
    DocumentFormat,
    RowBuilder,
    Rows,
)

# Below this many decompressed bytes a document is parsed in-process. A child costs ~40 ms of
# start (an interpreter, ijson, the row builder's module) and pays back a third of the parse
# time of what follows; 8 MB (~35,000 Brand Analytics rows, ~0.2 s in-process) is where it
# starts to gain. The parent holds this much at most while it decides.
CHILD_MIN_BYTES = 8 << 20
# Pipe room asked for (Linux's default maximum for an unprivileged process), and what the feed
# writes at a time.
PIPE_BYTES = 1 << 20
FEED_BLOCK = 4 * READ_AHEAD_BLOCK
# A frame: one byte of kind, four of payload length, the payload.
_FRAME = struct.Struct(">cI")
_HEADER = struct.Struct(">I")
_ROWS = b"r"  # rows, marshalled (the fastest to dump and load; plain values only)
_PICKLED = b"p"  # rows marshal cannot hold (dates, decimals), pickled
_END = b"e"  # the document ended: the BadLines, pickled
_ERROR = b"x"  # what the parse raised, pickled
# How many bytes of frames the child holds for its parent while the parent is busy writing (about
# 150,000 order rows), counted in units of SEND_UNIT.
SEND_AHEAD_BYTES = 32 << 20
SEND_UNIT = 64 << 10


@contextmanager
def parsed_batches(
    stream: ByteStream,
    document: DocumentFormat,
    rows: RowBuilder,
    size: int,
    bad: BadLines,
    *,
    builder: RowBuilder | None = None,
) -> Iterator[Iterator[Rows]]:
    """The document's rows in batches of `size` records: parsed in a child process when the
    document is big and `builder` (the picklable twin of `rows`) is given, in-process otherwise.
    Leaving the block stops the child."""
    head, failed = _head(stream, CHILD_MIN_BYTES) if builder is not None else (b"", None)
    big = failed is None and len(head) >= CHILD_MIN_BYTES
    source = _Replay(head, stream, failed)
    del head  # the replay lets go of it once read: memory back to flat
    child = None
    if builder is not None and big:
        child = _Child.start(document, builder, size)
    if child is None:
        yield _in_process(source, document, rows, size, bad)
        return
    try:
        child.feed(source)
        yield child.batches(bad)
    finally:
        child.close()


def _in_process(
    source: ByteStream, document: DocumentFormat, rows: RowBuilder, size: int, bad: BadLines
) -> Iterator[Rows]:
    records = iter(document.records(source, bad))
    while batch := list(islice(records, size)):
        yield rows(batch)


def _head(stream: ByteStream, limit: int) -> tuple[bytes, Exception | None]:
    """The first `limit` bytes, block by block: a download that fails within them keeps the
    bytes before the failure (parsed and stored first, as without a head) and its error."""
    blocks: list[bytes] = []
    got = 0
    try:
        while got < limit and (block := stream.read(min(READ_AHEAD_BLOCK, limit - got))):
            blocks.append(block)
            got += len(block)
    except Exception as exc:
        return b"".join(blocks), exc
    return b"".join(blocks), None


class _Replay:
    """A stream that gives `head` again, then raises `failed` or continues with `rest`."""

    def __init__(self, head: bytes, rest: ByteStream, failed: Exception | None) -> None:
        self._head = head
        self._at = 0
        self._rest = rest
        self._failed = failed

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            out = self._head[self._at :]
            self._head, self._at = b"", 0
            return out + self._more(size)
        if self._at < len(self._head):
            out = self._head[self._at : self._at + size]
            self._at += len(out)
            if self._at == len(self._head):
                self._head, self._at = b"", 0
            return out
        return self._more(size)

    def _more(self, size: int) -> bytes:
        if self._failed is not None:
            raise self._failed
        return self._rest.read(size)


class _Child:
    """The parent's side of one child parser: a thread feeds it, the caller reads its batches."""

    def __init__(self, process: subprocess.Popen[bytes], setup: bytes) -> None:
        self._process = process
        self._setup = setup
        self._feeder: threading.Thread | None = None
        self._feed_error: BaseException | None = None
        self._closing = threading.Event()

    @classmethod
    def start(cls, document: DocumentFormat, builder: RowBuilder, size: int) -> _Child | None:
        """A running child, or None where no interpreter can be started (the caller parses)."""
        try:
            setup = pickle.dumps((document, builder, size), pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError):
            return None  # a closure or a local class: only this process can run it
        if not sys.executable:
            return None
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # the child reports everything on its stdout
            )
        except OSError:
            return None
        for pipe in (process.stdin, process.stdout):
            _widen(pipe)
        return cls(process, setup)

    @property
    def pid(self) -> int:
        return self._process.pid

    def feed(self, source: ByteStream) -> None:
        """Pipe the setup, then the document's bytes, to the child on a helper thread (writing
        to a pipe releases the GIL)."""
        self._feeder = threading.Thread(
            target=self._feed, args=(source,), name="soldscope-parser-feed", daemon=True
        )
        self._feeder.start()

    def _feed(self, source: ByteStream) -> None:
        pipe = self._process.stdin
        assert pipe is not None  # started with stdin=PIPE
        try:
            pipe.write(_HEADER.pack(len(self._setup)) + self._setup)
            while block := source.read(FEED_BLOCK):
                pipe.write(block)
            pipe.flush()
        except BrokenPipeError:
            pass  # the child ended: what it sent says why
        except BaseException as exc:  # the download's error: raised by the reader of batches
            if not self._closing.is_set():
                self._feed_error = exc
        finally:
            with suppress(OSError, ValueError):
                pipe.close()  # EOF: the child finishes the document (or fails it as truncated)

    def batches(self, bad: BadLines) -> Iterator[Rows]:
        out = self._process.stdout
        assert out is not None  # started with stdout=PIPE
        while True:
            kind, payload = _receive(out)
            if kind == _ROWS:
                yield marshal.loads(payload)  # noqa: S302 (our own child's output)
            elif kind == _PICKLED:
                yield pickle.loads(payload)  # noqa: S301 (our own child's output)
            else:
                self._raise_feed_error()
                if kind == _END:
                    bad.merge(pickle.loads(payload))  # noqa: S301
                    return
                if kind == _ERROR:
                    raise pickle.loads(payload)  # noqa: S301
                raise DocumentError(
                    "the document's parser process ended unexpectedly"
                    f" (exit status {self._process.wait()})"
                )

    def _raise_feed_error(self) -> None:
        # The download failing ends the child's input early: the download's error is the cause.
        # The feed records it before it closes the pipe, so before the child can see the end.
        if self._feed_error is not None:
            raise self._feed_error

    def close(self) -> None:
        """Kill the child (it holds nothing to save), reap it, stop the feed thread."""
        self._closing.set()
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        # The feed thread closes stdin itself: it may still be writing.
        pipes = [self._process.stdout] + ([self._process.stdin] if self._feeder is None else [])
        for pipe in pipes:
            if pipe is not None:
                with suppress(OSError, ValueError):
                    pipe.close()
        if self._feeder is not None:
            self._feeder.join(STOP_WAIT_S)


def _widen(pipe: IO[bytes] | None) -> None:
    """Give a pipe PIPE_BYTES of room where the system allows (Linux): with the default 64 KiB
    the two processes take turns at every block instead of running side by side."""
    try:
        import fcntl  # POSIX only
    except ImportError:
        return
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None)
    if pipe is not None and setsize is not None:
        with suppress(OSError):
            fcntl.fcntl(pipe.fileno(), setsize, PIPE_BYTES)


def _receive(pipe: IO[bytes]) -> tuple[bytes, bytes]:
    """The next frame (kind, payload); (b"", b"") when the child ended without one."""
    head = pipe.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return b"", b""
    kind, length = _FRAME.unpack(head)
    payload = pipe.read(length)
    if len(payload) < length:
        return b"", b""
    return kind, payload


def _dump_rows(rows: Rows) -> tuple[bytes, bytes]:
    try:
        # Version 2: no back-references, whose bookkeeping doubled the time to dump and load.
        return _ROWS, marshal.dumps(rows, 2)
    except ValueError:
        return _PICKLED, pickle.dumps(rows, pickle.HIGHEST_PROTOCOL)


def _dump_error(exc: BaseException) -> bytes:
    try:
        return pickle.dumps(exc, pickle.HIGHEST_PROTOCOL)
    except Exception:
        return pickle.dumps(DocumentError(f"{type(exc).__name__}: {exc}"))


def child_main(source: IO[bytes], out: IO[bytes]) -> None:
    """The child: read the setup, parse the document from `source`, send frames to `out`."""
    sender = _Sender(out)
    try:
        (length,) = _HEADER.unpack(source.read(_HEADER.size))
        document, build, size = pickle.loads(source.read(length))  # noqa: S301 (from our parent)
        bad = BadLines()
        records = iter(document.records(source, bad))
        while batch := list(islice(records, size)):
            sender.send(*_dump_rows(build(batch)))
        # A row builder that rejects records itself (a value that does not parse) counts them
        # in its own `bad_lines`: the parent's count has both.
        rejected = getattr(build, "bad_lines", None)
        if isinstance(rejected, BadLines):
            bad.merge(rejected)
        sender.send(_END, pickle.dumps(bad, pickle.HIGHEST_PROTOCOL))
    except BrokenPipeError:
        return  # the parent is gone or closed the load: nobody to tell
    except Exception as exc:
        with suppress(BrokenPipeError):
            sender.send(_ERROR, _dump_error(exc))
    finally:
        with suppress(BrokenPipeError):
            sender.close()


class _Sender:
    """The child's frames written by a thread, up to SEND_AHEAD_BYTES of them waiting: while the
    parent commits a big batch (seconds, for an upsert of 200,000 rows) the child goes on parsing
    instead of waiting on a full pipe, so the two processes keep both cores busy."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._frames: queue.Queue[bytes | None] = queue.Queue()
        self._room = threading.Semaphore(SEND_AHEAD_BYTES // SEND_UNIT)
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._write, name="soldscope-parser-send")
        self._thread.start()

    def send(self, kind: bytes, payload: bytes) -> None:
        if self._failed is not None:
            raise self._failed
        for _ in range(self._units(payload)):
            self._room.acquire()
        self._frames.put(_FRAME.pack(kind, len(payload)) + payload)

    def close(self) -> None:
        """Write what waits, then stop; raises what writing raised (BrokenPipeError)."""
        self._frames.put(None)
        self._thread.join()
        if self._failed is not None:
            raise self._failed

    @staticmethod
    def _units(payload: bytes) -> int:
        return min(SEND_AHEAD_BYTES // SEND_UNIT, 1 + len(payload) // SEND_UNIT)

    def _write(self) -> None:
        while (frame := self._frames.get()) is not None:
            try:
                if self._failed is None:
                    self._out.write(frame)
                    self._out.flush()
            except BaseException as exc:  # the parent went away: the parser stops at its next send
                self._failed = exc
            for _ in range(self._units(frame[_FRAME.size :])):
                self._room.release()


def main() -> None:
    # Ctrl-C reaches the whole process group, and systemd's SIGTERM the whole service: the
    # parent decides when its child stops (it stops `sync --watch` after the current batch).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child_main(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
