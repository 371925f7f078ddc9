"""`soldscope team`: team mode, where every host shares one PostgreSQL database, and its secrets key."""

from __future__ import annotations

from typing import Annotated

import typer

from soldscope_cli.commands.common import get_context

app = typer.Typer(
    name="team",
    help="Team mode: the shared PostgreSQL database and the secrets key.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


@app.command("init")
def init_command(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Prepare the team database: create or upgrade its tables (safe to run again).

    The database is the one SOLDSCOPE_DATABASE_URL names (else the url of the database table in config.toml), a postgresql:// URL. Prints the migrations applied and the schema version. Exit 2 when no database URL is set, 74 when the server cannot be reached or refuses the login.

    Examples:
      SOLDSCOPE_DATABASE_URL=postgresql://ops@db/fleet soldscope team init
      soldscope team init --json
    """
    app_ctx = get_context(ctx)
    from soldscope_cli.context import open_team_database
    from soldscope_cli.fleet.team import init_team_database
    from soldscope_cli.output.jsonout import print_json

    result = init_team_database(app_ctx.database_url(), open_team_database)
    if json_output:
        print_json(
            app_ctx.stdout,
            {
                "database": result.database,
                "applied": list(result.applied),
                "schema_version": result.schema_version,
                "current": result.current,
            },
        )
        return
    if result.applied:
        app_ctx.stdout.write(
            f"Prepared {result.database}: applied {len(result.applied)} migration(s): "
            f"{', '.join(result.applied)}.\n"
        )
    else:
        app_ctx.stdout.write(f"{result.database} is already prepared: nothing to apply.\n")
    app_ctx.stdout.write(f"Schema version: {result.schema_version}\n")


@app.command("rotate-key")
def rotate_key_command(
    ctx: typer.Context,
    new_key_command: Annotated[
        str | None,
        typer.Option(
            "--new-key-command",
            metavar="CMD",
            help="A command that prints the new key (run without a shell), instead of "
            "SOLDSCOPE_NEW_SECRETS_KEY.",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Re-encrypt every secret of the database backend under a new key, in one transaction.

    The current key comes from SOLDSCOPE_SECRETS_KEY or \\[secrets] key_command, as for every command; the new one from SOLDSCOPE_NEW_SECRETS_KEY or --new-key-command. Both are checked before anything changes, and a failure changes nothing. Afterwards every host needs the new key. Keys are never printed: output names them by their id.

    Examples:
      soldscope team new-key | pass insert -m soldscope/key-next
      soldscope team rotate-key --new-key-command "pass show soldscope/key-next"
      SOLDSCOPE_NEW_SECRETS_KEY=... soldscope team rotate-key --json
    """
    from soldscope_cli.errors import UsageError
    from soldscope_cli.fleet.database_secrets import rotate_configured_key
    from soldscope_cli.fleet.secrets import SECRETS_ENV, backend_choice
    from soldscope_cli.output.jsonout import print_json

    app_ctx = get_context(ctx)
    config = app_ctx.config()
    backend, source = backend_choice(app_ctx.env, config.secrets_backend)
    if backend != "database":
        raise UsageError(
            f"the secrets backend is {backend} ({source}): only the database backend has a key "
            "to rotate",
            hint=f'set {SECRETS_ENV}=database or [secrets] backend = "database" '
            "(docs/configuration.md#secrets)",
        )
    done = rotate_configured_key(
        app_ctx.env,
        config.secrets_settings.key_command,
        app_ctx.database().secret_rows,
        new_key_command=new_key_command,
    )
    if json_output:
        payload = {
            "reencrypted": done.reencrypted,
            "old_key_id": done.old_key_id,
            "new_key_id": done.new_key_id,
        }
        print_json(app_ctx.stdout, payload)
        return
    count = f"{done.reencrypted} secret{'' if done.reencrypted == 1 else 's'}"
    app_ctx.out.print(
        f"re-encrypted {count} under key {done.new_key_id} (was {done.old_key_id})",
        markup=False,
        highlight=False,
    )
    app_ctx.err.print(
        "every host now needs the new key: update SOLDSCOPE_SECRETS_KEY or what [secrets] "
        "key_command prints",
        markup=False,
        highlight=False,
    )


@app.command("new-key")
def new_key_command(ctx: typer.Context) -> None:
    """Print a fresh random key for the database secret backend (and do nothing else).

    The key goes to stdout only: pipe it into your password manager, then hand it to `team rotate-key` (or use it as the first key of a new database).

    Examples:
      soldscope team new-key | pass insert -m soldscope/key-next
    """
    from soldscope_cli.fleet.sealed import new_key_text

    app_ctx = get_context(ctx)
    app_ctx.stdout.write(new_key_text() + "\n")
    app_ctx.stdout.flush()
    if app_ctx.stdout_tty:
        app_ctx.err.print(
            "keep it in your password manager: anyone with this key and a copy of the database "
            "can read the secrets",
            markup=False,
            highlight=False,
        )


@app.command("import")
def import_command(
    ctx: typer.Context,
    from_secrets: Annotated[
        str | None,
        typer.Option(
            "--from-secrets",
            metavar="BACKEND",
            help="Where this home keeps its refresh tokens: file, keyring, database or command "
            "(default: the backend of the secrets table in config.toml, else the keyring).",
            show_default=False,
        ),
    ] = None,
    skip_existing: Annotated[
        bool,
        typer.Option(
            "--skip-existing",
            help="Import the other stores when the team database already has some of these "
            "names (theirs stay as they are).",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be copied; write nothing.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Copy this home into the team database: its stores, history, synced data and secrets.

    The stores are the ones config.toml lists; history, cursors and data come from this home's SQLite database; the refresh tokens from this home's own secret backend (--from-secrets) into the team's (SOLDSCOPE_SECRETS, else the backend of the secrets table in config.toml: usually database). Everything is checked first, then copied in one transaction: on any failure nothing is written. config.toml, the local database and the local secrets are left as they are. Exit 2 when a store is already in the team database (see --skip-existing), a refresh token is missing or the secrets key is wrong; 74 when the database cannot be reached.

    Examples:
      SOLDSCOPE_SECRETS=database soldscope team import --dry-run
      SOLDSCOPE_SECRETS=database soldscope team import --from-secrets file
      soldscope team import --skip-existing --json
    """
    from soldscope_cli.errors import UsageError
    from soldscope_cli.fleet.secrets import BACKENDS, backend_choice
    from soldscope_cli.fleet.team import require_url
    from soldscope_cli.fleet.team_import import (
        ImportSource,
        ImportTarget,
        import_home,
        import_retry,
    )
    from soldscope_cli.output.jsonout import print_json
    from soldscope_cli.output.team_import import (
        import_json,
        import_lines,
        import_notes,
        render_import_table,
    )

    app_ctx = get_context(ctx)
    if from_secrets is not None and from_secrets not in BACKENDS:
        raise UsageError(
            f"--from-secrets: {from_secrets!r} is not a secrets backend",
            hint=f"use one of {', '.join(BACKENDS)}",
        )
    url = require_url(app_ctx.database_url())
    from soldscope_cli.context import team_copier
    from soldscope_cli.db.url import masked_url

    config = app_ctx.config_file.load()
    team_db = app_ctx.team_database()
    destination, _ = backend_choice(app_ctx.env, config.secrets_backend)
    report = import_home(
        ImportSource(
            config,
            app_ctx.local_database() if app_ctx.paths.database.exists() else None,
            app_ctx.home_secret_store(from_secrets),
            retry=None
            if from_secrets is not None
            else import_retry(app_ctx.env, config.secrets_backend, skip_existing, dry_run),
        ),
        ImportTarget(
            team_db,
            app_ctx.team_secret_store,
            destination == "database",
            masked_url(url),
            team_copier(),
        ),
        now=app_ctx.clock(),
        dry_run=dry_run,
        skip_existing=skip_existing,
    )
    if json_output:
        print_json(app_ctx.stdout, import_json(report))
    elif app_ctx.stdout_tty:
        render_import_table(app_ctx.out, report, color=app_ctx.policy.color)
    else:
        app_ctx.stdout.write("\n".join(import_lines(report)) + "\n")
    for note in import_notes(report):
        app_ctx.err.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
