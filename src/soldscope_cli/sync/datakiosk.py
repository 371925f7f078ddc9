"""Data Kiosk's lifecycle for any dataset: createQuery (one token of the fleet's budget) →
getQuery until it ends → getDocument → the document's JSON lines, streamed.

https://developer-docs.amazon.com/sp-api/docs/data-kiosk-workflow-guide (FACTS.md §8): `DONE`
without a dataDocumentId means the query found no data; FATAL carries an errorDocumentId whose
document says why; results are kept 30 days, so a query in flight is resumed by the next run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from soldscope_cli.sync.base import DatasetFailed, DatasetJob, as_text
from soldscope_cli.sync.document import MAX_LINE, ChunkStream

POLL_FIRST_S = 5.0
POLL_FACTOR = 1.5
POLL_MAX_S = 60.0
READ_SIZE = 1 << 16
# Amazon's reason, as much of it as a message shows.
MAX_REASON = 500


@dataclass(frozen=True)
class Finished:
    """A query that ended DONE: its data document, or None when it found no data."""

    query_id: str
    document_id: str | None
    next_token: str | None  # more pages: createQuery again with this paginationToken


def poll(job: DatasetJob, query_id: str, label: str) -> Finished | None:
    """Wait for a query to end, within the job's report wait: Finished, or None when it is still
    processing (the next run resumes it). DatasetFailed for FATAL (with Amazon's reason) and
    CANCELLED."""
    deadline = job.clock() + timedelta(seconds=job.report_wait_s)
    delay = POLL_FIRST_S
    while True:
        job.check_stop()
        query = job.client.get_query(query_id)
        status = query.get("processingStatus")
        if status == "DONE":
            pagination = query.get("pagination")
            token = pagination.get("nextToken") if isinstance(pagination, dict) else None
            return Finished(query_id, as_text(query.get("dataDocumentId")), as_text(token))
        if status == "FATAL":
            raise DatasetFailed(
                f"{label}: Data Kiosk query {query_id} ended FATAL: {_reason(job, query)}",
                code="fatal",
            )
        if status == "CANCELLED":
            raise DatasetFailed(
                f"{label}: Data Kiosk query {query_id} was cancelled; the next sync asks again",
                code="cancelled",
            )
        if job.clock() + timedelta(seconds=delay) > deadline:
            return None
        job.progress(f"{label}: waiting for Data Kiosk")
        job.sleep(delay)
        delay = min(delay * POLL_FACTOR, POLL_MAX_S)


def _reason(job: DatasetJob, query: dict[str, Any]) -> str:
    document_id = as_text(query.get("errorDocumentId"))
    if document_id is None:
        return "Amazon gave no reason"
    text = b"".join(_document_chunks(job, document_id, limit=64 * 1024))
    try:
        body = json.loads(text)
    except ValueError:
        return text.decode("utf-8", "replace").strip()[:MAX_REASON] or "Amazon gave no reason"
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        message = as_text(errors[0].get("message")) or ""
        details = as_text(errors[0].get("details"))
        return (message + (f" ({details})" if details else ""))[:MAX_REASON]
    return json.dumps(body)[:MAX_REASON]


def _document_url(job: DatasetJob, document_id: str) -> str:
    """The document's presigned URL (valid 5 minutes: asked for when about to download)."""
    url = as_text(job.client.get_document(document_id).get("documentUrl"))
    if url is None:
        raise DatasetFailed(f"getDocument {document_id}: the answer had no documentUrl")
    return url


def _document_chunks(job: DatasetJob, document_id: str, *, limit: int | None = None) -> list[bytes]:
    url = _document_url(job, document_id)
    out: list[bytes] = []
    size = 0
    with job.client.open_document(url) as chunks:
        stream = ChunkStream(chunks)
        while piece := stream.read(READ_SIZE):
            out.append(piece)
            size += len(piece)
            if limit is not None and size >= limit:
                break
    return out


def records(job: DatasetJob, document_id: str) -> Iterator[dict[str, Any]]:
    """The document's records, one JSON object a line, streamed (numbers with a fraction as
    Decimal, so no float rounds an amount). A line that is not a JSON object is skipped."""
    url = _document_url(job, document_id)
    with job.client.open_document(url) as chunks:
        stream = ChunkStream(chunks)
        pending = b""
        while True:
            piece = stream.read(READ_SIZE)
            if not piece:
                break
            pending += piece
            *lines, pending = pending.split(b"\n")
            if len(pending) > MAX_LINE:
                raise DatasetFailed(f"Data Kiosk document {document_id}: a line over 1 MiB")
            for line in lines:
                record = _record(line)
                if record is not None:
                    yield record
        record = _record(pending)
        if record is not None:
            yield record


def _record(line: bytes) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        value = json.loads(line, parse_float=Decimal)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
