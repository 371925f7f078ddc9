"""Refresh tokens no store uses: a connect killed between storing a new store's token and
writing its record left them, and nothing else lists them.

The ledger names every new store's token before it is stored (a `token_written` event); a name
it names that has no store and whose token is still in the secret store is such a leftover.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from soldscope_cli.doctor.model import CheckResult, Level
from soldscope_cli.fleet.secrets import BATCH_SIZE, SecretStore, read_many, token_key

CHECK_ID = "leftover-tokens"
TITLE = "Leftover tokens"


def check_leftover_tokens(
    written: Mapping[str, datetime], stores: Collection[str], secrets: SecretStore
) -> list[CheckResult]:
    """One failing line per leftover token, oldest first; nothing when there is none.

    `written` is the ledger's names with their newest token_written time (one read); only the
    names without a store are looked up in the secret store, in batches where it can.
    """
    candidates = sorted(name for name in written if name not in stores)
    found: dict[str, str | None] = {}
    for start in range(0, len(candidates), BATCH_SIZE):
        batch = candidates[start : start + BATCH_SIZE]
        found.update(read_many(secrets, [token_key(name) for name in batch]))
    leftovers = sorted(
        (name for name in candidates if found.get(token_key(name)) is not None),
        key=lambda name: (written[name], name),
    )
    return [
        CheckResult(
            f"leftover-token:{name}",
            f"Leftover token {name}",
            Level.FAIL,
            f"a refresh token stored on {written[name]:%Y-%m-%d %H:%M} UTC by a connect that "
            "did not finish: no store uses it, nothing lists it, and Amazon's grant is still live",
            f"soldscope delete {name}",
        )
        for name in leftovers
    ]
