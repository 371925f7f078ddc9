"""Delivering messages through Apprise, every target at once, each within a bounded wait.

Apprise is imported here, when something is sent, never on the path of `soldscope list`. A target
that is down or slow costs at most TIMEOUT_S: its send runs on a daemon thread that is abandoned
(and dies with the process) when it has not answered in time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from soldscope_cli.notify.targets import Target
from soldscope_cli.redact import redact

TIMEOUT_S = 8.0

# Sends one message to one URL; returns None when delivered, else why not.
SendFn = Callable[[str, str, str], "str | None"]


def apprise_send(url: str, title: str, body: str) -> str | None:
    """Send through Apprise: None when delivered, else a reason (never the URL)."""
    import apprise

    # Apprise logs its failures with the URL's parts: never to this terminal.
    logger = logging.getLogger("apprise")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    logger.propagate = False
    sender = apprise.Apprise()
    if not sender.add(url):
        return "not a URL Apprise understands (see docs/alerts.md)"
    try:
        delivered = sender.notify(title=title, body=body)
    except Exception as exc:  # a plugin's bug must not break the command
        return redact(f"{type(exc).__name__}: {exc}")
    return None if delivered else "the service did not accept the message"


@dataclass(frozen=True)
class Delivery:
    target: Target
    error: str | None  # None: delivered

    @property
    def ok(self) -> bool:
        return self.error is None


class Notifier:
    """The configured targets and the way to reach them."""

    def __init__(
        self,
        targets: Sequence[Target],
        *,
        send: SendFn = apprise_send,
        timeout: float = TIMEOUT_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.targets = list(targets)
        self.send = send
        self.timeout = timeout
        self.monotonic = monotonic

    def deliver(self, messages: Sequence[tuple[Target, str, str]]) -> list[Delivery]:
        """Send each (target, title, body) concurrently; wait at most `timeout` for all."""
        results: dict[int, str | None] = {}

        def run(index: int, target: Target, title: str, body: str) -> None:
            try:
                results[index] = self.send(target.url, title, body)
            except Exception as exc:
                results[index] = redact(f"{type(exc).__name__}: {exc}")

        threads = [
            threading.Thread(target=run, args=(i, *message), name="soldscope-notify", daemon=True)
            for i, message in enumerate(messages)
        ]
        for thread in threads:
            thread.start()
        deadline = self.monotonic() + self.timeout
        for thread in threads:
            thread.join(max(0.0, deadline - self.monotonic()))
        out: list[Delivery] = []
        for i, (target, _, _) in enumerate(messages):
            if i in results:
                out.append(Delivery(target, results[i]))
            else:
                out.append(Delivery(target, f"no answer within {self.timeout:g} s"))
        return out
