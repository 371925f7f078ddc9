"""The kinds of alert, in one table: the events a [[notify]] target chooses, and how each is told.

`[[notify]] events` accepts these names (fleet/config.py), a message announcing several changes
counts them by label (notify/message.py), each alert's command comes from its kind's fix
(notify/alerts.py), and docs/alerts.md lists them (a test compares). Adding a kind is one
AlertKind here, listed in KINDS (a test checks none is left out), plus the function in
notify/alerts.py that decides when it is news.

It sits this low, beside status.py, because the config parser below notify/ validates the names.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How urgent the news is: a failure stops data now, a warning will if nothing is done."""

    FAILURE = "failure"
    WARNING = "warning"
    SUCCESS = "success"
    INFO = "info"


class DigestSection(StrEnum):
    """Where `soldscope digest` lists the same problem; the value is its key in `digest --json`."""

    BROKEN = "broken"
    EXPIRING = "expiring"
    STALE = "stale"
    NOT_AUTHORIZED = "not_authorized"
    CLIENT_SECRET = "client_secret_due_at"


# The fixes more than one place prints (the digest lists the same problems). CONNECT is refined by
# the store's problem (--refresh-token-stdin, --marketplace) in notify.alerts.fix_command.
CONNECT = "soldscope connect {store}"
SYNC_DATASET = "soldscope sync {store} --dataset {dataset}"
APP_FIX = "soldscope app set --client-secret-stdin"


@dataclass(frozen=True)
class AlertKind:
    """One kind of alert: its event name, its wording in a grouped title, and what fixes it."""

    name: str  # as `[[notify]] events` names it
    label: str  # counted in a grouped title: "soldscope: 3 changes (2 in error, 1 stale)"
    severity: Severity
    fix: str | None  # the command to run, with the alert's {store} and {dataset} filled in
    digest: DigestSection | None = None
    default: bool = True  # whether a [[notify]] target without `events` receives it

    def command(self, **fields: str) -> str | None:
        """The fix with the alert's fields filled in (None: nothing to run)."""
        return None if self.fix is None else self.fix.format(**fields)


ERROR = AlertKind("error", "in error", Severity.FAILURE, CONNECT, digest=DigestSection.BROKEN)
EXPIRED = AlertKind("expired", "expired", Severity.FAILURE, CONNECT, digest=DigestSection.BROKEN)
EXPIRING = AlertKind(
    "expiring", "expiring soon", Severity.WARNING, CONNECT, digest=DigestSection.EXPIRING
)
RECOVERED = AlertKind("recovered", "recovered", Severity.SUCCESS, None)
SYNC_FAILED = AlertKind("sync_failed", "sync failed", Severity.FAILURE, "soldscope sync {store}")
STALE = AlertKind("stale", "stale", Severity.WARNING, SYNC_DATASET, digest=DigestSection.STALE)
# A dataset whose role the app lost: the seller authorizes the app again once the role is added.
NOT_AUTHORIZED = AlertKind(
    "not_authorized",
    "not authorized",
    Severity.FAILURE,
    CONNECT,
    digest=DigestSection.NOT_AUTHORIZED,
)
# Data Amazon lists only for a while (settlements: 90 days) not listed for too long: what is not
# fetched soon is lost for good.
LISTING_OLD = AlertKind(
    "listing_old", "about to lose data", Severity.WARNING, SYNC_DATASET, digest=None
)
APP_REJECTED = AlertKind("app_rejected", "app rejected", Severity.FAILURE, APP_FIX)
ROTATION_DUE = AlertKind(
    "rotation_due", "rotation due", Severity.WARNING, APP_FIX, digest=DigestSection.CLIENT_SECRET
)
ROTATE_FIX = "soldscope app rotate"
SECRET_ROTATED = AlertKind("secret_rotated", "client secret rotated", Severity.SUCCESS, None)
# A rotation that did not complete (the message never came, or its secret was refused): the
# secret in use stops working at the deadline the alert gives.
ROTATION_FAILED = AlertKind("rotation_failed", "rotation failed", Severity.FAILURE, ROTATE_FIX)
INVITATION_USED = AlertKind(
    "invitation_used", "invitation used", Severity.INFO, "soldscope list {store}"
)
# Not an alert but the summary `soldscope digest` sends; a target chooses it like one.
DIGEST = AlertKind("digest", "digest", Severity.INFO, None)

# In the order config errors and docs/alerts.md list them.
KINDS: tuple[AlertKind, ...] = (
    ERROR,
    EXPIRED,
    EXPIRING,
    RECOVERED,
    SYNC_FAILED,
    STALE,
    NOT_AUTHORIZED,
    LISTING_OLD,
    APP_REJECTED,
    ROTATION_DUE,
    SECRET_ROTATED,
    ROTATION_FAILED,
    INVITATION_USED,
    DIGEST,
)
NAMES: tuple[str, ...] = tuple(kind.name for kind in KINDS)
DEFAULT_EVENTS: frozenset[str] = frozenset(kind.name for kind in KINDS if kind.default)
