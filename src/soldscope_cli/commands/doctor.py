"""`soldscope doctor`: what is wrong with this machine's setup, and how to fix it."""

from __future__ import annotations

import os
from collections import Counter
from typing import IO, TYPE_CHECKING, Annotated

import typer

from soldscope_cli.commands.common import get_context
from soldscope_cli.context import AppContext

if TYPE_CHECKING:
    import httpx

    from soldscope_cli.doctor import CheckResult, DoctorInputs
    from soldscope_cli.fleet.secrets import SecretStore

SYMBOLS = {"ok": "✓", "skip": "-", "warn": "!", "fail": "✗"}
# For terminals and pipes whose encoding has no ✓ and ✗ (LANG=C on older systems, cp1252).
ASCII_SYMBOLS = {"ok": "ok  ", "skip": "skip", "warn": "warn", "fail": "FAIL"}
STYLES = {"ok": "green", "skip": "dim", "warn": "yellow", "fail": "bold red"}


def doctor_inputs(app: AppContext, offline: bool) -> DoctorInputs:
    """The real machine as the checks see it (tests build DoctorInputs with fakes instead)."""
    from soldscope_cli.doctor import DoctorInputs
    from soldscope_cli.doctor.model import NETWORK_TIMEOUT_S, SECRET_PROBE_TIMEOUT_S

    def open_store(configured: str | None) -> SecretStore:
        if app.secret_store_override is not None:
            return app.secret_store_override
        from soldscope_cli.fleet.secrets import (
            KeyringSecretStore,
            NamespacedSecretStore,
            open_backend,
        )

        store = open_backend(app.env, configured, app.paths.secrets_file)
        if isinstance(store, KeyringSecretStore):
            # doctor reports a silent keyring itself; it must not wait the full command timeout.
            store.timeout = min(store.timeout, SECRET_PROBE_TIMEOUT_S)
        # This home's view: describe() names the namespace; reading never creates one.
        return NamespacedSecretStore(store, app.config_file)

    def make_http() -> httpx.Client:
        import httpx

        from soldscope_cli.amazon.http import make_http_client

        return make_http_client(
            transport=app.http_transport, timeout=httpx.Timeout(NETWORK_TIMEOUT_S), env=app.env
        )

    return DoctorInputs(
        env=app.env,
        paths=app.paths,
        clock=app.clock,
        monotonic=app.monotonic,
        open_secret_store=open_store,
        make_http=make_http,
        uid=os.geteuid(),
        offline=offline,
        sandbox=app.sandbox,
    )


def can_encode(stream: IO[str], text: str) -> bool:
    """Whether the stream's encoding can write text (no encoding attribute means Unicode)."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def tally(results: list[CheckResult]) -> str:
    """'2 failed, 1 warning, 14 ok, 1 skipped'."""
    counts = Counter(r.status.value for r in results)
    parts = []
    for key, one, many in (
        ("fail", "failed", "failed"),
        ("warn", "warning", "warnings"),
        ("ok", "ok", "ok"),
        ("skip", "skipped", "skipped"),
    ):
        if counts[key]:
            parts.append(f"{counts[key]} {one if counts[key] == 1 else many}")
    return ", ".join(parts)


def render_text(app: AppContext, results: list[CheckResult]) -> None:
    """One line per check, each warning and failure followed by its fix."""
    symbols = SYMBOLS if can_encode(app.stdout, "".join(SYMBOLS.values())) else ASCII_SYMBOLS
    if app.policy.rich:
        from rich.text import Text

        for result in results:
            key = result.status.value
            line = Text()
            line.append(symbols[key], style=STYLES[key])
            line.append(f" {result.title}: ", style="bold")
            line.append(result.detail)
            app.out.print(line)
            if result.fix and key in ("warn", "fail"):
                app.out.print(Text(f"    fix: {result.fix}", style="cyan"))
        app.out.print(tally(results), markup=False)
        return
    lines = []
    for result in results:
        key = result.status.value
        lines.append(f"{symbols[key]} {result.title}: {result.detail}")
        if result.fix and key in ("warn", "fail"):
            lines.append(f"    fix: {result.fix}")
    lines.append(tally(results))
    app.stdout.write("\n".join(lines) + "\n")
    app.stdout.flush()


def doctor_command(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array of {id, title, status, detail, fix}.")
    ] = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Skip the network checks (DNS, TLS, clock skew).")
    ] = False,
) -> None:
    """Check this machine's setup and say how to fix what is wrong.

    Versions, directories and file permissions, the config file, the secret store (a round trip
    of a throwaway secret), the app's credentials, Amazon's hosts (DNS, TLS, clock skew; not with
    --offline), the consent callback port, the database, the sync lock and each store's expiry.
    Changes nothing. Exit 1 when a check fails (✗), else 0; warnings (!) do not fail the run.

    Examples:
      soldscope doctor
      soldscope doctor --offline
      soldscope doctor --json | jq '.[] | select(.status == "fail")'
    """
    from soldscope_cli.doctor import exit_code, run_doctor

    app = get_context(ctx)
    results = run_doctor(doctor_inputs(app, offline))
    if as_json:
        from soldscope_cli.output.terminal import print_json

        print_json(app.stdout, [r.to_json() for r in results])
    else:
        render_text(app, results)
    code = exit_code(results)
    if code:
        raise typer.Exit(code)
