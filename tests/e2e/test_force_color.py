"""FORCE_COLOR colours piped `list` output; NO_COLOR and --no-color still win (STYLE.md)."""

from __future__ import annotations

import textwrap

from tests.e2e.conftest import Cli


def with_store(cli: Cli) -> Cli:
    (cli.home / "config").mkdir(parents=True)
    (cli.home / "config" / "config.toml").write_text(
        textwrap.dedent(
            """
            [stores.acme-us]
            region = "na"
            marketplaces = ["US"]
            authorized_at = 2026-01-05T00:00:00Z
            """
        )
    )
    return cli


def test_force_color_colours_piped_list_and_no_color_wins(cli: Cli) -> None:
    with_store(cli)
    plain = cli.run("list")
    forced = cli.run("list", env={"FORCE_COLOR": "1"})
    assert "acme-us" in plain.stdout and "\x1b[" not in plain.stdout
    assert "\x1b[" in forced.stdout
    # Same text once the colour codes are gone: untruncated columns, as piped.
    import re

    assert re.sub(r"\x1b\[[0-9;]*m", "", forced.stdout) == plain.stdout
    for env, args in (
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, ()),
        ({"FORCE_COLOR": "1"}, ("--no-color",)),
    ):
        quiet = cli.run(*args, "list", env=env)
        assert "\x1b[" not in quiet.stdout, (env, args)
