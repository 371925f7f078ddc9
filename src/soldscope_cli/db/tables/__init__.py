"""Table code written once for both engines, on db.sql's `Tx` and the engine's dialect."""
