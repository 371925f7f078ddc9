"""The key of the `database` secret backend, and sealing values with it (AES-GCM).

Each value is sealed under a fresh 96-bit random nonce, with associated data naming the row it
belongs to (its full key name and, for a refresh token, the id of the connection it was sealed
for), so a ciphertext copied into another row does not open. One row, the key check, holds a
known text sealed under the key: a wrong key is told apart from a damaged row before anything is
written.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from soldscope_cli.db.model import SealedSecret
from soldscope_cli.errors import SecretStoreError
from soldscope_cli.fleet.quiet_run import run_quietly
from soldscope_cli.redact import register_secret

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_ENV = "SOLDSCOPE_SECRETS_KEY"
NEW_KEY_ENV = "SOLDSCOPE_NEW_SECRETS_KEY"
KEY_COMMAND_TIMEOUT_S = 30.0
KEY_BYTES = 32
NONCE_BYTES = 12
# No home key can take this name: a namespace never starts with "#".
KEY_CHECK_NAME = "#key-check"
_KEY_CHECK_TEXT = b"soldscope key check v1"
_AAD_PREFIX = b"soldscope-secret-v1"
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{43}=?$")
KEY_FIX = (
    f"set {KEY_ENV} to the key (urlsafe base64 of 32 bytes; `soldscope team new-key` makes one), "
    "or set [secrets] key_command to a command that prints it (docs/configuration.md#secrets)"
)


@dataclass(frozen=True)
class SecretsKey:
    """A 32-byte key and where it came from; repr and str never show the bytes."""

    material: bytes
    source: str  # "SOLDSCOPE_SECRETS_KEY", "[secrets] key_command", ...

    def __repr__(self) -> str:
        return f"SecretsKey(id={self.key_id}, source={self.source!r})"

    __str__ = __repr__

    @property
    def key_id(self) -> str:
        """A short fingerprint that names the key without revealing it (an HMAC, not a hash)."""
        return hmac.new(self.material, b"soldscope key id", hashlib.sha256).hexdigest()[:12]


def new_key_text() -> str:
    """A fresh random key, as SOLDSCOPE_SECRETS_KEY takes it."""
    import secrets

    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def parse_key(text: str, source: str) -> SecretsKey:
    """The key in `text` (urlsafe base64 of exactly 32 bytes, surrounding whitespace ignored)."""
    stripped = text.strip()
    if not stripped:
        raise SecretStoreError(
            f"{source} is empty: the database secret backend needs its key", KEY_FIX
        )
    register_secret(stripped)
    if not _KEY_RE.match(stripped):
        raise SecretStoreError(
            f"{source} is not a key: it must be urlsafe base64 of exactly {KEY_BYTES} bytes "
            f"(44 characters ending in =); the value is not shown",
            KEY_FIX,
        )
    material = base64.urlsafe_b64decode(stripped.rstrip("=") + "=")
    register_secret(stripped.rstrip("="))
    return SecretsKey(material, source)


def run_key_command(
    command: str,
    source: str,
    timeout: float = KEY_COMMAND_TIMEOUT_S,
    env: Mapping[str, str] | None = None,
) -> str:
    """The stdout of a key command, run without a shell; its stderr is never shown.

    It sees only quiet_run.helper_environment() of `env` (os.environ when None)."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise SecretStoreError(f"{source} cannot be split into words: {exc}", KEY_FIX) from None
    if not argv:
        raise SecretStoreError(f"{source} is empty", KEY_FIX)
    done = run_quietly(
        argv,
        what=f"{source}: {argv[0]!r}",
        fix=KEY_FIX,
        timeout=timeout,
        env=env,
        waiting=" (waiting for a password prompt nobody can see?)",
    )
    # stderr may quote what the command read: it is dropped, not echoed.
    if done.returncode != 0:
        raise SecretStoreError(
            f"{source}: {argv[0]!r} exited with status {done.returncode} (its error output is "
            "not shown: run the command yourself to see it)",
            KEY_FIX,
        )
    try:
        return done.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretStoreError(
            f"{source}: {argv[0]!r} printed something that is not text", KEY_FIX
        ) from None


def load_key(env: Mapping[str, str], key_command: str | None) -> SecretsKey:
    """The key from SOLDSCOPE_SECRETS_KEY, else from [secrets] key_command; an error without one."""
    text = env.get(KEY_ENV)
    if text is not None and text.strip():
        return parse_key(text, KEY_ENV)
    if key_command:
        source = "[secrets] key_command"
        return parse_key(run_key_command(key_command, source, env=env), source)
    raise SecretStoreError(
        f"the database secret backend needs a key, and neither {KEY_ENV} nor [secrets] "
        "key_command is set; nothing was read or written",
        KEY_FIX,
    )


def associated_data(name: str, store_id: int | None) -> bytes:
    """What a ciphertext is bound to: its row's full key name and the connection it belongs to."""
    return b"\0".join(
        (_AAD_PREFIX, name.encode("utf-8"), b"" if store_id is None else str(store_id).encode())
    )


class Sealer:
    """Seals and opens values under one key."""

    def __init__(self, key: SecretsKey) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.key = key
        self._aead: AESGCM = AESGCM(key.material)

    def seal(self, name: str, value: bytes, store_id: int | None = None) -> SealedSecret:
        """A row holding `value`, under a fresh random nonce."""
        import os

        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._aead.encrypt(nonce, value, associated_data(name, store_id))
        return SealedSecret(name, nonce, ciphertext, store_id)

    def open(self, row: SealedSecret) -> bytes | None:
        """The value of a row, or None when it does not open under this key for this row."""
        from cryptography.exceptions import InvalidTag

        try:
            return self._aead.decrypt(
                row.nonce, row.ciphertext, associated_data(row.name, row.store_id)
            )
        except (InvalidTag, ValueError):
            return None

    def key_check(self) -> SealedSecret:
        """A fresh key-check row for this key."""
        return self.seal(KEY_CHECK_NAME, _KEY_CHECK_TEXT)

    def opens_check(self, row: SealedSecret) -> bool:
        """Whether a key-check row was sealed under this key."""
        return row.name == KEY_CHECK_NAME and self.open(row) == _KEY_CHECK_TEXT
