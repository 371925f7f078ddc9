"""`soldscope serve`: answer invitation links and Amazon's consent callback over HTTP."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Annotated

import typer

from soldscope_cli.commands.common import get_context, rotate_if_due
from soldscope_cli.context import AppContext

DEFAULT_LISTEN = "127.0.0.1:8400"  # web/server.py has the same default; this module stays light


def serve_command(
    ctx: typer.Context,
    listen: Annotated[
        str,
        typer.Option("--listen", metavar="HOST:PORT", help="Address to listen on."),
    ] = DEFAULT_LISTEN,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            metavar="ADDRESS",
            help="A reverse proxy (address or network) whose X-Forwarded-Proto/Host/For headers are believed (repeatable).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve invitation links and the consent callback, with the same config, secrets and database as the CLI.

    A seller who opens a link from `soldscope invite` is sent to Seller Central's consent page; Amazon's answer comes back to the redirect URI's path, where serve exchanges the code, checks the token live and stores the store. Invitation links live at <public URL>/invite/<token>: \\[serve] public_url in config.toml or SOLDSCOPE_PUBLIC_URL, else the redirect URI's scheme and host. \\[serve] agency_name and \\[\\[notify]] are read again when config.toml changes, without a restart. Ctrl-C or SIGTERM stop it cleanly. Put it behind an HTTPS reverse proxy (docs/serve.md).

    Examples:
      soldscope serve
      soldscope serve --listen 127.0.0.1:8400 --trusted-proxy 127.0.0.1
    """
    app = get_context(ctx)
    run_serve(app, listen, list(trusted_proxy or []))


def run_serve(app: AppContext, listen: str, trusted_proxies: list[str]) -> None:
    """Check everything, bind, then serve until a signal."""
    from soldscope_cli.fleet.config import format_time
    from soldscope_cli.web.app import build_app
    from soldscope_cli.web.server import abandoned_requests, bind, plan_serve, run

    plan = plan_serve(app, listen, trusted_proxies)
    # Opened now, on this thread: a locked keyring or an unwritable database stops serve here,
    # not on a seller's click; the pooled HTTP client is shared by the handler threads.
    app.database().states([])
    app.secret_store()
    app.http()
    sock = bind(plan.host, plan.port)
    write_lock = threading.Lock()

    def line(text: str) -> None:
        with write_lock:
            app.stderr.write(f"{format_time(app.clock())} {text}\n")
            app.stderr.flush()

    def access(text: str) -> None:
        line(f"access {text}")

    def stopped(sig: int) -> None:
        line(f"stopping ({signal.Signals(sig).name})")

    asgi = build_app(
        app,
        plan.settings,
        say=line,
        access_log=access,
        monotonic=app.monotonic,
        notifier=app.notifier,
    )
    where = f"{plan.host}:{sock.getsockname()[1]}"
    line(
        f"serving on http://{where}: callback {plan.redirect_uri}, invitation links "
        f"{plan.public_url}/invite/…"
    )
    if not app.config().serve.agency_name:
        line(
            "warning: [serve] agency_name is not set, so sellers' pages name no one to contact; "
            'add agency_name = "Your Agency" under [serve] in config.toml (read without a restart)'
        )
    done = threading.Event()
    rotation = threading.Thread(
        target=_rotate_while_serving, args=(app, line, done), name="rotation", daemon=True
    )
    rotation.start()
    try:
        run(asgi, sock, stopped, trusted_proxies=plan.settings.trusted_proxies, say=line)
    finally:
        done.set()
    stuck = abandoned_requests()
    if stuck:
        # Python would wait for those threads at exit (up to their HTTP timeout): a stopped
        # server must end now, as systemd's stop expects.
        line(f"stopped; {stuck} request(s) still waiting on Amazon were abandoned")
        app.stdout.flush()
        os._exit(0)
    line("stopped")


# How often serve looks at the rotation queue (a new secret waits there up to 7 days).
ROTATION_EVERY_S = 15 * 60.0


def _rotate_while_serving(
    app: AppContext, line: Callable[[str], None], done: threading.Event
) -> None:
    """Automatic rotation beside the server: at start, then every ROTATION_EVERY_S."""
    while not done.is_set():
        said = rotate_if_due(app)
        if said is not None:
            line(said)
        done.wait(ROTATION_EVERY_S)
