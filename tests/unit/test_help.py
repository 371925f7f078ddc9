"""Every command's --help at 80 columns: paragraphs wrap at words, examples keep their lines."""

from __future__ import annotations

import inspect
import itertools
import os
import subprocess
from collections.abc import Iterator

import click
import pytest
import typer
from tests.terminal import SOLDSCOPE

from soldscope_cli.cli import app

WIDTH = 80


def commands() -> Iterator[tuple[list[str], click.Command]]:
    """Every command and group of the installed CLI, as argv words."""
    root = typer.main.get_command(app)

    def walk(path: list[str], cmd: click.Command) -> Iterator[tuple[list[str], click.Command]]:
        yield path, cmd
        if isinstance(cmd, click.Group):
            for name, sub in sorted(cmd.commands.items()):
                yield from walk([*path, name], sub)

    yield from walk([], root)


COMMANDS = list(commands())


def help_text(words: list[str]) -> str:
    env = {**os.environ, "COLUMNS": str(WIDTH), "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    result = subprocess.run(
        [str(SOLDSCOPE), *words, "--help"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def examples(cmd: click.Command) -> list[str]:
    doc = inspect.cleandoc(cmd.help or "")
    if "Examples:" not in doc:
        return []
    block = doc.split("Examples:", 1)[1].split("\n\n")[0]
    return [line.strip() for line in block.splitlines() if line.strip()]


@pytest.mark.usefixtures("soldscope_command")
@pytest.mark.parametrize(
    ("words", "cmd"), COMMANDS, ids=[" ".join(w) or "root" for w, _ in COMMANDS]
)
def test_help_wraps_at_words_and_keeps_examples(words: list[str], cmd: click.Command) -> None:
    text = help_text(words)
    lines = text.splitlines()
    assert all(len(line) <= WIDTH for line in lines), text
    # Nothing cut short: Rich marks a cut with an ellipsis at the end of a cell or line.
    assert not any(line.rstrip(" │").endswith("…") for line in lines), text
    stripped = [line.strip() for line in lines]
    for example in examples(cmd):
        assert example in stripped, f"example split: {example!r}\n{text}"
    # The prose above the option panels: a paragraph's line ends only where the next word would
    # not fit, so no line is broken mid-sentence by hard-wrapped source.
    prose = text.split("╭")[0]
    for paragraph in prose.split("\n" + " " * WIDTH + "\n"):
        body = [line.rstrip() for line in paragraph.strip("\n").splitlines() if line.strip()]
        if not body or body[0].strip().startswith(("Usage:", "Examples:")):
            continue
        for line, following in itertools.pairwise(body):
            next_word = following.split()[0]
            assert len(line) + 1 + len(next_word) > WIDTH - 1, f"{line!r} | {following!r}"


@pytest.mark.parametrize(
    ("words", "cmd"), COMMANDS, ids=[" ".join(w) or "root" for w, _ in COMMANDS]
)
def test_every_default_is_shown(words: list[str], cmd: click.Command) -> None:
    """An option with a default says it: Typer's [default: …] or '(default: …)' in its help."""
    for param in cmd.params:
        if not isinstance(param, click.Option) or param.is_flag or param.hidden:
            continue
        if param.name == "help" or param.default is None:  # None: not given, nothing to show
            continue
        text = param.help or ""
        assert param.show_default is not False or "default" in text.lower(), (words, param.name)


def test_connect_timeout_help_keeps_its_default() -> None:
    text = help_text(["connect"])
    assert "(default: 300)" in " ".join(text.split())


CONFIG_TABLE = __import__("re").compile(r"\\?\[\[?[a-z_]+\]\]?")


@pytest.mark.usefixtures("soldscope_command")
@pytest.mark.parametrize(
    ("words", "cmd"), COMMANDS, ids=[" ".join(w) or "root" for w, _ in COMMANDS]
)
def test_config_tables_named_in_help_survive_rich_markup(
    words: list[str], cmd: click.Command
) -> None:
    """`[stale]` and friends would be read as Rich markup and vanish: each must be escaped."""
    sources = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
    named = {m.group(0).lstrip("\\") for text in sources for m in CONFIG_TABLE.finditer(text)}
    named -= {"[default]"}
    rendered = " ".join(help_text(words).split())
    for table in named:
        assert table in rendered, f"{table} lost from `{' '.join(words)} --help`"
