"""`soldscope app set|show`: the SP-API application's credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from soldscope_cli.commands.common import get_context
from soldscope_cli.context import AppContext
from soldscope_cli.errors import SecretStoreError, UsageError
from soldscope_cli.fleet.app_credentials import (
    CLIENT_SECRET_ENV,
    resolve_app,
    secret_due,
    secret_rotation_state,
)
from soldscope_cli.fleet.app_settings import AppSetRequest, check_values, run_app_set
from soldscope_cli.fleet.config import format_time
from soldscope_cli.fleet.secrets import backend_choice

INSECURE_WARNING = (
    "warning: secrets are kept in a plaintext file (the file backend); prefer the OS keyring "
    "where one is available: `soldscope secrets move --to keyring`"
)

app_app = typer.Typer(
    help="Register and inspect the SP-API application's credentials.", no_args_is_help=True
)


def app_report(ctx: AppContext) -> dict[str, Any]:
    """Everything about the app but the secret itself."""
    config = ctx.config()
    now = ctx.clock()
    backend, backend_source = backend_choice(ctx.env, config.secrets_backend)
    store_error: str | None = None
    creds = None
    try:
        creds = resolve_app(config.app, ctx.env, ctx.secret_store)
    except SecretStoreError as exc:
        store_error = exc.message
        creds = resolve_app(config.app, ctx.env, None)
    set_at: datetime | None = config.app.client_secret_set_at
    from_env = CLIENT_SECRET_ENV in creds.sources.get("client_secret", "")
    secret: dict[str, Any] = {
        "stored": bool(creds.client_secret),
        "source": creds.sources.get("client_secret"),
        "backend": backend,
        "backend_source": backend_source,
        "backend_insecure": backend == "file",
        "backend_error": store_error,
        "set_at": None if set_at is None or from_env else format_time(set_at),
        "age_days": None if set_at is None or from_env else (now - set_at).days,
        "rotation_due": None if set_at is None or from_env else format_time(secret_due(set_at)),
        "rotation": "unknown" if from_env else secret_rotation_state(set_at, now),
    }
    return {
        "application_id": creds.application_id,
        "client_id": creds.client_id,
        "redirect_uri": creds.redirect_uri,
        "draft": creds.draft,
        "sources": {k: v for k, v in creds.sources.items() if k != "client_secret"},
        "client_secret": secret,
        "config_file": str(ctx.paths.config_file),
    }


def _read_secret(ctx: AppContext, from_stdin: bool) -> str:
    if from_stdin:
        value = ctx.stdin.read().strip()
    elif ctx.can_prompt:
        value = typer.prompt("LWA client secret", hide_input=True).strip()
    else:
        raise UsageError(
            "no terminal to ask for the LWA client secret",
            hint='pipe it in: `printf %s "$SECRET" | soldscope app set --client-secret-stdin`',
        )
    if not value:
        raise UsageError("the LWA client secret is empty", hint="paste the secret, then Enter")
    return value


@app_app.command("set")
def app_set(
    ctx: typer.Context,
    app_id: Annotated[
        str | None,
        typer.Option("--app-id", help="App ID (amzn1.sp.solution.…).", show_default=False),
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option(
            "--client-id",
            help="The LWA client identifier from Solution Provider Portal.",
            show_default=False,
        ),
    ] = None,
    redirect_uri: Annotated[
        str | None,
        typer.Option(
            "--redirect-uri",
            help="The OAuth redirect URI registered for the app (https).",
            show_default=False,
        ),
    ] = None,
    draft: Annotated[
        bool | None,
        typer.Option(
            "--draft/--no-draft",
            help="The app is still in Draft (consent needs version=beta).",
            show_default=False,
        ),
    ] = None,
    client_secret_stdin: Annotated[
        bool,
        typer.Option(
            "--client-secret-stdin", help="Read the LWA client secret from standard input."
        ),
    ] = False,
    new_secret: Annotated[
        bool,
        typer.Option("--new-secret", help="Ask for a new client secret even if one is stored."),
    ] = False,
) -> None:
    """Register the SP-API application: ids and redirect URI in config, the secret in the keyring.

    The client secret is asked for (hidden) on a terminal when none is stored yet or with --new-secret; scripts pipe it with --client-secret-stdin.

    Examples:
      soldscope app set --app-id amzn1.sp.solution.… \\
          --client-id amzn1.application-oa2-client.… \\
          --redirect-uri https://example.com/soldscope/
      printf %s "$NEW_SECRET" | soldscope app set --client-secret-stdin
    """
    ctx_obj = get_context(ctx)
    # Refuse bad values before asking anyone to paste a secret.
    check_values(AppSetRequest(app_id, client_id, redirect_uri, draft))
    secret: str | None = None
    if client_secret_stdin or new_secret:
        secret = _read_secret(ctx_obj, client_secret_stdin)
    else:
        config = ctx_obj.config()
        creds = resolve_app(config.app, ctx_obj.env, ctx_obj.secret_store)
        if not creds.client_secret:
            secret = _read_secret(ctx_obj, False)
    changed = run_app_set(
        ctx_obj.config_file,
        ctx_obj.secret_store,
        ctx_obj.clock(),
        AppSetRequest(app_id, client_id, redirect_uri, draft, secret),
        team=ctx_obj.database().registry if ctx_obj.database_url() is not None else None,
    )
    if changed:
        ctx_obj.out.print(f"Saved the app's {', '.join(changed)}.", markup=False)
    else:
        ctx_obj.out.print("Nothing changed.", markup=False)


@app_app.command("show")
def app_show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the app's credentials (never the secret): where each comes from, and secret rotation.

    Amazon makes LWA client secrets expire every 180 days; a warning shows within 30 days of that.

    Examples:
      soldscope app show
      soldscope app show --json
    """
    app = get_context(ctx)
    report = app_report(app)
    if as_json:
        from soldscope_cli.output.jsonout import print_json

        print_json(app.stdout, report)
        return
    secret = report["client_secret"]
    sources = report["sources"]

    def line(label: str, value: Any, source: str | None = None) -> None:
        shown = "-" if value is None else str(value)
        app.out.print(f"{label:<16}{shown}" + (f"  ({source})" if source else ""), markup=False)

    line("Application ID", report["application_id"], sources.get("application_id"))
    line("LWA client ID", report["client_id"], sources.get("client_id"))
    line("Redirect URI", report["redirect_uri"], sources.get("redirect_uri"))
    line("Draft", "yes" if report["draft"] else "no")
    if secret["stored"]:
        where = secret["source"]
        if where == "file":
            where = "file (insecure: plaintext in the data dir)"
        line("Client secret", f"stored in {where}")
    elif secret["backend_error"]:
        line("Client secret", f"unknown: {secret['backend_error']}")
    else:
        line("Client secret", "not set")
    line("Secret backend", secret["backend"], secret["backend_source"])
    if secret["set_at"]:
        line("Secret set", f"{secret['set_at']} ({secret['age_days']} days ago)")
        line("Rotation due", secret["rotation_due"])
    rotation = secret["rotation"]
    from soldscope_cli.rotation.queue import queue_url

    if rotation in ("due_soon", "overdue") and queue_url(app.config().rotation.queue_url, app.env):
        app.err.print(
            f"warning: the LWA client secret is due for rotation on {secret['rotation_due']} — "
            "run `soldscope app rotate` (see docs/rotation.md)",
            markup=False,
        )
    elif rotation == "due_soon":
        app.err.print(
            f"warning: the LWA client secret must be rotated by {secret['rotation_due']} — "
            "rotate it in Solution Provider Portal, then run "
            "`soldscope app set --client-secret-stdin`",
            markup=False,
        )
    elif rotation == "overdue":
        app.err.print(
            f"warning: the LWA client secret was due for rotation on {secret['rotation_due']} "
            "and has likely expired — rotate it, then run `soldscope app set --client-secret-stdin`",
            markup=False,
        )
    if secret["backend_insecure"]:
        app.err.print(
            INSECURE_WARNING,
            markup=False,
        )
    if not report["application_id"]:
        app.err.print("The app is not configured yet: run `soldscope app set`.", markup=False)


@app_app.command("rotate")
def app_rotate(
    ctx: typer.Context,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            metavar="SECONDS",
            min=0,
            help="How long to wait for Amazon's message with the new secret.",
        ),
    ] = 600.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Rotate the app's LWA client secret through Amazon's Application Management API.

    Amazon sends the new secret only to the SQS queue registered in the app's notification preferences (\\[rotation] queue_url or SOLDSCOPE_ROTATION_QUEUE_URL; AWS credentials from boto3's standard configuration). The new secret is proven with one real refresh of a healthy store before it replaces the old one (which Amazon accepts 7 more days), then stored for every host, and the message deleted. Exit 0 when rotated, 1 when the message never came or the secret was refused (the old one stays), 2 for setup problems, 3 when Amazon or SQS could not be reached. See docs/rotation.md.

    Examples:
      soldscope app rotate
      soldscope app rotate --wait 120 --json
    """
    app = get_context(ctx)
    from soldscope_cli.commands.common import say_notify_failures
    from soldscope_cli.notify.rotation import announce_failed, announce_rotated
    from soldscope_cli.rotation.flow import RotationLost, SecretRefused
    from soldscope_cli.rotation.setup import run_rotate

    try:
        outcome = run_rotate(app, wait)
    except (RotationLost, SecretRefused) as exc:
        say_notify_failures(app, announce_failed(app.notifier(), app.database(), exc, app.clock))
        raise
    say_notify_failures(app, announce_rotated(app.notifier(), app.database(), outcome, app.clock))
    if as_json:
        from soldscope_cli.output.jsonout import print_json

        print_json(app.stdout, outcome.as_json())
        return
    expiry = format_time(outcome.expires_at) if outcome.expires_at else "unknown"
    if outcome.result == "rotated_elsewhere":
        app.out.print(
            f"The client secret was rotated meanwhile by another soldscope; it expires {expiry}.",
            markup=False,
        )
        return
    proof = f" (proven with {outcome.proven_with})" if outcome.proven_with else ""
    app.out.print(
        f"Rotated the app's client secret{proof}; the new one expires {expiry}.", markup=False
    )
    if outcome.old_expires_at is not None:
        app.err.print(
            f"Amazon accepts the old secret until {format_time(outcome.old_expires_at)}.",
            markup=False,
        )


@app_app.command("rotation")
def app_rotation(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the client secret's rotation: set date and expiry, the queue, the last rotation, what is pending.

    The expiry is Amazon's when one of its messages said it, else 180 days after the secret was set.

    Examples:
      soldscope app rotation
      soldscope app rotation --json
    """
    app = get_context(ctx)
    from soldscope_cli.rotation.setup import current_state

    state = current_state(app)
    now = app.clock()
    report = state.as_json(now)
    if as_json:
        from soldscope_cli.output.jsonout import print_json

        print_json(app.stdout, report)
        return
    secret = report["client_secret"]

    def line(label: str, value: Any) -> None:
        app.out.print(f"{label:<16}{'-' if value is None else value}", markup=False)

    line("Queue", report["queue_url"] or "not configured ([rotation] queue_url)")
    line("Secret set", secret["set_at"])
    expires = secret["expires_at"]
    if expires is not None:
        source = "Amazon" if secret["expiry_source"] == "amazon" else "180-day rule"
        expires = f"{expires} ({secret['days_left']} days left, {source})"
    line("Secret expires", expires)
    line("Rotate from", f"{report['days_before']} days before expiry")
    last = report["last_rotation"]
    if last is not None:
        how = "requested" if last["requested"] else "taken from the queue"
        line("Last rotation", f"{last['at']} ({how})")
    else:
        line("Last rotation", None)
    pending = {
        "secret": "a new secret awaits proof: run `soldscope app rotate`",
        "message": f"requested {report['requested_at'] or ''}, no message yet".replace(" ,", ","),
        None: None,
    }[report["pending"]]
    line("Pending", pending)
    if report["problem"] is not None:
        by = f" by {report['deadline']}" if report["deadline"] else ""
        app.err.print(
            f"warning: a rotation did not complete ({report['problem']}); the secret in use "
            f"stops working{by}: run `soldscope app rotate` (see docs/rotation.md)",
            markup=False,
        )
