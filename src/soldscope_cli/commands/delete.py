"""`soldscope delete`: disconnect a store locally (record and token together)."""

from __future__ import annotations

from typing import Annotated

import typer

from soldscope_cli.commands.common import complete_store_names, get_context
from soldscope_cli.context import AppContext
from soldscope_cli.errors import UsageError
from soldscope_cli.fleet.connections import delete_connection, unknown_store

REVOKE_HINT = (
    "Deleting locally does not revoke the grant on Amazon's side. To revoke it, the seller opens "
    "Seller Central → Partner Network (Apps and Services) → Manage Your Apps, finds the app and "
    "clicks Revoke; for a self-authorized private app, use Manage Authorizations in Solution "
    "Provider Portal."
)


def run_delete(ctx: AppContext, name: str, *, purge_data: bool) -> None:
    """Remove the store's record and token (and its data when asked)."""
    from soldscope_cli.datasets import registry

    team = ctx.database_url() is not None
    db = ctx.database() if purge_data or team or ctx.paths.database.exists() else None
    delete_connection(
        ctx.config_file,
        ctx.secret_store(),
        db,
        name,
        ctx.clock(),
        purge_data=purge_data,
        data_tables=registry.data_tables(),
    )


def delete_command(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(help="The store to disconnect.", autocompletion=complete_store_names),
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    purge_data: Annotated[
        bool,
        typer.Option("--purge-data", help="Also delete its check history and synced data."),
    ] = False,
) -> None:
    """Disconnect a store: remove its config entry and its refresh token together.

    Asks first on a terminal; without one, --yes is needed. The grant stays valid at Amazon until the seller revokes it in Seller Central.

    Examples:
      soldscope delete acme-us
      soldscope delete acme-us --yes --purge-data
    """
    app = get_context(ctx)
    if name not in app.config().stores:
        raise unknown_store(name, app.config().stores)
    if not yes:
        if not app.can_prompt:
            raise UsageError(
                f"refusing to delete {name!r} without confirmation",
                hint=f"run `soldscope delete {name} --yes` to confirm",
            )
        what = "its record, token and synced data" if purge_data else "its record and token"
        if not typer.confirm(f"Delete store {name!r} ({what})?", default=False):
            app.err.print("Nothing deleted.", markup=False)
            return
    run_delete(app, name, purge_data=purge_data)
    app.out.print(f"Deleted store {name}" + (" and its data." if purge_data else "."), markup=False)
    app.err.print(REVOKE_HINT, markup=False)
