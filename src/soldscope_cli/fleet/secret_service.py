"""Many secrets of a Secret Service (gnome-keyring, KeePassXC) read on one connection.

keyring's Secret Service backend opens a new D-Bus connection for every read, looks the
default collection up, asks to unlock it and the item, and negotiates a new encrypted session
(a Diffie-Hellman exchange): about 17 ms a secret, most of `validate`'s time on a large home.
read_secrets does that once for a whole batch: one connection, one session, one search per
key, one Unlock for the items found and one GetSecrets for all of them. The calls are made one
after another, never concurrently (gnome-keyring-daemon crashes under concurrent reads).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from typing import Any

SECRET_SERVICE_BACKEND = "keyring.backends.SecretService"


def is_secret_service(backend: Any) -> bool:
    """True for keyring's Secret Service backend (the one read_secrets knows how to batch)."""
    return type(backend).__module__ == SECRET_SERVICE_BACKEND


def read_secrets(backend: Any, service: str, usernames: Sequence[str]) -> dict[str, str | None]:
    """Each username's secret (None when absent), as backend.get_password would read them."""
    from keyring.errors import KeyringLocked
    from secretstorage.defines import SS_PATH, SS_PREFIX
    from secretstorage.util import DBusAddressWrapper, open_session, unlock_objects

    # The same collection, unlocked the same way, as get_password uses.
    collection = backend.get_preferred_collection()
    connection = collection.connection
    with closing(connection):
        search = DBusAddressWrapper(
            collection.collection_path, SS_PREFIX + "Collection", connection
        )
        found: dict[str, str] = {}
        for username in usernames:
            (paths,) = search.call("SearchItems", "a{ss}", backend._query(service, username))
            if paths:
                found[username] = paths[0]  # get_password returns the first match too
        result: dict[str, str | None] = dict.fromkeys(usernames)
        if not found:
            return result
        paths = sorted(set(found.values()))
        if unlock_objects(connection, paths):
            raise KeyringLocked("Failed to unlock the items!")
        session = open_session(connection)
        secret_service = DBusAddressWrapper(SS_PATH, SS_PREFIX + "Service", connection)
        (secrets,) = secret_service.call("GetSecrets", "aoo", paths, session.object_path)
        for username, path in found.items():
            if path in secrets:
                result[username] = _decrypt(session, secrets[path]).decode("utf-8")
        return result


def _decrypt(session: Any, secret: Any) -> bytes:
    """The plain bytes of a Secret Service secret (session, parameters, value, content type)."""
    if not session.encrypted:
        return bytes(secret[2])
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    decryptor = Cipher(algorithms.AES(session.aes_key), modes.CBC(bytes(secret[1]))).decryptor()
    padded = decryptor.update(bytes(secret[2])) + decryptor.finalize()
    return padded[: -padded[-1]]
