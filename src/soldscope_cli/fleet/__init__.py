"""The agency's fleet on this machine: config.toml, secret backends, paths, and the store rows.

Owns the store records and the app settings (strict parsing, atomic writes under a lock), the
secret backends by name (keyring, file, memory), the code that changes a store's record and its
secret together (connections.py), and the rows `list` shows. May use amazon/ for the marketplace
table and db/ for state; must not import checks, sync, onboarding, commands, output or Typer.
"""
