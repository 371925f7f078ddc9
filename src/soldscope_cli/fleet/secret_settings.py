"""[secrets] settings beyond the backend's name: the key command and the command templates.

Its own module because config.py, secrets.py and the backends all read it, and the backends are
imported by secrets.py's registry; config.py (which `list` loads) must not pull in subprocess.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

# The command backend's templates, as [secrets] names them.
OPERATIONS = ("get", "set", "delete")


@dataclass(frozen=True)
class SecretsSettings:
    """`key_command` (database backend) and the `get`/`set`/`delete` templates (command backend)."""

    key_command: str | None = None
    get: str | None = None
    set: str | None = None
    delete: str | None = None


def template_problem(template: object) -> str | None:
    """Why a [secrets] get/set/delete value is not a usable template, or None."""
    if not isinstance(template, str) or not template.strip():
        return "must be a non-empty command string"
    try:
        words = shlex.split(template)
    except ValueError as exc:
        return f"cannot be split into words ({exc})"
    if not words:
        return "must name a command"
    if "{key}" in words[0]:
        return "must not put {key} in the program name"
    if not any("{key}" in word for word in words):
        return "must contain {key}, where the secret's name goes"
    return None
