"""config.toml is safe to edit by hand: soldscope's own writes keep the user's comments and layout."""

from __future__ import annotations

import os
import stat
import tomllib

import pytest
from tests.e2e.conftest import Cli

pytestmark = pytest.mark.e2e

HAND_WRITTEN = """\
# Our agency's soldscope. Edited by hand; soldscope keeps these comments.

[app]
redirect_uri = "https://example.com/relay/"  # the relay page on our site

# Ops hears about everything; the account team only about expiries.
[[notify]]
url = "json://127.0.0.1:9/ops"  # the on-call webhook

[[notify]]
url = "json://127.0.0.1:9/accounts"
events = ["expiring"]

# One table per client.
[stores.acme-us]
region = "na"  # North America
marketplaces = ["US"]
authorized_at = 2026-01-05T10:00:00Z

[stores.globex-de]
region = "eu"
marketplaces = ["DE"]  # Germany only for now
authorized_at = 2026-02-01T00:00:00Z
"""


def test_app_set_and_delete_keep_comments_and_notify_tables(cli: Cli) -> None:
    path = cli.home / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HAND_WRITTEN)
    done = cli.run(
        "app",
        "set",
        "--app-id",
        "amzn1.sp.solution.6f1c0a2e-0000-4000-8000-000000000001",
        "--client-id",
        "amzn1.application-oa2-client.y",
        "--client-secret-stdin",
        input="amzn1.oa2-cs.v1.config-edits-secret",
    )
    assert done.returncode == 0, done.stderr
    done = cli.run("delete", "globex-de", "--yes")
    assert done.returncode == 0, done.stderr
    text = path.read_text()
    for line in HAND_WRITTEN.splitlines():
        if "#" in line and "Germany" not in line:
            assert line in text, f"{line!r} is gone:\n{text}"
    assert text.count("[[notify]]") == 2 and "notify = [" not in text
    assert "authorized_at = 2026-01-05T10:00:00Z" in text
    data = tomllib.loads(text)
    assert sorted(data["stores"]) == ["acme-us"]
    assert data["app"]["client_id"] == "amzn1.application-oa2-client.y"
    assert "client_secret_set_at" in data["app"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    listed = cli.run("list", "--json")
    assert listed.returncode in (0, 1), listed.stderr
