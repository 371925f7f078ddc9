"""The state database: the only code that speaks SQL.

db owns soldscope's own state (connections' ids in `stores`, check history, event log, sync runs
and cursors) and the synced data tables, their ordered migrations and every query on them.
`db.model` holds the engine-neutral records and `db.interface` what the rest of the app relies on;
`db.tables` holds every table's code, written once on `db.sql`'s call shape, and each engine
(`db.sqlite`: WAL, one connection per thread; `db.postgres`: team mode) adds its connections,
transactions, dialect and migrations. Only the composition root (`context.py`) picks an engine.
db must never import amazon, sync, commands, checks, typer or httpx: opening the database stays
cheap and free of import cycles, and callers hand it plain rows.
"""
