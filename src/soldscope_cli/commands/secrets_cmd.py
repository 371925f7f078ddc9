"""`soldscope secrets move`: move a home's secrets from one backend to another."""

from __future__ import annotations

from typing import Annotated

import typer

from soldscope_cli.commands.common import get_context

secrets_app = typer.Typer(
    name="secrets",
    help="The home's secret backend: move the secrets to another one.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


@secrets_app.command("move")
def move_command(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="BACKEND",
            help="The backend to move to: keyring, file, database or command.",
            show_default=False,
        ),
    ],
    from_backend: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="BACKEND",
            help="Where the secrets are now (default: the backend in use: SOLDSCOPE_SECRETS, "
            "else the secrets table of config.toml, else the keyring).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be moved; change nothing.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Move every secret of this home to another backend, then use that backend.

    Each store's refresh token, the client secret and the invitation and calendar keys are copied to the new backend and read back; only when every one came back as written does config.toml name the new backend (\\[secrets] backend), and only then are the old entries removed. A failure before that changes nothing. Exit 0 when moved (or with --dry-run), 2 when a backend cannot be used, a store's token is missing or the home is in team mode, 1 when the secrets moved but some old entries could not be removed (they are listed).

    Examples:
      soldscope secrets move --to keyring --dry-run
      soldscope secrets move --to keyring
      SOLDSCOPE_SECRETS_KEY=… soldscope secrets move --from file --to database
    """
    from soldscope_cli.errors import ExitCode, UsageError
    from soldscope_cli.fleet.secret_move import check_backend, label, move_secrets, moved_summary
    from soldscope_cli.fleet.secrets import SECRETS_ENV, backend_choice
    from soldscope_cli.output.jsonout import print_json

    app_ctx = get_context(ctx)
    target = check_backend(to, "--to")
    if app_ctx.database_url() is not None:
        raise UsageError(
            "secrets move works on a home's own secrets; this home is in team mode",
            hint="a home's secrets go into the team with `soldscope team import --from-secrets "
            "BACKEND`; the team's backend is the same on every host (docs/team.md)",
        )
    config = app_ctx.config_file.load()
    source = (
        check_backend(from_backend, "--from")
        if from_backend is not None
        else backend_choice(app_ctx.env, config.secrets_backend)[0]
    )
    report = move_secrets(
        app_ctx.config_file,
        app_ctx.home_secret_store(source),
        app_ctx.home_secret_store(target),
        source_name=source,
        target_name=target,
        dry_run=dry_run,
    )
    if json_output:
        print_json(
            app_ctx.stdout,
            {
                "from": report.source,
                "to": report.target,
                "dry_run": report.dry_run,
                "moved": [label(key) for key in report.moved],
                "left_behind": [label(key) for key in report.left_behind],
            },
        )
    else:
        what = moved_summary(report.moved)
        if report.dry_run:
            app_ctx.stdout.write(
                f"Would move {what} from the {source} backend to the {target} backend, then set "
                f'[secrets] backend = "{target}" in config.toml. Nothing was changed.\n'
            )
        else:
            app_ctx.stdout.write(
                f"Moved {what} from the {source} backend to the {target} backend; config.toml "
                f'now says [secrets] backend = "{target}".\n'
            )
    chosen = (app_ctx.env.get(SECRETS_ENV) or "").strip().lower()
    if chosen and chosen != target:
        app_ctx.err.print(
            f"warning: {SECRETS_ENV}={chosen} is set here and wins over config.toml: "
            f"{'once moved, ' if report.dry_run else ''}unset it (or set {SECRETS_ENV}={target}) "
            "wherever soldscope runs (shell profile, crontab, service files)",
            markup=False,
            soft_wrap=True,
        )
    if report.left_behind:
        app_ctx.err.print(
            f"error: could not remove {len(report.left_behind)} old entr"
            f"{'ies' if len(report.left_behind) != 1 else 'y'} from the {source} backend "
            f"({', '.join(label(key) for key in report.left_behind)}) — remove them there by hand",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(int(ExitCode.UNHEALTHY))
