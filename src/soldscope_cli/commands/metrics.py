"""`soldscope metrics`: the fleet as Prometheus metrics, printed or written for node_exporter."""

from __future__ import annotations

from typing import Annotated

import typer

from soldscope_cli.commands.common import get_context, output_file


def metrics_command(
    ctx: typer.Context,
    textfile: Annotated[
        str | None,
        typer.Option(
            "--textfile",
            metavar="PATH",
            help="Write to PATH atomically (temp file and rename, mode 0644) for node_exporter's "
            "textfile collector, instead of printing.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print every store's expiry, days left, status, last check and sync, and each dataset's last successful sync and rows, in the Prometheus text format.

    Reads only config.toml and the state database: no network, no keyring; no secret is ever in the output. `soldscope serve` serves the same at /metrics. See docs/monitoring.md for the cron line and alert rules.

    Examples:
      soldscope metrics
      soldscope metrics --textfile /var/lib/node_exporter/textfile/soldscope.prom
    """
    from soldscope_cli.monitoring.metrics import metrics_text
    from soldscope_cli.monitoring.snapshot import fleet_snapshot

    app = get_context(ctx)
    text = metrics_text(fleet_snapshot(app))
    if textfile is None or textfile == "-":
        app.stdout.write(text)
        app.stdout.flush()
        return
    from soldscope_cli.fleet.files import atomic_write

    # node_exporter runs as another user: the file must be world-readable (it holds no secret).
    atomic_write(output_file("--textfile", textfile), text, mode=0o644, make_parents=False)
