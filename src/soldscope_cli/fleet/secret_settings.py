"""[secrets] settings beyond the backend's name: the key command and the command templates.

Its own module because config.py, secrets.py and the backends all read it, and the backends are
imported by secrets.py's registry.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SecretsSettings:
    """`key_command` (database backend) and the `get`/`set`/`delete` templates (command backend)."""

    key_command: str | None = None
    get: str | None = None
    set: str | None = None
    delete: str | None = None
