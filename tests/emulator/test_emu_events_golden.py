"""Golden bytes of the Event API: the token answer and every events answer.

Request bodies are written out by hand from ``rokt-api.md`` sections a-d (the
docs' sample app credentials, sample event and error bodies), and every expected
answer is literal bytes. The emulator's clock sits 3.5 minutes after the docs'
sample ``eventTime``, and its tokens come from ``random.Random`` seeded by
``seed=0``, so each answer is the same bytes on every run.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Final

import pytest
import pytest_asyncio

from rokt_async.emulator import TOKEN_DOCS, TOKEN_NO_EXPIRY, TOKEN_STANDARD, Emulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import aiohttp

#: 2020-05-22T10:25:00Z.
DOCS_NOW: Final = 1_590_143_100.0
#: The docs' sample App ID and App Secret.
APP_ID: Final = "40svbin0d194subpohl079rhck"
APP_SECRET: Final = "1dimhvr1v6skae9uhvtgs3chs2astnjf0469df6ul9hurubtoovn"
PUBLIC: Final = "rpub-12345-a"
SECRET: Final = "rsec-67890-b"
#: The first two tokens ``seed=0`` hands out.
TOKEN_1: Final = b"004fb2bf97204fb04239b1a624358bc66b7c057de290074a"
TOKEN_2: Final = b"d84ead88db4e1bc9497a02d80234f8844f4ae3836160600e"


def basic(user: str, secret: str) -> str:
    """``Basic base64(user:secret)``, written out here rather than shared."""
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


FORM_HEADERS: Final = {
    "Authorization": basic(APP_ID, APP_SECRET),
    "Content-Type": "application/x-www-form-urlencoded",
}
EVENT_HEADERS: Final = {
    "Content-Type": "application/json",
    "Charset": "utf-8",
    "Rokt-Version": "2020-05-21",
}
#: The docs' sample event, exactly as a partner might send it (spaces and all).
SAMPLE_EVENT: Final = (
    b'{"clientEventId": "ff3bd69c-ca74-4337-af91-4d5d0bd00e38", '
    b'"eventTime": "2020-05-22T10:21:29.339Z", "eventType": "conversion", '
    b'"objectData": [{"name": "email", "value": "email123@emailserver.com"}, '
    b'{"name": "transactionid", "value": "123456789"}, '
    b'{"name": "conversiontype", "value": "purchase"}]}'
)
SAMPLE_BATCH: Final = b'{"accountId": "12345", "events": [' + SAMPLE_EVENT + b"]}"

ACCEPTED: Final = b'{"data":{"unprocessedRecords":[]}}'
UNPROCESSED: Final = (
    b'{"data":{"unprocessedRecords":[{"error":{"code":"ValidationError",'
    b'"message":"Invalid content"},"record":' + SAMPLE_EVENT + b"}]}}"
)
UNMARSHAL: Final = (
    b'{"data":{"code":"RequestJsonUnmarshalError",'
    b'"message":"unable to unmarshal request body"}}'
)
V2_UNAUTHORIZED: Final = (
    b'{"data":{"code":"UnauthorizedError",'
    b'"message":"missing or unknown Basic key pair"}}'
)
V1_UNAUTHORIZED: Final = (
    b'{"data":{"code":"UnauthorizedError",'
    b'"message":"missing, unknown or expired bearer token"}}'
)
CONFLICT: Final = (
    b'{"data":{"code":"Conflict","message":"idempotency key already used"}}'
)


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    """Seed 0, the clock just after the docs' sample event, the docs' app."""
    async with Emulator(
        clock=lambda: DOCS_NOW,
        seed=0,
        event_keys={PUBLIC: SECRET},
        oauth_apps={APP_ID: APP_SECRET},
    ) as emulator:
        yield emulator


async def exchange(
    http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int, bytes]:
    """POST raw bytes; the status and the raw answer."""
    async with http.post(url, data=body, headers=headers) as response:
        return response.status, await response.read()


async def send_v2(
    emu: Emulator, http: aiohttp.ClientSession, body: bytes, **headers: str
) -> tuple[int, bytes]:
    """POST /v2/events with the configured key pair unless told otherwise."""
    sent = {**EVENT_HEADERS, "Authorization": basic(PUBLIC, SECRET), **headers}
    return await exchange(http, emu.url + "/v2/events", body, sent)


# --- the token endpoint -----------------------------------------------------------


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        (
            TOKEN_STANDARD,
            b'{"access_token":"'
            + TOKEN_1
            + b'","token_type":"Bearer","expires_in":3600}',
        ),
        (TOKEN_DOCS, b'{"Access_token":"' + TOKEN_1 + b'"}'),
        (TOKEN_NO_EXPIRY, b'{"access_token":"' + TOKEN_1 + b'","token_type":"Bearer"}'),
    ],
)
async def test_token_answers_golden_bytes(
    emu: Emulator, http: aiohttp.ClientSession, style: str, expected: bytes
) -> None:
    """The docs' sample request answers exactly these bytes in each style."""
    emu.set_token_options(response=style)
    url = emu.url + "/auth/oauth2/token"
    assert await exchange(
        http, url, b"grant_type=client_credentials", FORM_HEADERS
    ) == (
        200,
        expected,
    )


async def test_tokens_follow_the_seed_after_reset(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    """Tokens are a seeded sequence: reset() starts it again."""
    url = emu.url + "/auth/oauth2/token"
    grant = b"grant_type=client_credentials"
    first = await exchange(http, url, grant, FORM_HEADERS)
    second = await exchange(http, url, grant, FORM_HEADERS)
    assert TOKEN_1 in first[1]
    assert TOKEN_2 in second[1]
    emu.reset()
    assert await exchange(http, url, grant, FORM_HEADERS) == first


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        (
            {**FORM_HEADERS, "Authorization": basic(APP_ID, "wrong")},
            b"grant_type=client_credentials",
            (401, b'{"error":"invalid_client"}'),
        ),
        (
            FORM_HEADERS,
            b"grant_type=authorization_code",
            (400, b'{"error":"unsupported_grant_type"}'),
        ),
        (
            {**FORM_HEADERS, "Content-Type": "application/json"},
            b'{"grant_type": "client_credentials"}',
            (400, b'{"error":"invalid_request"}'),
        ),
    ],
    ids=["401", "400-grant", "400-form"],
)
async def test_token_errors_answer_golden_bytes(
    emu: Emulator,
    http: aiohttp.ClientSession,
    headers: dict[str, str],
    body: bytes,
    expected: tuple[int, bytes],
) -> None:
    """Refused token requests answer OAuth 2.0's error bodies, byte for byte."""
    assert (
        await exchange(http, emu.url + "/auth/oauth2/token", body, headers) == expected
    )


# --- the events endpoints ---------------------------------------------------------


async def test_docs_sample_batch_answers_empty_unprocessed_list(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    """The docs' sample event is accepted: 200 with no unprocessed records."""
    assert await send_v2(emu, http, SAMPLE_BATCH) == (200, ACCEPTED)
    assert emu.ledger().event_count("ff3bd69c-ca74-4337-af91-4d5d0bd00e38") == 1


async def test_unprocessed_answer_matches_docs_partial_failure(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    """The ``unprocessed`` fault answers the docs' partial-failure body, the record
    echoing the event byte for byte."""
    emu.faults.fail_next("events", "unprocessed")
    assert await send_v2(emu, http, SAMPLE_BATCH) == (200, UNPROCESSED)


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (b'{"accountId": "12345", "events": [', {}, (400, UNMARSHAL)),
        (
            b'{"accountId": "' + b"1" * 65 + b'", "events": [' + SAMPLE_EVENT + b"]}",
            {},
            (
                400,
                b'{"data":{"code":"RequestValidationError",'
                b'"message":"Expected `str` of length <= 64 - at `$.accountId`"}}',
            ),
        ),
        (
            SAMPLE_BATCH.replace(
                b"2020-05-22T10:21:29.339Z", b"2020-05-22T10:30:00.001Z"
            ),
            {},
            (
                400,
                b'{"data":{"code":"RequestValidationError","message":"eventTime is more'
                b' than 5 minutes in the future - at `$.events[0].eventTime`"}}',
            ),
        ),
        (
            SAMPLE_BATCH,
            {"Rokt-Version": "2019-01-01"},
            (
                400,
                b'{"data":{"code":"RequestValidationError","message":"Rokt-Version'
                b" '2019-01-01' is not supported; use 2020-05-21\"}}",
            ),
        ),
        (
            b"\xff" + SAMPLE_BATCH,
            {},
            (
                400,
                b'{"data":{"code":"RequestBodyReadError",'
                b'"message":"request body is not valid UTF-8"}}',
            ),
        ),
        (
            SAMPLE_BATCH,
            {"Authorization": basic(PUBLIC, "nope")},
            (401, V2_UNAUTHORIZED),
        ),
    ],
    ids=["400-json", "400-account", "400-time", "400-version", "400-utf8", "401"],
)
async def test_v2_refusals_answer_golden_bytes(
    emu: Emulator,
    http: aiohttp.ClientSession,
    body: bytes,
    headers: dict[str, str],
    expected: tuple[int, bytes],
) -> None:
    """Each refusal answers ``{"data": {"code", "message"}}``, byte for byte."""
    assert await send_v2(emu, http, body, **headers) == expected


async def test_v1_answers_golden_bytes_for_401_200_and_409(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    """No token is 401; with one the batch is 200, and its resend 409."""
    url = emu.url + "/v1/events"
    headers = {
        **EVENT_HEADERS,
        "Idempotency-Key": "6f1c1f0e-6c43-4f8e-9d0e-2f1b7c9a4b11",
    }
    assert await exchange(http, url, SAMPLE_BATCH, headers) == (401, V1_UNAUTHORIZED)
    grant = b"grant_type=client_credentials"
    await exchange(http, emu.url + "/auth/oauth2/token", grant, FORM_HEADERS)
    headers["Authorization"] = "Bearer " + TOKEN_1.decode()
    assert await exchange(http, url, SAMPLE_BATCH, headers) == (200, ACCEPTED)
    assert await exchange(http, url, SAMPLE_BATCH, headers) == (409, CONFLICT)


async def test_events_gateway_timeout_answers_golden_bytes(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    """A 504 fault on events answers the events error shape."""
    emu.faults.fail_next("events", "504_after")
    assert await send_v2(emu, http, SAMPLE_BATCH) == (
        504,
        b'{"data":{"code":"GatewayTimeoutError","message":"Gateway Timeout"}}',
    )
