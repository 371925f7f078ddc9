"""`soldscope doctor`: what is wrong with this machine's setup, and how to fix it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from soldscope_cli.commands.common import get_context
from soldscope_cli.context import AppContext

if TYPE_CHECKING:
    import httpx

    from soldscope_cli.doctor import DoctorInputs
    from soldscope_cli.fleet.secrets import SecretStore


def doctor_inputs(app: AppContext, offline: bool) -> DoctorInputs:
    """The real machine as the checks see it (tests build DoctorInputs with fakes instead)."""
    from soldscope_cli.doctor import DoctorInputs
    from soldscope_cli.doctor.model import NETWORK_TIMEOUT_S, SECRET_PROBE_TIMEOUT_S

    def open_store(configured: str | None) -> SecretStore:
        if app.secret_store_override is not None:
            return app.secret_store_override
        from soldscope_cli.fleet.secrets import KeyringSecretStore, open_secret_store

        store = open_secret_store(app.env, configured, app.paths.secrets_file)
        if isinstance(store, KeyringSecretStore):
            # doctor reports a silent keyring itself; it must not wait the full command timeout.
            store.timeout = min(store.timeout, SECRET_PROBE_TIMEOUT_S)
        return store

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
        from soldscope_cli.output.jsonout import print_json

        print_json(app.stdout, [r.to_json() for r in results])
    else:
        from soldscope_cli.output.doctor import render_text

        render_text(app, results)
    code = exit_code(results)
    if code:
        raise typer.Exit(code)
