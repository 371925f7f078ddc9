"""What validate shows: the status table (or JSON) with each check, and the progress bar."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from soldscope_cli.checks.result import APP_REJECTED_MESSAGE, StoreCheck
from soldscope_cli.checks.validation import SKIPPED, ProgressCallback, ValidateResult
from soldscope_cli.db.model import CHECK_APP_ERROR, CHECK_OK
from soldscope_cli.fleet.listing import summary
from soldscope_cli.output.policy import Terminal


@contextmanager
def progress_bar(app: Terminal) -> Iterator[ProgressCallback | None]:
    """A Rich progress bar on stderr when a person watches it; nothing when piped."""
    if not app.stderr_tty:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("checking"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=app.err,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def update(done: int, total: int, check: StoreCheck) -> None:
            bar.update(task, completed=done, total=total, description=check.store)

        yield update


# Outcomes that are the app's failure, not the store's: shown in one app-level line.
APP_LEVEL = (CHECK_APP_ERROR, SKIPPED)


def _details(result: ValidateResult) -> list[str]:
    """One line per store whose check found something, with Amazon's request id."""
    lines = []
    for row in result.rows:
        check = result.checks.get(row.name)
        if check is None or (check.outcome == CHECK_OK and not check.added):
            continue
        if check.outcome in APP_LEVEL:
            continue  # the app's rejected credentials are said once, below, not per store
        line = f"{row.name}: {check.outcome}: {check.reason}"
        if check.request_id:
            line += f" [request id {check.request_id}]"
        lines.append(line)
    return lines


def render_validation(
    app: Terminal,
    result: ValidateResult,
    as_json: bool,
    *,
    hidden_how: str = "`soldscope list --wide` shows them",
) -> None:
    """The list table (or its JSON) plus each store's check; `hidden_how` says how to see more."""

    if as_json:
        from soldscope_cli.output.jsonout import print_json

        data = []
        for row in result.rows:
            item = row.to_json()
            check = result.checks.get(row.name)
            item["check"] = None if check is None else check.to_json()
            data.append(item)
        print_json(app.stdout, data)
    elif not result.rows:
        app.err.print(
            "No stores yet. Connect one with `soldscope connect NAME --marketplace US`.",
            markup=False,
        )
    else:
        from soldscope_cli.output.fitting import hidden_note
        from soldscope_cli.output.store_table import problem_notes, render_store_table

        view = render_store_table(app.out, result.rows, app.policy)
        app.out.print(summary(result.rows), markup=False)
        details = _details(result)
        told = {line.split(":", 1)[0] for line in details}
        untold = [row for row in result.rows if row.name not in told]
        for line in [*details, *problem_notes(untold, view)]:
            app.out.print(line, markup=False)
        note = hidden_note(view, hidden_how) if app.policy.rich else None
        if note is not None:
            app.err.print(note, markup=False, soft_wrap=True)
    if result.app_error is not None:
        # Once, whatever the number of stores: it is the app's problem, not theirs.
        app.err.print(f"error: {APP_REJECTED_MESSAGE}", markup=False)
    elif result.incomplete:
        app.err.print(
            f"{len(result.incomplete)} check(s) could not complete; their status is unchanged "
            "— run `soldscope validate` again later",
            markup=False,
        )
