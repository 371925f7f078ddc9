"""Seller Central's website consent round trip: state, consent URL, loopback listener, pages.

Owns the sockets and threads of the 127.0.0.1 callback listener, the self-contained result pages
and parsing a pasted address. Knows nothing of stores, tokens or storage: must not import fleet,
db, checks, onboarding, commands, output or Typer.
"""
