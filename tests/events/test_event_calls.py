"""``send_events`` against canned answers: results, typed errors, configuration."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from aioresponses import aioresponses

from rokt_async import (
    NO_WAIT_RETRY,
    AuthenticationError,
    BadRequestError,
    BasicCredentials,
    ConfigurationError,
    ErrorBody,
    ErrorDetail,
    Event,
    OAuthCredentials,
    ResponseDecodeError,
    RoktClient,
    ServerError,
)
from tests.conftest import A_CONFIRM, FAKE_BASE

V1 = f"{FAKE_BASE}/v1/events"
V2 = f"{FAKE_BASE}/v2/events"
TOKEN = f"{FAKE_BASE}/auth/oauth2/token"
BASIC = BasicCredentials(public_key="rpub-test", secret_key="rsec-test")
OAUTH = OAuthCredentials(app_id="test-app", app_secret="test-app-secret")
ACCEPTED: dict[str, Any] = {"data": {"unprocessedRecords": []}}
NOW = datetime.datetime.now(datetime.UTC)


def events(count: int) -> list[Event]:
    return [
        Event(client_event_id=f"e-{n}", event_type="conversion", event_time=NOW)
        for n in range(count)
    ]


def client(credentials: Any = BASIC, **options: Any) -> RoktClient:
    options.setdefault("retry", NO_WAIT_RETRY)
    return RoktClient(base_url=FAKE_BASE, event_credentials=credentials, **options)


async def test_one_failed_batch_is_reported_and_the_others_delivered() -> None:
    async with client() as rokt:
        with aioresponses() as mocked:
            mocked.post(
                V2,
                status=400,
                payload={
                    "data": {
                        "code": "RequestValidationError",
                        "message": "bad eventTime",
                    }
                },
            )
            mocked.post(V2, payload=ACCEPTED)
            result = await rokt.send_events(events(150), account_id="1", concurrency=1)
    assert (result.delivered, result.batches, result.is_complete) == (50, 2, False)
    (failed,) = result.failed
    assert failed.client_event_ids == tuple(f"e-{n}" for n in range(100))
    assert isinstance(failed.error, BadRequestError)
    assert failed.error.body == ErrorBody(
        description="bad eventTime",
        errors=(ErrorDetail(code="RequestValidationError", message="bad eventTime"),),
    )
    assert "RequestValidationError: bad eventTime" in str(failed.error)
    with pytest.raises(BadRequestError) as raised:
        result.raise_for_failures()
    assert raised.value is failed.error


async def test_a_one_batch_failure_is_reported_not_raised() -> None:
    async with client() as rokt:
        with aioresponses() as mocked:
            mocked.post(V2, status=500, repeat=True)
            result = await rokt.send_events(events(1), account_id="1")
    assert result.delivered == 0
    assert isinstance(result.failed[0].error, ServerError)


async def test_unprocessed_records_inside_a_200_are_surfaced() -> None:
    answer = {
        "data": {
            "unprocessedRecords": [
                {
                    "error": {"code": "ValidationError", "message": "Invalid content"},
                    "record": {"clientEventId": "e-1", "eventType": "conversion"},
                }
            ]
        }
    }
    async with client() as rokt:
        with aioresponses() as mocked:
            mocked.post(V2, payload=answer)
            result = await rokt.send_events(events(3), account_id="1")
    assert result.delivered == 2
    (refused,) = result.unprocessed
    assert (refused.client_event_id, refused.code, refused.message) == (
        "e-1",
        "ValidationError",
        "Invalid content",
    )
    assert not result.is_complete
    result.raise_for_failures()  # unprocessed is not a failure of the batch


@pytest.mark.parametrize("body", [b"", b"{}", b'{"data": {}}'])
async def test_an_empty_or_bare_2xx_is_an_accepted_batch(body: bytes) -> None:
    async with client() as rokt:
        with aioresponses() as mocked:
            mocked.post(V2, status=202, body=body)
            result = await rokt.send_events(events(2), account_id="1")
    assert (result.delivered, result.is_complete) == (2, True)


async def test_a_409_on_v1_is_delivered() -> None:
    async with client(OAUTH) as rokt:
        with aioresponses() as mocked:
            mocked.post(TOKEN, payload={"access_token": "t", "expires_in": 3600})
            mocked.post(
                V1,
                status=409,
                payload={"data": {"code": "Conflict", "message": "seen"}},
            )
            result = await rokt.send_events(events(4), account_id="1")
    assert (result.delivered, result.is_complete) == (4, True)


async def test_a_409_on_v2_is_a_failure() -> None:
    """/v2 has no Idempotency-Key: a 409 there is not known to mean delivered."""
    async with client() as rokt:
        with aioresponses() as mocked:
            mocked.post(V2, status=409)
            result = await rokt.send_events(events(1), account_id="1")
    assert result.delivered == 0
    assert len(result.failed) == 1


async def test_two_401s_fail_the_batch_with_authentication_error() -> None:
    async with client(OAUTH) as rokt:
        with aioresponses() as mocked:
            mocked.post(TOKEN, payload={"access_token": "t1"})
            mocked.post(V1, status=401)
            mocked.post(TOKEN, payload={"access_token": "t2"})
            mocked.post(V1, status=401)
            result = await rokt.send_events(events(1), account_id="1")
    error = result.failed[0].error
    assert isinstance(error, AuthenticationError)
    assert "check event_credentials" in str(error)


@pytest.mark.parametrize("status", [400, 401])
async def test_a_refused_token_request_is_authentication_error_not_retried(
    status: int,
) -> None:
    async with client(OAUTH) as rokt:
        with aioresponses() as mocked:
            mocked.post(TOKEN, status=status, payload={"error": "invalid_client"})
            mocked.post(TOKEN, payload={"access_token": "never asked for"})
            mocked.post(V1, payload=ACCEPTED)
            result = await rokt.send_events(events(1), account_id="1")
    error = result.failed[0].error
    assert isinstance(error, AuthenticationError)
    assert (error.status, error.attempts) == (status, 1)
    assert error.path == "/auth/oauth2/token"


async def test_a_token_5xx_is_retried() -> None:
    async with client(OAUTH) as rokt:
        with aioresponses() as mocked:
            mocked.post(TOKEN, status=503)
            mocked.post(TOKEN, payload={"Access_token": "docs-spelling"})
            mocked.post(V1, payload=ACCEPTED)
            result = await rokt.send_events(events(1), account_id="1")
    assert result.is_complete
    assert rokt.stats.retries == 1


async def test_a_token_answer_without_a_token_is_a_decode_error() -> None:
    async with client(OAUTH) as rokt:
        with aioresponses() as mocked:
            mocked.post(TOKEN, payload={"token_type": "Bearer"})
            result = await rokt.send_events(events(1), account_id="1")
    assert isinstance(result.failed[0].error, ResponseDecodeError)


async def test_send_events_without_event_credentials_is_a_configuration_error() -> None:
    async with RoktClient(api_key="k", tag_id="t", base_url=FAKE_BASE) as rokt:
        with pytest.raises(ConfigurationError, match="no event_credentials"):
            await rokt.send_events(events(1), account_id="1")
        with pytest.raises(ConfigurationError, match="no event_credentials"):
            rokt.event_sender(account_id="1")


async def test_an_events_only_client_refuses_cart_calls_saying_what_is_missing() -> (
    None
):
    async with client() as rokt:
        with pytest.raises(
            ConfigurationError, match="confirm needs api_key and tag_id"
        ):
            await rokt.confirm_cart(A_CONFIRM)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "api_key and tag_id missing"),
        ({"api_key": "k"}, "tag_id missing"),
        ({"tag_id": "t", "event_credentials": BASIC}, "api_key missing"),
        (
            {"event_credentials": BASIC, "event_api_version": "2020\r\n"},
            "event_api_version contains a control",
        ),
        (
            {"event_credentials": object()},
            "must be BasicCredentials or OAuthCredentials",
        ),
    ],
)
def test_construction_refuses_unusable_credentials(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RoktClient(base_url=FAKE_BASE, **options)


@pytest.mark.parametrize(
    "build",
    [
        lambda: BasicCredentials("rpub-x\n", "s"),
        lambda: BasicCredentials("rpub-x", "s\r\nX-Evil: 1"),
        lambda: BasicCredentials("", "s"),
        lambda: BasicCredentials("a:b", "s"),
        lambda: OAuthCredentials("app", "sec\x00"),
        lambda: OAuthCredentials("app\t", "sec"),
    ],
)
def test_control_characters_in_credentials_are_refused_at_construction(
    build: Any,
) -> None:
    with pytest.raises(ConfigurationError):
        build()


def test_credentials_never_show_their_secret() -> None:
    basic = BasicCredentials("rpub-visible", "rsec-CANARY")
    oauth = OAuthCredentials("app-visible", "app-CANARY")
    for shown in (
        repr(basic),
        str(basic),
        repr(oauth),
        str(oauth),
        repr(client(oauth)),
    ):
        assert "CANARY" not in shown
    assert "rpub-visible" in repr(basic)
    assert "app-visible" in repr(oauth)


async def test_send_events_refuses_bad_concurrency_and_timeout() -> None:
    async with client() as rokt:
        with pytest.raises(ConfigurationError, match="concurrency"):
            await rokt.send_events(events(1), account_id="1", concurrency=0)
        with pytest.raises(ConfigurationError, match="timeout"):
            await rokt.send_events(events(1), account_id="1", timeout=0)
