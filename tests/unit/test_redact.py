"""Redaction of tokens, client secrets and registered secret values."""

from __future__ import annotations

import io
import logging
import threading
import uuid

import pytest

from soldscope_cli.redact import (
    REDACTED,
    RedactingFilter,
    SecretRegistry,
    redact,
    register_secret,
)

ACCESS = "Atza|IwEBIPlYv8Xq-3kJ_5gD+abc/def=="
REFRESH = "Atzr|IwEBIA7example-refresh_token+/=="
CLIENT_SECRET = "amzn1.oa2-cs.v1.3fa85f6457174562b3fc2c963f66afa6d1c2e3f4a5b6c7d8e9f0a1b2c3d4e5f6"


@pytest.mark.parametrize(
    "text",
    [
        f"x-amz-access-token: {ACCESS}",
        f'{{"access_token":"{ACCESS}","refresh_token":"{REFRESH}"}}',
        f"grant_type=refresh_token&refresh_token={REFRESH.replace('|', '%7C')}&client_id=x",
        f"client_secret={CLIENT_SECRET}&scope=y",
        f"tokens ({ACCESS}, {REFRESH})",
    ],
)
def test_token_and_client_secret_patterns_are_removed(text: str) -> None:
    cleaned = SecretRegistry().redact(text)
    assert "IwEB" not in cleaned
    assert "3fa85f6457174562" not in cleaned
    assert REDACTED in cleaned


def test_a_presigned_document_url_loses_its_signature_credential_and_token() -> None:
    url = (
        "HTTP Request: GET https://tortuga-prod-na.s3.amazonaws.com/D-1?X-Amz-Algorithm=AWS4-HMAC-"
        "SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261207%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE&x-amz-signature=deadbeefcafe0123 200"
    )
    cleaned = SecretRegistry().redact(url)
    for secret in ("AKIAEXAMPLE", "IQoJb3JpZ2lu", "deadbeefcafe"):
        assert secret not in cleaned
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in cleaned and cleaned.endswith(" 200")


def test_prefixes_stay_so_logs_still_say_what_was_there() -> None:
    cleaned = SecretRegistry().redact(f"a={ACCESS} b={REFRESH} c={CLIENT_SECRET}")
    assert cleaned == f"a=Atza|{REDACTED} b=Atzr|{REDACTED} c=amzn1.oa2-cs.v1.{REDACTED}"


def test_text_without_secrets_is_unchanged() -> None:
    text = "GET /sellers/v1/marketplaceParticipations -> 200 [request id 6b1d2c]"
    assert SecretRegistry().redact(text) == text


def test_registered_values_are_removed_also_when_url_encoded() -> None:
    registry = SecretRegistry()
    secret = "sim-refresh/token+value=1"
    registry.register(secret)
    encoded = "sim-refresh%2Ftoken%2Bvalue%3D1"
    assert registry.redact(f"raw {secret} form {encoded}") == f"raw {REDACTED} form {REDACTED}"


def test_longer_secret_containing_a_shorter_one_is_removed_whole() -> None:
    registry = SecretRegistry()
    registry.register("abcdef")
    registry.register("abcdefghijkl")
    assert registry.redact("abcdefghijkl") == REDACTED


def test_very_short_values_are_not_registered() -> None:
    registry = SecretRegistry()
    registry.register("ab")
    registry.register("")
    assert registry.redact("ab cab") == "ab cab"


def test_clear_forgets_values_and_repr_does_not_show_them() -> None:
    registry = SecretRegistry()
    registry.register("hunter2hunter2")
    assert "hunter2" not in repr(registry)
    registry.clear()
    assert registry.redact("hunter2hunter2") == "hunter2hunter2"


def test_registration_from_many_threads_keeps_every_value() -> None:
    registry = SecretRegistry()
    values = [f"secret-value-{i:04d}" for i in range(200)]
    barrier = threading.Barrier(8)

    def worker(chunk: list[str]) -> None:
        barrier.wait()
        for value in chunk:
            registry.register(value)

    threads = [threading.Thread(target=worker, args=(values[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert registry.redact(" ".join(values)) == " ".join([REDACTED] * len(values))


def test_module_level_registry() -> None:
    value = f"registered-{uuid.uuid4().hex}"
    assert redact(value) == value
    register_secret(value)
    assert redact(f"token={value}") == f"token={REDACTED}"


def _logger_with_filter(registry: SecretRegistry) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(registry))
    logger = logging.getLogger(f"test-redact-{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    return logger, stream


def test_logging_filter_redacts_message_arguments() -> None:
    registry = SecretRegistry()
    registry.register("my-simulator-secret")
    logger, stream = _logger_with_filter(registry)
    logger.debug("refresh with %s and %s (%d)", REFRESH, "my-simulator-secret", 3)
    output = stream.getvalue()
    assert "IwEB" not in output
    assert "my-simulator-secret" not in output
    assert output.strip() == f"refresh with Atzr|{REDACTED} and {REDACTED} (3)"


def test_logging_filter_redacts_tracebacks() -> None:
    logger, stream = _logger_with_filter(SecretRegistry())
    try:
        raise RuntimeError(f"bad token {ACCESS}")
    except RuntimeError:
        logger.exception("call failed")
    output = stream.getvalue()
    assert "RuntimeError" in output
    assert "IwEB" not in output


def test_authorization_codes_and_form_secrets_in_urls_are_redacted() -> None:
    from soldscope_cli.redact import redact

    line = (
        "HTTP Request: GET http://127.0.0.1:4/callback?state=abc&selling_partner_id=A1"
        '&spapi_oauth_code=F0g9fkzTQbIkdmoNsiZV "HTTP/1.0 200 OK"'
    )
    assert "F0g9fkzTQbIkdmoNsiZV" not in redact(line)
    assert "selling_partner_id=A1" in redact(line)
    form = "grant_type=authorization_code&code=RHxyzSecret123&client_secret=s3cr3tvalue42"
    out = redact(form)
    assert "RHxyzSecret123" not in out and "s3cr3tvalue42" not in out
    assert out.startswith("grant_type=authorization_code&code=")
    assert redact("the code=ok in prose?") == "the code=[REDACTED] in prose?"


# Secrets of every shape soldscope registers: the tail after a "-", "|", "+" or a regex
# metacharacter must never survive, whichever rule sees the text first.
SHAPES = {
    "client secret, hex": "amzn1.oa2-cs.v1." + "3fa85f6457174562b3fc2c963f66afa6" * 2,
    "client secret with a dash": "amzn1.oa2-cs.v1.3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "client secret with an underscore": "amzn1.oa2-cs.v1.abc_DEF_0123456789_tailpart",
    "refresh token": "Atzr|IwEBIA7example-refresh_token+/==tailpart",
    "access token": "Atza|IwEBIPlYv8Xq-3kJ_5gD+abc/def==tailpart",
    "authorization code": "RHxyzAuthCode0123tailpart",
    "regex metacharacters": "a.b*c+d?e(f)g[h]i{j}k|l^m$n\\otailpart",
}


@pytest.mark.parametrize("secret", list(SHAPES.values()), ids=list(SHAPES))
@pytest.mark.parametrize(
    "template",
    [
        "{}",
        '{{"error":"invalid_client","error_description":"bad secret {}"}}',
        "client_secret={}&grant_type=refresh_token",
        "secret ({}), again: {}",
    ],
    ids=["bare", "lwa-error-body", "form", "twice"],
)
def test_registered_secrets_of_every_shape_are_removed_whole(secret: str, template: str) -> None:
    registry = SecretRegistry()
    registry.register(secret)
    cleaned = registry.redact(template.format(secret, secret))
    assert "tailpart" not in cleaned
    for piece in secret.replace("|", "-").replace(".", "-").split("-"):
        if len(piece) >= 6:
            assert piece not in cleaned
    assert REDACTED in cleaned


def test_lwa_error_echoing_a_client_secret_with_a_dash_keeps_no_tail() -> None:
    registry = SecretRegistry()
    secret = SHAPES["client secret with a dash"]
    registry.register(secret)
    body = f'{{"error_description":"Client authentication failed for {secret}"}}'
    assert (
        registry.redact(body)
        == f'{{"error_description":"Client authentication failed for amzn1.oa2-cs.v1.{REDACTED}"}}'
    )


def test_unregistered_client_secret_with_a_dash_is_removed_to_the_delimiter() -> None:
    cleaned = SecretRegistry().redact(f"secret={SHAPES['client secret with a dash']}&x=1")
    assert cleaned == f"secret=amzn1.oa2-cs.v1.{REDACTED}&x=1"


def test_a_secret_inside_another_and_overlapping_secrets_leave_nothing() -> None:
    registry = SecretRegistry()
    registry.register("inner-secret")
    registry.register("outer-inner-secret-end")
    registry.register("end-overlap-tail")
    text = "a outer-inner-secret-end-overlap-tail b inner-secret c"
    assert registry.redact(text) == f"a {REDACTED} b {REDACTED} c"


def test_a_registered_token_keeps_its_shape_prefix_and_one_marker() -> None:
    registry = SecretRegistry()
    registry.register(REFRESH)
    registry.register(CLIENT_SECRET)
    text = f"a={REFRESH} b={REFRESH.replace('|', '%7C')} c={CLIENT_SECRET}"
    expected = f"a=Atzr|{REDACTED} b=Atzr%7C{REDACTED} c=amzn1.oa2-cs.v1.{REDACTED}"
    assert registry.redact(text) == expected
