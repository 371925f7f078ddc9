"""`--app-id` and `--selling-partner-id` must have the shape Amazon gives them: a typo is exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Harness, make_harness
from tests.unit.test_cmd_connect_import import TOKEN, connect, nothing_stored
from tests.unit.test_health import Seller, amazon_harness, participation

from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY

CLIENT_ID = "amzn1.application-oa2-client.0123456789abcdef"
SECRET = "amzn1.oa2-cs.v1.supersecretvalue"


@pytest.mark.parametrize(
    "app_id",
    [
        "amzn1.sp.solution.x",
        "amzn1.sp.solution.00000000-1111-2222-3333",
        "amzn1.sp.solution.00000000-1111-2222-3333-44444444444g",
        "amzn1.sp.solution.00000000-1111-2222-3333-444444444444 ",
    ],
)
def test_a_malformed_app_id_is_refused(tmp_path: Path, invoke: Any, app_id: str) -> None:
    h = make_harness(tmp_path, stdin=SECRET)
    result = invoke(
        h, "app", "set", "--app-id", app_id, "--client-id", CLIENT_ID, "--client-secret-stdin"
    )
    assert result.exit_code == 2, h.stderr
    assert "does not look like amzn1.sp.solution.<uuid>" in h.stderr
    assert h.secrets.get(CLIENT_SECRET_KEY) is None


def _connect_as(tmp_path: Path, invoke: Any, seller: str) -> tuple[Harness, int, str]:
    """`connect acme-us` with a pasted token and `seller` as its seller id: (harness, code, stderr)."""
    h, fake = amazon_harness(tmp_path)
    fake.add(TOKEN, Seller(payload=[participation("US")]))
    code, _, err = connect(
        h,
        invoke,
        "acme-us",
        "--marketplace",
        "US",
        "--refresh-token-stdin",
        "--selling-partner-id",
        seller,
    )
    return h, code, err


@pytest.mark.parametrize("seller", ["abc", "A1", "a1e2eacme0001", "A1E2E-ACME01", "B1E2EACME0001"])
def test_a_malformed_seller_id_is_refused(tmp_path: Path, invoke: Any, seller: str) -> None:
    h, code, err = _connect_as(tmp_path, invoke, seller)
    assert code == 2, err
    assert "does not look like a seller id" in err
    assert nothing_stored(h)


def test_a_seller_id_of_amazons_shape_is_accepted(tmp_path: Path, invoke: Any) -> None:
    _, code, err = _connect_as(tmp_path, invoke, "A2EUQ1WTGCTBG2")
    assert code == 0, err
