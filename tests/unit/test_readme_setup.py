"""The README's "Set up" names what a newcomer's machine lacks before the first command fails."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def setup_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## Set up\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_debian_needs_python3_venv_before_the_first_venv() -> None:
    section = setup_section()
    # Debian and Ubuntu ship python3 without venv: `python3 -m venv` fails until it is installed.
    assert "apt-get install python3-venv" in section
    assert section.index("python3-venv") < section.index("python3 -m venv .venv")


def test_a_machine_without_a_keyring_is_told_about_the_file_backend() -> None:
    section = setup_section()
    assert "SOLDSCOPE_SECRETS=file" in section
    assert "keyring" in section[section.index("SOLDSCOPE_SECRETS=file") - 400 :]
