"""The state database: the only code that speaks SQL.

db owns soldscope's own state (connections' ids in `stores`, check history, event log, sync runs
and cursors) and the synced data tables, their ordered migrations and every query on them.
`db.model` holds the engine-neutral records and `db.interface` the Protocols the rest of the app
relies on; `db.sqlite` implements them on SQLite (WAL, one connection per thread), and a second
engine (PostgreSQL) plugs in beside it behind the same interface. The composition root
(`context.py`) builds the database with its migration list. db must never import amazon, sync,
commands, checks, typer or httpx: opening the database stays cheap and free of import cycles, and
callers hand it plain rows.
"""
