"""`soldscope simulator`: run the local Amazon (LWA, consent, SP-API) for demos, tests and CI."""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

if TYPE_CHECKING:
    from soldscope_cli.simulator import Simulator

simulator_app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False)


@simulator_app.callback()
def simulator_group() -> None:
    """A local stand-in for Amazon: Login with Amazon, Seller Central consent and the SP-API."""


def build_simulator(scenario: Path | None, host: str, port: int) -> Simulator:
    """A simulator for the scenario file (the built-in demo without one); ConfigError when bad."""
    from soldscope_cli.simulator import Simulator

    if scenario is None:
        return Simulator.demo(host=host, port=port)
    return Simulator.from_file(scenario, host=host, port=port)


def export_lines(env: dict[str, str]) -> list[str]:
    """Shell `export` lines for the environment variables."""
    return [f"export {name}={shlex.quote(value)}" for name, value in sorted(env.items())]


def run_serve(
    simulator: Simulator,
    *,
    out: TextIO,
    err: TextIO,
    wait: Callable[[], None],
) -> None:
    """Start the simulator, print where it is, block in `wait` (until Ctrl-C), then stop it."""
    try:
        simulator.start()
    except OSError as exc:
        from soldscope_cli.errors import UsageError

        raise UsageError(
            f"cannot listen on {simulator.host}:{simulator.port}: {exc.strerror or exc}",
            hint="pick another --port (0 chooses a free one)",
        ) from None
    try:
        for line in export_lines(simulator.env()):
            print(line, file=out)
        out.flush()
        app = simulator.scenario.app
        sellers = ", ".join(s.selling_partner_id for s in simulator.scenario.sellers) or "none"
        print(
            f"# simulator at {simulator.url} (admin API: {simulator.url}/_admin/)\n"
            f"# application_id={app.application_id} client_id={app.client_id}\n"
            f"# sellers: {sellers}\n"
            "# press Ctrl-C to stop",
            file=err,
        )
        err.flush()
        wait()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
    print("# simulator stopped", file=err)


def _wait_for_stop() -> None:
    """Block until Ctrl-C or SIGTERM: a script's plain `kill`, since background jobs of `sh`
    ignore SIGINT, must stop the simulator cleanly too."""
    import signal

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(3600):
            pass
    finally:
        signal.signal(signal.SIGTERM, previous)


@simulator_app.command("serve")
def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8765,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    scenario: Annotated[
        Path | None,
        typer.Option(help="Scenario file (.toml or .json); default: the built-in demo."),
    ] = None,
) -> None:
    """Serve the simulator in the foreground until Ctrl-C or SIGTERM.

    Prints `export SOLDSCOPE_...` lines on stdout that point soldscope at it.

    Examples:
      soldscope simulator serve
      soldscope simulator serve --port 0 --scenario ci-scenario.toml
    """
    import sys

    # The root command's context supplies the streams; standalone use falls back to the process's.
    out = getattr(ctx.obj, "stdout", None) or sys.stdout
    err = getattr(ctx.obj, "stderr", None) or sys.stderr
    simulator = build_simulator(scenario, host, port)
    run_serve(simulator, out=out, err=err, wait=_wait_for_stop)
