"""Talking to Amazon: Login with Amazon, the SP-API client, HTTP, retries, rate limits, endpoints.

Owns the wire: request signing-free OAuth calls, typed errors for every way Amazon fails, backoff
with jitter, per-operation token buckets, the marketplace table and which hosts to call. Knows
nothing of stores' records, storage or the terminal: must not import fleet, db, checks, sync,
commands, output, the context or Typer.
"""
