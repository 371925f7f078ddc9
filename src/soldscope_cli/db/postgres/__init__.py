"""The PostgreSQL engine (team mode): the same tables, views and guarantees as db.sqlite."""
