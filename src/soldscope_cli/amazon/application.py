"""The Application Management API: asking Amazon to rotate the app's LWA client secret.

https://developer-docs.amazon.com/sp-api/docs/application-management-api-v2023-11-30-use-case-guide
The call is grantless (a `client_credentials` token of the rotation scope, no seller), answers 204,
and the new secret travels only as an SQS message to the queue of the app's notification
preferences; without one Amazon answers 400 "Application is not enrolled for rotation notification".
"""

from __future__ import annotations

from soldscope_cli.amazon.clients import AmazonClients
from soldscope_cli.amazon.spapi import SpapiBadRequest, SpapiClient

ROTATE_PATH = "/applications/2023-11-30/clientSecret"
ROTATE_OPERATION = "rotateApplicationClientSecret"
ROTATION_SCOPE = "sellingpartnerapi::client_credential:rotation"
NOT_ENROLLED = "not enrolled for rotation notification"


def application_client(clients: AmazonClients) -> SpapiClient:
    """An SP-API client acting for the app itself, with a grantless token of the rotation scope."""
    lwa = clients.lwa
    return SpapiClient(
        clients.http,
        clients.endpoints.spapi_base("na"),  # the API is global; every region's host serves it
        lambda: lwa.grantless(ROTATION_SCOPE),
        store="(app)",
        limiter=clients.limiter,
        retry=clients.retry,
        clock=clients.clock,
        sleep=clients.sleep,
    )


def not_enrolled(exc: SpapiBadRequest) -> bool:
    """Whether a 400 is Amazon's "Application is not enrolled for rotation notification"."""
    return NOT_ENROLLED in (exc.message or "").lower()


def rotate_client_secret(clients: AmazonClients) -> None:
    """Ask Amazon for a new client secret (SpapiError, LwaError on failure)."""
    application_client(clients).request("POST", ROTATE_PATH, operation=ROTATE_OPERATION)
