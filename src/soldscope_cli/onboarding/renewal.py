"""Renewing stores one consent after another (validate --reauthorize)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from soldscope_cli.errors import IncompleteError, SoldscopeError, UnhealthyError
from soldscope_cli.onboarding.consent_flow import (
    ConnectResult,
    ConsentRequest,
    ConsentUi,
    SellerConflict,
    run_consent,
)
from soldscope_cli.services import Services


class ClosableUi(ConsentUi, Protocol):
    """A consent UI that can clean up its countdown line."""

    def close(self) -> None: ...


def renew_stores(
    services: Services,
    names: list[str],
    *,
    make_ui: Callable[[], ClosableUi],
    say: Callable[[str], None],
    renewed: Callable[[ConnectResult], None],
    failed: Callable[[SoldscopeError], None],
) -> list[str]:
    """Renew each store through its own consent, one after another; returns those that failed."""
    not_renewed: list[str] = []
    for number, name in enumerate(names, 1):
        say(f"Renewing {name} ({number} of {len(names)})")
        ui = make_ui()
        try:
            result = run_consent(services, ConsentRequest(name=name, open_browser=True), ui)
        except (UnhealthyError, IncompleteError, SellerConflict) as exc:
            # This store's consent failed; the next store's client may be ready. Anything else
            # (configuration, secret store, a busy port) would fail every renewal: it stops.
            ui.close()
            failed(exc)
            not_renewed.append(name)
            continue
        finally:
            ui.close()
        renewed(result)
    done = len(names) - len(not_renewed)
    tail = f"; not renewed: {', '.join(not_renewed)}" if not_renewed else ""
    say(f"Renewed {done} of {len(names)} stores{tail}.")
    return not_renewed
