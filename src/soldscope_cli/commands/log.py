"""`soldscope log`: a connection's history, newest first (the audit trail for a client)."""

from __future__ import annotations

from typing import Annotated

import typer

from soldscope_cli.commands.common import complete_store_names, get_context, parse_date_option


def log_command(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[NAME]...",
            help="Stores whose history to show (default: all); deleted stores too.",
            autocompletion=complete_store_names,
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="Only what happened on or after DATE (UTC), e.g. 2026-01-01.",
            show_default=False,
        ),
    ] = None,
    show_all: Annotated[
        bool,
        typer.Option("--all", help="Also show checks that changed nothing."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """Show what happened to each connection, newest first.

    Connected, renewed (reauthorized), status changes with the problem found, failed syncs and deletion: the history an agency shows a client. Checks that changed nothing are left out (--all shows them). A deleted store's history is still shown by its name. Reads only the state database: no network, no keyring.

    Examples:
      soldscope log acme-us
      soldscope log --since 2026-01-01
      soldscope log acme-us --json | jq '.[] | select(.kind == "status_changed")'
    """
    from soldscope_cli.fleet.history import LogQuery, run_log

    app = get_context(ctx)
    query = LogQuery(names or [], parse_date_option("--since", since), show_all)
    entries = run_log(app.config(), app.database(), query)
    if as_json:
        from soldscope_cli.output.history import entry_json
        from soldscope_cli.output.jsonout import print_json

        print_json(app.stdout, [entry_json(e) for e in entries])
    elif not entries:
        app.err.print("Nothing recorded yet.", markup=False)
    elif app.policy.rich:
        from soldscope_cli.output.fitting import hidden_note
        from soldscope_cli.output.history import history_notes, render_history

        view = render_history(app.out, entries, color=app.policy.color)
        for line in history_notes(entries, view):
            app.out.print(line, markup=False, highlight=False)
        note = hidden_note(view, "`soldscope log --json` shows them")
        if note is not None:
            app.err.print(note, markup=False, soft_wrap=True)
    else:
        from soldscope_cli.output.history import history_text

        app.stdout.write(history_text(entries))
