"""A big document parsed in a child process: the same rows, errors and bad lines as in-process,
and a child that never outlives its load."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from soldscope_cli.sync import parser_process
from soldscope_cli.sync.document import (
    READ_AHEAD_BLOCK,
    BadLines,
    DocumentError,
    DocumentFormat,
    FlatFile,
    JsonDocument,
    ReadAhead,
    RowBuilder,
    Rows,
)
from soldscope_cli.sync.parser_process import _Child, _head, _Replay, parsed_batches
from soldscope_cli.sync.search_term_rows import rows_of

from .rowbuilders import dated, failing, sorted_items

PREFIX = "dataByDepartmentAndSearchTerm.item"
TERMS = JsonDocument(PREFIX)
BA_ROWS = partial(rows_of, (7, 3))
SMALL = 64 * 1024  # the threshold these tests use: documents here are a few hundred KB


def document(n: int, **extra: Any) -> bytes:
    items = [
        {
            "departmentName": "Amazon.com",
            "searchTerm": f"térm {i} \U0001f600",
            "searchFrequencyRank": i,
            "clickedAsin": f"B{i:09d}",
            "clickedItemName": None if i % 7 == 0 else f"Item {i}",
            "clickShareRank": i % 3 + 1,
            "clickShare": i / 3,
            "conversionShare": 0.0,
            **extra,
        }
        for i in range(n)
    ]
    return json.dumps(
        {"reportSpecification": {"x": 1}, "dataByDepartmentAndSearchTerm": items}
    ).encode()


def cut(data: bytes, size: int = 4096) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


class Spawns:
    """The children started, by pid."""

    def __init__(self) -> None:
        self.children: list[_Child] = []


@pytest.fixture
def spawns(monkeypatch: pytest.MonkeyPatch) -> Spawns:
    monkeypatch.setattr(parser_process, "CHILD_MIN_BYTES", SMALL)
    seen = Spawns()
    start = _Child.start

    def recording(*args: Any) -> _Child | None:
        child = start(*args)
        if child is not None:
            seen.children.append(child)
        return child

    monkeypatch.setattr(_Child, "start", recording)
    return seen


def load(
    body: bytes,
    fmt: DocumentFormat = TERMS,
    rows: RowBuilder = BA_ROWS,
    *,
    child: bool,
    size: int = 500,
) -> tuple[list[Rows], BadLines]:
    bad = BadLines()
    with (
        ReadAhead(cut(gzip.compress(body))) as stream,
        parsed_batches(stream, fmt, rows, size, bad, builder=rows if child else None) as batches,
    ):
        return list(batches), bad


def reaped(child: _Child) -> bool:
    try:
        os.waitpid(child.pid, os.WNOHANG)
    except ChildProcessError:
        return True  # already waited for: no zombie left
    return False


def test_a_big_document_goes_through_the_child_with_the_same_batches(spawns: Spawns) -> None:
    body = document(3000)
    assert len(body) > 4 * SMALL
    inside, _ = load(body, child=False)
    assert not spawns.children
    outside, _ = load(body, child=True)
    [child] = spawns.children
    assert outside == inside
    assert repr(outside).encode() == repr(inside).encode()  # same types, same values
    assert sum(map(len, outside)) == 3000 and len(outside) == 6
    assert reaped(child)


def test_a_small_document_stays_in_process(spawns: Spawns) -> None:
    body = document(100)
    assert len(body) < SMALL
    [rows], _ = load(body, child=True)
    assert len(rows) == 100
    assert not spawns.children


def test_a_load_without_a_row_builder_never_starts_a_child(spawns: Spawns) -> None:
    assert sum(map(len, load(document(3000), child=False)[0])) == 3000
    assert not spawns.children


def test_rows_marshal_cannot_hold_are_pickled(spawns: Spawns) -> None:
    body = b"day\n" + b"".join(b"2026-11-%02d\n" % (i % 28 + 1) for i in range(40_000))
    inside, _ = load(body, FlatFile(), dated, child=False)
    outside, _ = load(body, FlatFile(), dated, child=True)
    assert spawns.children
    assert outside == inside
    assert outside[0][0] == (date(2026, 11, 1),)


def broken_json() -> bytes:
    body = document(3000)
    return body[: len(body) * 2 // 3] + b"]]}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (broken_json(), "not valid JSON"),
        (document(3000)[:-100], "not valid JSON"),  # ends mid-way
        (document(3000, searchTerm=None)[:-2] + b",7]}", "not an object"),  # the row builder's
    ],
)
def test_a_childs_error_is_raised_with_the_in_process_message(
    spawns: Spawns, body: bytes, message: str
) -> None:
    with pytest.raises(DocumentError, match=message) as inside:
        load(body, child=False)
    with pytest.raises(DocumentError) as outside:
        load(body, child=True)
    assert spawns.children
    assert str(outside.value) == str(inside.value)
    assert all(reaped(c) for c in spawns.children)


def test_any_other_error_of_the_child_is_raised_as_it_is(spawns: Spawns) -> None:
    with pytest.raises(ValueError, match="cannot build rows of 500 records"):
        load(document(3000), rows=failing, child=True)
    assert spawns.children


def test_bad_lines_of_a_flat_file_are_counted_as_in_process(spawns: Spawns) -> None:
    lines = [b"sku\tqty\tnote"]
    for i in range(20_000):
        if i % 1000 == 3:
            lines.append(b"A-%d\t1" % i)  # a field short
        elif i % 1000 == 5:
            lines.append(b"A-%d\t1\t\x81" % i)  # not cp1252
        else:
            lines.append(b"A-%d\t%d\tnote" % (i, i))
    body = b"\r\n".join(lines)
    fmt = FlatFile("cp1252")
    inside, bad_inside = load(body, fmt, sorted_items, child=False)
    outside, bad_outside = load(body, fmt, sorted_items, child=True)
    assert spawns.children
    assert outside == inside
    assert bad_outside == bad_inside
    assert bad_outside.count == 40 and len(bad_outside.examples) == 3


def test_a_download_error_is_raised_not_the_truncation_it_causes(spawns: Spawns) -> None:
    compressed = gzip.compress(document(20_000))

    def failing_download() -> Iterator[bytes]:
        yield from cut(compressed[: len(compressed) // 2])
        raise OSError("connection reset")

    bad = BadLines()
    got = 0
    with (
        pytest.raises(OSError, match="connection reset"),
        ReadAhead(failing_download()) as stream,
        parsed_batches(stream, TERMS, BA_ROWS, 500, bad, builder=BA_ROWS) as batches,
    ):
        for rows in batches:
            got += len(rows)
    assert got > 0
    assert spawns.children and reaped(spawns.children[0])


def endless() -> Iterator[bytes]:
    head = b'{"dataByDepartmentAndSearchTerm": ['
    item = json.dumps({"searchTerm": "x"}).encode() + b","
    yield head
    while True:
        yield item * 2000


def test_leaving_mid_document_kills_and_reaps_the_child_and_ends_the_feed(
    spawns: Spawns,
) -> None:
    rows = partial(rows_of, (1, 1))
    with ReadAhead(endless()) as stream:
        with parsed_batches(stream, TERMS, rows, 500, BadLines(), builder=rows) as batches:
            for _ in zip(range(5), batches, strict=False):
                pass
        [child] = spawns.children
        assert reaped(child)
    time.sleep(0.1)
    assert not [t for t in threading.enumerate() if t.name.startswith("soldscope-")]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_reaching_the_child_leaves_the_parent_in_charge(
    spawns: Spawns, signum: int
) -> None:
    body = document(3000)
    bad = BadLines()
    got: Rows = []
    with (
        ReadAhead(cut(gzip.compress(body))) as stream,
        parsed_batches(stream, TERMS, BA_ROWS, 500, bad, builder=BA_ROWS) as batches,
    ):
        for rows in batches:
            if not got:
                # The terminal's Ctrl-C goes to the process group, systemd's stop to the service.
                os.kill(spawns.children[0].pid, signum)
            got.extend(rows)
    assert len(got) == 3000


def test_a_killed_parent_leaves_no_child_running(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    code = textwrap.dedent(
        f"""
        import sys, time
        from functools import partial
        sys.path.insert(0, {str(Path(__file__).parents[2])!r})
        from soldscope_cli.sync import parser_process
        from soldscope_cli.sync.document import JsonDocument, ReadAhead
        from soldscope_cli.sync.search_term_rows import rows_of
        from tests.sync.test_parser_process import endless

        def slow():
            for chunk in endless():
                time.sleep(0.01)
                yield chunk

        rows = partial(rows_of, (1, 1))
        child = parser_process._Child.start(JsonDocument({PREFIX!r}), rows, 500)
        with ReadAhead(slow()) as stream:
            child.feed(stream)
            open({str(pid_file)!r}, "w").write(str(child.pid))
            for _ in child.batches(parser_process.BadLines()):
                pass
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 20
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline and parent.poll() is None
            time.sleep(0.05)
        child = int(pid_file.read_text())
        time.sleep(0.3)
        assert alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while alive(child):
            assert time.monotonic() < deadline, "the child outlived its killed parent"
            time.sleep(0.05)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_the_child_imports_neither_httpx_nor_the_sync_lifecycle() -> None:
    code = (
        "import sys, soldscope_cli.sync.parser_process, soldscope_cli.sync.search_term_rows\n"
        "import soldscope_cli.sync.settlement_rows, soldscope_cli.sync.order_rows\n"
        "print(sorted(m for m in ('httpx', 'soldscope_cli.sync.reports') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def parser_children(parent: int) -> list[int]:
    """The parser processes `parent` has started (and not reaped)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            command = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"parser_process" in command:
            found.append(int(proc.name))
    return found


@pytest.mark.parametrize("size", [1, 1000, SMALL - 1, SMALL, SMALL + 1, -1])
def test_the_head_read_to_decide_is_read_again_whole(size: int) -> None:
    raw = document(3000)
    with ReadAhead(cut(gzip.compress(raw))) as stream:
        head, failed = _head(stream, SMALL)
        assert len(head) == SMALL and failed is None
        replay = _Replay(head, stream, None)
        pieces = []
        while piece := replay.read(size):
            assert size < 0 or len(piece) <= size
            pieces.append(piece)
    assert b"".join(pieces) == raw


def test_a_download_failing_within_the_head_fails_after_the_bytes_before_it() -> None:
    raw = document(3000)

    before = 3 * READ_AHEAD_BLOCK  # what the read-ahead thread had handed over

    def failing() -> Iterator[bytes]:
        yield raw[:before]
        raise OSError("connection reset")

    with ReadAhead(failing()) as stream:
        head, failed = _head(stream, 2 * before)
        replay = _Replay(head, stream, failed)
        assert replay.read(before - 10) + replay.read(600) == raw[:before]
        with pytest.raises(OSError, match="connection reset"):
            replay.read(600)


def test_a_builder_that_does_not_pickle_leaves_the_document_in_process(
    spawns: Spawns,
) -> None:
    def local(records: list[Any]) -> Rows:  # a closure: not importable by the child
        return BA_ROWS(records)

    batches, _ = load(document(3000), rows=local, child=True)
    assert sum(map(len, batches)) == 3000
    assert spawns.children == []
