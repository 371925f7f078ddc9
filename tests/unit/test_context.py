"""The composition root re-reads config the process itself changed."""

from __future__ import annotations

from tests.conftest import Harness


def test_config_is_read_again_after_an_edit(harness: Harness) -> None:
    assert harness.ctx.config().app.application_id is None
    with harness.ctx.config_file.edit() as config:
        config.app.application_id = "amzn1.sp.solution.x"
        config.app.client_id = "amzn1.application-oa2-client.y"
    assert harness.ctx.config().app.application_id == "amzn1.sp.solution.x"
