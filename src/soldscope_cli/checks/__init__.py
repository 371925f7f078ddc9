"""Live checks of stores: one store's check, the classification of its failures, many at once.

Owns what "invalid_grant", "forbidden", "missing token" and "the app was rejected" mean for a
store's status, for validate and sync alike, and records each check with its event. Must not
import commands, output, onboarding, sync, the context or Typer.
"""

# How many stores validate checks at once (its --concurrency default).
DEFAULT_CONCURRENCY = 8
