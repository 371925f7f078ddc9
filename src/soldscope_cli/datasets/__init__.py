"""The datasets soldscope syncs, each declared once: its name, tables, defaults and options.

A declaration is plain data (it imports nothing of the app but the errors): the storage
(soldscope_cli.db) builds and reads a dataset's tables from it, config.toml takes its `[stale]`
and `[watch]` defaults and its options from it, and sync runs the sync function it names.
"""
