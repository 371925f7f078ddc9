"""The root Typer app: global options, the context, and the one place errors become exit codes."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from soldscope_cli import __version__
from soldscope_cli.errors import ExitCode, SoldscopeError


def _is_cli_control(exc: BaseException) -> bool:
    """Exit codes and usage errors raised by Typer itself pass through untouched."""
    import click

    return isinstance(exc, click.exceptions.Exit | click.ClickException)


def suggest_options(exc: Any) -> None:
    """Let "no such option" consider every option of the command, not only those sharing a prefix.

    Click suggests only options that start with what was typed (`--sotr` finds nothing); difflib
    finds `--sort`.
    """
    from soldscope_cli.errors import did_you_mean

    command = exc.ctx.command if exc.ctx is not None else None
    if command is None or not exc.option_name:
        return
    names = [
        name
        for param in command.get_params(exc.ctx)
        for name in (*param.opts, *param.secondary_opts)
        if name.startswith("-")
    ]
    near = did_you_mean(exc.option_name, names)
    if near:
        exc.possibilities = near


def usage_error(exc: Any) -> SoldscopeError:
    """Click's usage error as soldscope's own: a one-line message and a hint naming --help."""
    import click

    from soldscope_cli.errors import UsageError

    path = exc.ctx.command_path if exc.ctx is not None else "soldscope"
    see = f"see `{path} --help`"
    if isinstance(exc, click.NoSuchOption):
        suggest_options(exc)
        near = " or ".join(exc.possibilities or [])
        return UsageError(
            f"no such option {exc.option_name}", hint=f"did you mean {near}? {see}" if near else see
        )
    message = exc.format_message().strip()
    message, _, near = message.partition(" Did you mean ")  # Typer's for a mistyped command
    message = message.rstrip(".")
    message = message[:1].lower() + message[1:]
    if near:
        see = f"did you mean {near.rstrip('?').replace(chr(39), '')}? {see}"
    return UsageError(message, hint=see)


def _fail_usage(exc: Any) -> typer.Exit:
    """Print a Click usage error in soldscope's one-line form; the Exit to raise (code 2)."""
    from soldscope_cli.output.errors import render_error

    error = usage_error(exc)
    obj = exc.ctx.find_root().obj if exc.ctx is not None else None
    render_error(obj, error)
    return typer.Exit(int(error.exit_code))


class SoldscopeGroup(TyperGroup):
    """Maps soldscope's exceptions to documented exit codes for every subcommand.

    Usage errors from Click (unknown option, missing argument, bad value) print like soldscope's
    own: `error: … — hint` on one line on stderr, exit 2; `--help` stays Rich.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        import click

        try:
            return super().make_context(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise _fail_usage(exc) from None

    def invoke(self, ctx: Any) -> Any:
        import click

        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise _fail_usage(exc) from None
        except SoldscopeError as exc:
            from soldscope_cli.output.errors import render_error

            if getattr(ctx.obj, "debug", False):
                _print_traceback()
            render_error(ctx.obj, exc)
            raise typer.Exit(int(exc.exit_code)) from None
        except (KeyboardInterrupt, typer.Abort):
            sys.stderr.write("\ninterrupted\n")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:
            silence_stdout()
            raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None
        except OSError as exc:
            # A read-only directory or a full disk: this machine's problem, said in one line.
            from soldscope_cli.errors import storage_error
            from soldscope_cli.output.errors import render_error

            if getattr(ctx.obj, "debug", False):
                _print_traceback()

            error = storage_error(exc)
            render_error(ctx.obj, error)
            raise typer.Exit(int(error.exit_code)) from None
        except Exception as exc:
            if _is_cli_control(exc) or getattr(ctx.obj, "debug", False):
                raise
            from soldscope_cli.redact import redact

            sys.stderr.write(
                f"error: unexpected {exc.__class__.__name__}: {redact(str(exc))} — "
                "run again with --debug for the traceback and report it\n"
            )
            raise typer.Exit(int(ExitCode.UNHEALTHY)) from None
        finally:
            close = getattr(ctx.obj, "close", None)
            if close is not None:
                close()


def _print_traceback() -> None:
    """--debug: the traceback of the error being handled, redacted, before its one-line error.

    The exit code stays the documented one (75, 74, 2...): a debug run must not turn every
    failure into 1, or a script could not be debugged as it runs.
    """
    import traceback

    from soldscope_cli.redact import redact

    sys.stderr.write(redact(traceback.format_exc()))
    sys.stderr.flush()


app = typer.Typer(
    cls=SoldscopeGroup,
    name="soldscope",
    help="Keep every Amazon SP-API seller connection visible, healthy and syncing.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals would include tokens
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"soldscope {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks and redacted HTTP details.")
    ] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Never use colour.")] = False,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox", help="Use Amazon's SP-API sandbox hosts (or SOLDSCOPE_SANDBOX=1)."
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """soldscope: connect, list, validate and sync an agency's Amazon seller accounts."""
    if ctx.obj is None:
        from soldscope_cli.context import AppContext

        ctx.obj = AppContext.from_environment()
    ctx.obj.debug = ctx.obj.debug or debug
    ctx.obj.no_color = ctx.obj.no_color or no_color
    ctx.obj.sandbox = ctx.obj.sandbox or sandbox
    if ctx.obj.debug:
        from soldscope_cli.debuglog import enable_debug_logging

        enable_debug_logging(ctx.obj.stderr)


def _register() -> None:
    from soldscope_cli.commands import (
        app_cmd,
        calendar_,
        connect,
        data,
        delete,
        demo,
        digest,
        doctor,
        export,
        invite,
        invites,
        list_,
        log,
        metrics,
        notify,
        secrets_cmd,
        serve,
        sync,
        team,
        validate,
    )

    app.command("list")(list_.list_command)
    app.command("validate")(validate.validate_command)
    app.command("connect")(connect.connect_command)
    app.command("delete")(delete.delete_command)
    app.command("sync")(sync.sync_command)
    app.command("log")(log.log_command)
    app.command("data")(data.data_command)
    app.command("export")(export.export_command)
    app.command("doctor")(doctor.doctor_command)
    app.command("demo")(demo.demo_command)
    app.command("invite")(invite.invite_command)
    app.add_typer(invites.invites_app, name="invites")
    app.command("serve")(serve.serve_command)
    app.command("metrics")(metrics.metrics_command)
    app.command("calendar")(calendar_.calendar_command)
    app.command("digest")(digest.digest_command)
    app.add_typer(app_cmd.app_app, name="app")
    app.add_typer(notify.notify_app, name="notify")
    app.add_typer(team.app, name="team")
    app.add_typer(secrets_cmd.secrets_app, name="secrets")
    from soldscope_cli.commands.simulator import simulator_app

    app.add_typer(simulator_app, name="simulator")


_register()


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    from soldscope_cli.output.pipe import silence_stdout as silence

    silence()


def main() -> None:
    """Console-script entry point: every way a closed stdout shows up becomes exit 141."""
    from soldscope_cli.output import pipe

    original_stdout = sys.stdout
    stdout_at_start = pipe.identity()
    try:
        app(prog_name="soldscope")
    except SystemExit as exc:
        if exc.code == ExitCode.BROKEN_PIPE:
            raise
        # Output still buffered is flushed now, while a failure can still pick the exit code;
        # the interpreter's own flush at exit would print a traceback and exit 120.
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _exit_broken_pipe()
        except (OSError, ValueError):
            pass
        if pipe.reader_went_away(original_stdout, stdout_at_start):
            _exit_broken_pipe()
        raise
    except BrokenPipeError:
        _exit_broken_pipe()


def _exit_broken_pipe() -> None:
    """Like any Unix tool whose reader stopped (`| head`): stop quietly, 128 + SIGPIPE."""
    silence_stdout()
    sys.exit(int(ExitCode.BROKEN_PIPE))
