"""What people and scripts see: terminal policy (TTY, colour, width), tables, JSON, progress.

Renders the results the use cases return; decides nothing about stores. Must not import the
context, commands or Typer. Keep this package's __init__ empty: `list` imports parts of it and
must stay fast.
"""
