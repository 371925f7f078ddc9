"""Search terms documents: streamed in bounded memory, and fast enough for 100k+ rows/s consumers."""

from __future__ import annotations

import json
import time
import tracemalloc
import zlib

import httpx
import pytest

from soldscope_cli.simulator import Simulator
from soldscope_cli.simulator.search_terms import document_pieces, gzip_stream

from .support import NA_SELLER, US, access_token, auth

SPEC = {"reportType": "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT", "marketplaceIds": [US]}


def document_url(sim: Simulator, client: httpx.Client, **seller: int) -> str:
    sim.update_seller(NA_SELLER, seller)
    token = access_token(sim, client)
    body = {
        "reportType": "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT",
        "reportOptions": {"reportPeriod": "WEEK"},
        "dataStartTime": "2026-02-22",
        "dataEndTime": "2026-02-28",
        "marketplaceIds": [US],
    }
    report_id = client.post("/reports/2021-06-30/reports", json=body, headers=auth(token)).json()[
        "reportId"
    ]
    report = {}
    for _ in range(3):
        report = client.get(f"/reports/2021-06-30/reports/{report_id}", headers=auth(token)).json()
    document = client.get(
        f"/reports/2021-06-30/documents/{report['reportDocumentId']}", headers=auth(token)
    ).json()
    return str(document["url"])


def _peak_while_streaming(rows: int) -> tuple[int, int]:
    """(peak traced bytes, JSON bytes) while gzip-streaming a document of `rows` rows."""
    raw = 0
    tracemalloc.start()
    try:
        pieces = document_pieces(
            SPEC, seed_parts=("s",), all_department_name="Amazon.com", rows=rows
        )
        for chunk in gzip_stream(pieces):
            assert len(chunk) < 1_000_000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    for piece in document_pieces(
        SPEC, seed_parts=("s",), all_department_name="Amazon.com", rows=rows
    ):
        raw += len(piece)
    return peak, raw


def test_memory_does_not_grow_with_the_document() -> None:
    small_peak, _ = _peak_while_streaming(4_000)
    big_peak, big_raw = _peak_while_streaming(20_000)
    assert big_raw > 4_000_000
    assert big_peak < small_peak * 1.5, (small_peak, big_peak)
    assert big_peak < big_raw / 2


def test_rows_are_a_function_of_their_index() -> None:
    def text(rows: int) -> str:
        return "".join(
            document_pieces(SPEC, seed_parts=("a", "b"), all_department_name="X", rows=rows)
        )

    short, long = json.loads(text(9_000)), json.loads(text(12_000))
    assert long["dataByDepartmentAndSearchTerm"][:9_000] == short["dataByDepartmentAndSearchTerm"]


def test_served_rate_is_well_over_100k_rows_per_second(
    sim: Simulator, client: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    url = document_url(sim, client, search_terms_rows=300_000)
    inflate = zlib.decompressobj(31)
    started = time.perf_counter()
    raw = wire = 0
    tail = b""
    rows = 0
    with client.stream("GET", url) as response:
        for chunk in response.iter_raw():
            wire += len(chunk)
            data = inflate.decompress(chunk)
            raw += len(data)
            # Count row openings, carrying a little tail so a marker split across chunks counts once.
            window = tail + data
            rows += window.count(b'{"departmentName"')
            tail = window[-20:]
            rows -= tail.count(b'{"departmentName"')
    rows += tail.count(b'{"departmentName"')
    elapsed = time.perf_counter() - started
    assert rows == 300_000
    rate = rows / elapsed
    with capsys.disabled():
        print(
            f"\nsearch terms over loopback: {rate:,.0f} rows/s, {raw / elapsed / 1e6:.1f} MB/s JSON, "
            f"{wire / elapsed / 1e6:.1f} MB/s gzip"
        )
    assert rate > 100_000


def test_client_hanging_up_mid_document_is_harmless(sim: Simulator, client: httpx.Client) -> None:
    url = document_url(sim, client, search_terms_bytes=5_000_000_000)
    with httpx.Client(timeout=10) as other, other.stream("GET", url) as response:
        first = next(response.iter_raw())
        assert first[:2] == b"\x1f\x8b"  # gzip magic; then we walk away from a 5 GB document
    assert client.get("/_admin/health").status_code == 200
