"""boto3 loads only for the commands that rotate: every other command stays without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = [
    ["list"],
    ["app", "show"],
    ["app", "rotation"],
    ["doctor", "--offline"],
    ["validate"],
    ["sync"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_commands_that_do_not_rotate_never_import_boto3(tmp_path: Path, argv: list[str]) -> None:
    code = (
        "import sys\n"
        f"sys.argv = ['soldscope', *{argv!r}]\n"
        "from soldscope_cli.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('IMPORTED', sorted(m for m in ('boto3', 'botocore') if m in sys.modules))\n"
    )
    env = {
        "SOLDSCOPE_CONFIG_DIR": str(tmp_path / "c"),
        "SOLDSCOPE_DATA_DIR": str(tmp_path / "d"),
        "SOLDSCOPE_SECRETS": "file",
        "SOLDSCOPE_ROTATION_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "IMPORTED []" in out


def test_the_rotation_code_path_does_import_it() -> None:
    # The check above means something only if the rotation path really loads boto3.
    code = (
        "import sys\n"
        "from soldscope_cli.rotation.queue import SqsQueue\n"
        "SqsQueue('https://sqs.eu-west-1.amazonaws.com/1/q', {})._sqs()\n"
        "print('boto3' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
