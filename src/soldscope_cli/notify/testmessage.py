"""`soldscope notify test`: one test message to every target, and which ones failed."""

from __future__ import annotations

import socket

from soldscope_cli.notify.sender import Delivery, Notifier


def send_test(notifier: Notifier, store_count: int) -> list[Delivery]:
    """Send every target the test message; one Delivery per target, in the targets' order."""
    title = "soldscope: test message"
    body = (
        f"This target receives soldscope's alerts from {socket.gethostname()} "
        f"({store_count} store{'s' if store_count != 1 else ''} configured): stores in error, "
        "expired or expiring soon, failed syncs, stale data, the app secret's rotation and "
        "invitation links used. Nothing is wrong."
    )
    return notifier.deliver([(target, title, body) for target in notifier.targets])
