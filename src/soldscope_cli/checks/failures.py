"""How a failure of one store's Amazon calls is classified, once, for validate and sync alike.

* invalid_grant → a lasting problem: the seller revoked the grant or it expired;
* a 403 from the Sellers API → a lasting problem: the store refuses this app;
* invalid_client → the app's credentials, not the store's fault;
* anything else (5xx, timeouts, throttling, a bug) → incomplete: the status must not change.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from soldscope_cli.amazon.lwa import AppCredentialsRejected, GrantRejected, LwaError
from soldscope_cli.amazon.spapi import SpapiError, SpapiForbidden
from soldscope_cli.checks.result import StoreCheck, reconnect_hint
from soldscope_cli.db.model import CHECK_APP_ERROR, CHECK_INCOMPLETE, CHECK_PROBLEM
from soldscope_cli.errors import SecretStoreError
from soldscope_cli.fleet.config import StoreRecord
from soldscope_cli.fleet.secrets import BACKENDS, SECRETS_ENV, SecretStore
from soldscope_cli.redact import redact
from soldscope_cli.status import FORBIDDEN, INVALID_GRANT, MISSING_TOKEN

log = logging.getLogger(__name__)

GRANT_REJECTED_MESSAGE = "Login with Amazon refused the refresh token: the seller revoked the authorization or it expired"


def missing_token(record: StoreRecord) -> StoreCheck:
    """The problem of a store whose refresh token is not in the secret store."""
    return StoreCheck(
        store=record.name,
        outcome=CHECK_PROBLEM,
        code=MISSING_TOKEN,
        message="no refresh token for this store in the secret store",
        hint=reconnect_hint(record),
    )


def no_tokens_found(secrets: SecretStore, stores: Sequence[str]) -> SecretStoreError:
    """The setup error of a secret store that holds none of the stores' refresh tokens."""
    which = f"any of the {len(stores)} stores" if len(stores) > 1 else repr(stores[0])
    return SecretStoreError(
        f"no refresh token for {which} in the secret store ({secrets.describe()}); nothing was "
        "checked or recorded",
        hint=f"if the tokens were stored with another backend, select it with {SECRETS_ENV}="
        f"{'|'.join(BACKENDS)} or [secrets] backend in config.toml (`soldscope app show` shows "
        "the backend in use); if they are really gone, connect each store again: "
        "soldscope connect NAME",
    )


def classify(record: StoreRecord, exc: Exception) -> StoreCheck:
    """The check outcome of an exception raised while talking to Amazon for one store."""
    name = record.name
    if isinstance(exc, AppCredentialsRejected):
        return StoreCheck(
            name, CHECK_APP_ERROR, exc.code, exc.description or str(exc), request_id=exc.request_id
        )
    if isinstance(exc, GrantRejected):
        return StoreCheck(
            name,
            CHECK_PROBLEM,
            INVALID_GRANT,
            GRANT_REJECTED_MESSAGE,
            hint=reconnect_hint(record),
            request_id=exc.request_id,
        )
    if isinstance(exc, LwaError):
        # Transient (5xx, timeouts after retries) or a refused request: nothing known about the
        # store, so its status must not change.
        return StoreCheck(
            name,
            CHECK_INCOMPLETE,
            exc.code,
            _lwa_text(exc),
            hint=exc.hint,
            request_id=exc.request_id,
        )
    if isinstance(exc, SpapiForbidden):
        message = exc.message or "Access to requested resource is denied."
        if exc.details:
            message += f" ({exc.details})"
        return StoreCheck(
            name, CHECK_PROBLEM, FORBIDDEN, message, hint=exc.hint, request_id=exc.request_id
        )
    if isinstance(exc, SpapiError):
        status = f"HTTP {exc.status} " if exc.status is not None else ""
        text = f"{status}{exc.code}" + (f": {exc.message}" if exc.message else "")
        return StoreCheck(
            name, CHECK_INCOMPLETE, exc.code, text, hint=exc.hint, request_id=exc.request_id
        )
    # A bug must not stop the other stores' checks, nor change this store's status.
    log.debug("check of %s failed unexpectedly", name, exc_info=exc)
    return StoreCheck(
        name,
        CHECK_INCOMPLETE,
        "internal_error",
        redact(f"unexpected {type(exc).__name__}: {exc}")[:300],
        hint="run again with --debug and report it",
    )


def _lwa_text(exc: LwaError) -> str:
    status = f"HTTP {exc.status}, " if exc.status is not None else ""
    detail = f": {exc.description}" if exc.description else ""
    return f"Login with Amazon did not answer the refresh ({status}{exc.code}){detail}"
