"""The SQLite engine of the state database (WAL, one connection per thread)."""
