"""`soldscope team`: team mode, where every host shares one PostgreSQL database."""

from __future__ import annotations

from typing import Annotated

import typer

from soldscope_cli.commands.common import get_context

team_app = typer.Typer(
    name="team",
    help="Team mode: prepare the shared PostgreSQL database.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


@team_app.command("init")
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
    app = get_context(ctx)
    from soldscope_cli.fleet.team import init_team_database
    from soldscope_cli.output.jsonout import print_json

    result = init_team_database(app.database_url())
    if json_output:
        print_json(
            app.stdout,
            {
                "database": result.database,
                "applied": list(result.applied),
                "schema_version": result.schema_version,
                "current": result.current,
            },
        )
        return
    if result.applied:
        app.stdout.write(
            f"Prepared {result.database}: applied {len(result.applied)} migration(s): "
            f"{', '.join(result.applied)}.\n"
        )
    else:
        app.stdout.write(f"{result.database} is already prepared: nothing to apply.\n")
    app.stdout.write(f"Schema version: {result.schema_version}\n")
