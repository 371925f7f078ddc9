"""`log`, `data` and `invites` on a real pseudo-terminal 80 and 120 columns wide: values stay whole."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from tests.terminal import SOLDSCOPE, run_on_pty
from tests.unit.test_list_terminal import seed

from soldscope_cli.datasets import registry

pytestmark = pytest.mark.usefixtures("soldscope_command")

NOTE = "Gale Outdoor, onboarding call with Priya on Tuesday about the EU marketplaces"


def home(tmp_path: Path) -> dict[str, str]:
    """The six stores of the list tests (fern-au rejected), plus invitations, one with a note."""
    env = {**seed(tmp_path), "SOLDSCOPE_REDIRECT_URI": "https://agency.example/callback"}
    for args in (
        ["invite", "gale-us", "--marketplace", "US", "--note", NOTE],
        ["invite", "hive-uk", "--marketplace", "UK"],
        ["invites", "revoke", "hive-uk"],
        ["invite", "fern-au"],
    ):
        done = subprocess.run([str(SOLDSCOPE), *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    return env


def boxed(lines: list[str]) -> list[list[str]]:
    """The cells of each body row of a Rich table."""
    return [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line.startswith("│")]


def headers(lines: list[str]) -> list[str]:
    return next([c.strip() for c in ln.split("┃")[1:-1]] for ln in lines if ln.startswith("┃"))


def whole(run_lines: list[str], columns: int) -> None:
    assert all(len(line) <= columns for line in run_lines), "\n".join(run_lines)


@pytest.mark.parametrize("columns", [80, 120])
def test_log_fits_with_a_brief_detail(tmp_path: Path, columns: int) -> None:
    run = run_on_pty(["log"], {**home(tmp_path), "NO_COLOR": "1"}, columns=columns)
    assert run.returncode == 0, run.text
    whole(run.lines, columns)
    assert "\x1b[3" not in run.raw  # NO_COLOR: no colour
    rows = boxed(run.lines)
    assert headers(run.lines) == ["When", "Store", "Event", "Detail"]
    assert rows[0][1:3] == ["fern-au", "invited"]
    if columns == 120:  # the whole detail fits
        assert re.fullmatch(r"renewal, until \d{4}-\d\d-\d\d \(invitation \d+\)", rows[0][3])
        assert "Hidden to fit" not in run.text
    else:
        assert rows[0][3].startswith("renewal, until ")
        assert "Hidden to fit 80 columns: seller IDs;" in run.text


@pytest.mark.parametrize("columns", [80, 120])
def test_data_fits_and_colours_stale_yellow(tmp_path: Path, columns: int) -> None:
    run = run_on_pty(["data"], home(tmp_path), columns=columns)
    assert run.returncode == 0, run.text
    whole(run.lines, columns)
    shown = headers(run.lines)
    rows = boxed(run.lines)
    assert len(rows) == 6 * len(registry.NAMES)  # six stores, every dataset
    assert {r[shown.index("State")] for r in rows} == {
        f"stale (> {d.stale.amount} {d.stale.unit[0]})" for d in registry.DATASETS
    }
    assert {"stale (> 36 h)", "stale (> 48 h)", "stale (> 10 d)"} <= {
        r[shown.index("State")] for r in rows
    }
    assert "\x1b[33mstale (> 36 h)" in run.raw
    if columns == 120:
        assert shown == ["Store", "Dataset", "Rows", "Newest data", "Last sync", "Age", "State"]
    else:
        hidden = [h for h in ("Newest data", "Last sync") if h not in shown]
        assert hidden and f"Hidden to fit 80 columns: {', '.join(hidden)};" in run.text
    summary = f"{6 * len(registry.NAMES)} datasets of 6 stores"
    assert run.lines[-1].startswith(summary) or summary in run.text


@pytest.mark.parametrize("columns", [80, 120])
def test_invites_fit_and_the_note_moves_below(tmp_path: Path, columns: int) -> None:
    run = run_on_pty(["invites", "--all"], home(tmp_path), columns=columns)
    assert run.returncode == 0, run.text
    whole(run.lines, columns)
    shown = headers(run.lines)
    rows = {r[0]: r for r in boxed(run.lines)}
    assert set(rows) == {"gale-us", "hive-uk", "fern-au"}
    assert rows["hive-uk"][shown.index("STATUS")] == "revoked"
    assert "\x1b[31mrevoked" in run.raw
    if "NOTE" in shown:
        assert rows["gale-us"][shown.index("NOTE")] == NOTE
    else:
        assert f"gale-us: {NOTE}" in " ".join(line.strip() for line in run.lines)
        assert "NOTE" in run.text.split("Hidden to fit")[1]
    if columns == 80:
        assert "NOTE" not in shown and "Hidden to fit 80 columns:" in run.text


def test_piped_output_is_the_plain_text(tmp_path: Path) -> None:
    env = home(tmp_path)
    for args in (["log"], ["data"], ["invites", "--all"]):
        done = subprocess.run([str(SOLDSCOPE), *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "│" not in done.stdout and "\x1b[" not in done.stdout
        assert "Hidden to fit" not in done.stderr
