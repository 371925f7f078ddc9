"""`soldscope doctor`: what is wrong with this machine's setup, and how to fix it."""

from __future__ import annotations

from typing import Annotated

import typer

from soldscope_cli.commands.common import get_context


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

    Versions, directories and file permissions, the config file, the secret store (a round trip of a throwaway secret), the app's credentials, Amazon's hosts (DNS, TLS, clock skew; not with --offline), the consent callback port, the database, the sync lock, each store's expiry and refresh tokens no store uses (left by a connect that was killed). Changes nothing. Exit 1 when a check fails (✗), else 0; warnings (!) do not fail the run.

    Examples:
      soldscope doctor
      soldscope doctor --offline
      soldscope doctor --json | jq '.[] | select(.status == "fail")'
    """
    from soldscope_cli.doctor import exit_code, run_doctor

    app = get_context(ctx)
    results = run_doctor(app.doctor_inputs(offline=offline))
    if as_json:
        from soldscope_cli.output.jsonout import print_json

        print_json(app.stdout, [r.to_json() for r in results])
    else:
        from soldscope_cli.output.doctor import render_text

        render_text(app, results)
    code = exit_code(results)
    if code:
        raise typer.Exit(code)
