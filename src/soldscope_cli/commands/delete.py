"""`soldscope delete`: disconnect a store locally (record and token together)."""

from __future__ import annotations

from typing import Annotated

import typer

from soldscope_cli.commands.common import complete_store_names, get_context
from soldscope_cli.context import AppContext
from soldscope_cli.db.interface import Database
from soldscope_cli.errors import SecretStoreError, UsageError
from soldscope_cli.fleet.connections import (
    delete_connection,
    delete_leftover_token,
    has_leftover_token,
    unknown_store,
)

REVOKE_HINT = (
    "Deleting locally does not revoke the grant on Amazon's side. To revoke it, the seller opens "
    "Seller Central → Partner Network (Apps and Services) → Manage Your Apps, finds the app and "
    "clicks Revoke; for a self-authorized private app, use Manage Authorizations in Solution "
    "Provider Portal."
)


def _database(ctx: AppContext, *, purge_data: bool = False) -> Database | None:
    team = ctx.database_url() is not None
    return ctx.database() if purge_data or team or ctx.paths.database.exists() else None


def run_delete(ctx: AppContext, name: str, *, purge_data: bool) -> None:
    """Remove the store's record and token (and its data when asked)."""
    from soldscope_cli.datasets import registry

    db = _database(ctx, purge_data=purge_data)
    delete_connection(
        ctx.config_file,
        ctx.secret_store(),
        db,
        name,
        ctx.clock(),
        purge_data=purge_data,
        data_tables=registry.data_tables(),
    )


def leftover_token(ctx: AppContext, name: str) -> bool:
    """Whether a name no store has still has a refresh token (a connect killed before its
    record was written). An unusable secret store answers no: the name is simply unknown."""
    try:
        return has_leftover_token(ctx.secret_store(), name)
    except SecretStoreError:
        return False


def run_delete_leftover(ctx: AppContext, name: str) -> bool:
    """Remove the leftover refresh token of a name no store has."""
    return delete_leftover_token(ctx.secret_store(), _database(ctx), name, ctx.clock())


def confirmed(app: AppContext, name: str, question: str, *, yes: bool) -> bool:
    """--yes, or the answer at a terminal; without one, a usage error naming --yes."""
    if yes:
        return True
    if not app.can_prompt:
        raise UsageError(
            f"refusing to delete {name!r} without confirmation",
            hint=f"run `soldscope delete {name} --yes` to confirm",
        )
    if typer.confirm(question, default=False):
        return True
    app.err.print("Nothing deleted.", markup=False)
    return False


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

    Asks first on a terminal; without one, --yes is needed. The grant stays valid at Amazon until the seller revokes it in Seller Central. A name with no store but a refresh token left behind (a connect killed before it wrote the store's record; `soldscope doctor` lists them) gets that token removed.

    Examples:
      soldscope delete acme-us
      soldscope delete acme-us --yes --purge-data
    """
    app = get_context(ctx)
    if name not in app.config().stores:
        if not leftover_token(app, name):
            raise unknown_store(name, app.config().stores)
        question = f"Delete the refresh token left behind under {name!r} (no store uses it)?"
        if confirmed(app, name, question, yes=yes):
            run_delete_leftover(app, name)
            app.out.print(
                f"Deleted the leftover refresh token of {name} (it had no store).", markup=False
            )
            app.err.print(REVOKE_HINT, markup=False)
        return
    what = "its record, token and synced data" if purge_data else "its record and token"
    if not confirmed(app, name, f"Delete store {name!r} ({what})?", yes=yes):
        return
    run_delete(app, name, purge_data=purge_data)
    app.out.print(f"Deleted store {name}" + (" and its data." if purge_data else "."), markup=False)
    app.err.print(REVOKE_HINT, markup=False)
