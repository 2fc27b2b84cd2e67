"""The emulator's Event API over real sockets: credentials, headers, idempotency,
validation and partial failure on ``/v1/events`` and ``/v2/events``.

Bodies are plain dicts or bytes written from ``rokt-api.md`` (never the client's
models), sent with plain aiohttp. The helpers at the top are shared with the
other ``test_emu_events_*`` files.
"""

from __future__ import annotations

import base64
import datetime
from typing import TYPE_CHECKING, Any, Final

import msgspec
import pytest

from rokt_async.emulator import Emulator
from tests.emulator._helpers import T0

if TYPE_CHECKING:
    import aiohttp

ENCODE: Final = msgspec.json.Encoder().encode
ANY_JSON: Final = msgspec.json.Decoder()
#: The emulator's clock in the fixture, as RFC 3339.
NOW: Final = datetime.datetime.fromtimestamp(T0, tz=datetime.UTC)
NOW_TEXT: Final = "2023-11-14T22:13:20.000Z"
FORM: Final = "application/x-www-form-urlencoded"


def basic(user: str, secret: str) -> str:
    """An ``Authorization: Basic`` value."""
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


V2_AUTH: Final = basic("rpub-test", "rsec-test")
APP_AUTH: Final = basic("test-app", "test-app-secret")


def event(**fields: Any) -> dict[str, Any]:
    """One valid event at the fixture's clock; keyword arguments override fields
    (a value of None drops the field)."""
    body: dict[str, Any] = {
        "clientEventId": "e-1",
        "eventType": "conversion",
        "eventTime": NOW_TEXT,
        "objectData": [{"name": "email", "value": "buyer@example.com"}],
        "metaData": [{"name": "source", "value": "checkout"}],
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def batch(*events: dict[str, Any], account: Any = "12345") -> dict[str, Any]:
    """``{"accountId", "events"}``; one default event when none is given."""
    return {"accountId": account, "events": list(events or (event(),))}


def v2_headers(**overrides: str | None) -> dict[str, str]:
    """What a v2 sender sends; an override of None drops that header."""
    headers: dict[str, str | None] = {
        "Authorization": V2_AUTH,
        "Content-Type": "application/json",
        "Charset": "utf-8",
        "Rokt-Version": "2020-05-21",
    }
    headers.update(overrides)
    return {k: v for k, v in headers.items() if v is not None}


def v1_headers(
    token: str, key: str = "key-1", **overrides: str | None
) -> dict[str, str]:
    """What a v1 sender sends with ``token`` and Idempotency-Key ``key``."""
    return v2_headers(
        **{"Authorization": f"Bearer {token}", "Idempotency-Key": key, **overrides}
    )


async def call(
    http: aiohttp.ClientSession,
    url: str,
    body: bytes | Any,
    headers: dict[str, str],
) -> tuple[int, Any]:
    """POST; the status and the decoded JSON answer (None for an empty one)."""
    data = body if isinstance(body, bytes) else ENCODE(body)
    async with http.post(url, data=data, headers=headers) as response:
        raw = await response.read()
        return response.status, ANY_JSON.decode(raw) if raw else None


async def get_token(
    http: aiohttp.ClientSession, emulator: Emulator, auth: str = APP_AUTH
) -> str:
    """A token from the emulator's token endpoint (any of its spellings)."""
    headers = {"Authorization": auth, "Content-Type": FORM}
    status, answer = await call(
        http,
        emulator.url + "/auth/oauth2/token",
        b"grant_type=client_credentials",
        headers,
    )
    assert status == 200, answer
    token = answer.get("access_token") or answer["Access_token"]
    assert isinstance(token, str)
    return token


async def send_v2(
    http: aiohttp.ClientSession,
    emulator: Emulator,
    body: bytes | Any,
    **headers: str | None,
) -> tuple[int, Any]:
    """POST /v2/events with the default key pair."""
    return await call(http, emulator.url + "/v2/events", body, v2_headers(**headers))


def refusal(answer: Any) -> tuple[str, str]:
    """``(code, message)`` of a ``{"data": {"code", "message"}}`` body."""
    assert set(answer) == {"data"}
    assert set(answer["data"]) == {"code", "message"}
    return answer["data"]["code"], answer["data"]["message"]


ACCEPTED: Final[Any] = {"data": {"unprocessedRecords": []}}


# --- v2: Basic key pairs --------------------------------------------------------------


async def test_v2_accepts_batch_when_key_pair_is_known(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """A valid batch with the default key pair answers 200, no unprocessed records,
    and each event is applied once."""
    body = batch(event(clientEventId="a"), event(clientEventId="b"))
    assert await send_v2(http, emulator, body) == (200, ACCEPTED)
    ledger = emulator.ledger()
    assert ledger.event_counts == {"a": 1, "b": 1}
    assert (ledger.events_applied, ledger.event_batches) == (2, 1)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        basic("rpub-test", "wrong"),
        basic("rpub-other", "rsec-test"),
        basic("test-app", "test-app-secret"),
        "Bearer rsec-test",
        "Basic not-base64!",
        "Basic " + base64.b64encode(b"rpub-test").decode(),
        "Basic " + base64.b64encode(b"rpub-test:rsec-test\xff").decode(),
    ],
    ids=[
        "missing",
        "empty",
        "wrong-secret",
        "unknown-public",
        "oauth-app",
        "bearer",
        "bad-base64",
        "no-colon",
        "not-utf8",
    ],
)
async def test_v2_gets_401_when_key_pair_is_missing_or_wrong(
    emulator: Emulator, http: aiohttp.ClientSession, authorization: str | None
) -> None:
    """Anything but a configured Basic pair is 401 UnauthorizedError; nothing is
    applied."""
    status, answer = await send_v2(http, emulator, batch(), Authorization=authorization)
    assert status == 401
    assert refusal(answer)[0] == "UnauthorizedError"
    assert emulator.ledger().events_applied == 0


async def test_v2_accepts_basic_scheme_in_any_case(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """``basic`` is the same scheme as ``Basic``."""
    lower = "basic " + V2_AUTH.split(" ", 1)[1]
    assert (await send_v2(http, emulator, batch(), Authorization=lower))[0] == 200


async def test_v2_applies_resend_again_when_at_least_once(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """v2 has no idempotency: a resend (same Idempotency-Key or not) applies again
    and the ledger lists the event as a duplicate."""
    for _ in range(2):
        status, _ = await send_v2(http, emulator, batch(), **{"Idempotency-Key": "k"})
        assert status == 200
    ledger = emulator.ledger()
    assert (ledger.event_count("e-1"), ledger.event_duplicates) == (2, ("e-1",))
    assert ledger.events_applied == 2


# --- v1: Bearer tokens and Idempotency-Key -----------------------------------------


async def test_v1_accepts_batch_when_token_was_issued_here(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """A token from the emulator's token endpoint opens /v1/events."""
    token = await get_token(http, emulator)
    answer = await call(http, emulator.url + "/v1/events", batch(), v1_headers(token))
    assert answer == (200, ACCEPTED)
    assert emulator.ledger().event_count("e-1") == 1


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-token-of-ours", V2_AUTH, APP_AUTH],
    ids=["missing", "no-token", "unknown-token", "v2-pair", "app-pair"],
)
async def test_v1_gets_401_when_bearer_token_is_missing_or_unknown(
    emulator: Emulator, http: aiohttp.ClientSession, authorization: str | None
) -> None:
    """Only a token this emulator issued is accepted; Basic pairs are not."""
    headers = v1_headers("unused", Authorization=authorization)
    status, answer = await call(http, emulator.url + "/v1/events", batch(), headers)
    assert status == 401
    assert refusal(answer)[0] == "UnauthorizedError"
    assert emulator.ledger().events_applied == 0


async def test_v1_reads_token_only_under_the_bearer_scheme(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """``bearer`` in any case carries the token; another scheme does not."""
    token = await get_token(http, emulator)
    url = emulator.url + "/v1/events"
    other = v1_headers(token, "k1", Authorization=f"Token {token}")
    assert (await call(http, url, batch(), other))[0] == 401
    lower = v1_headers(token, "k2", Authorization=f"bearer {token}")
    assert (await call(http, url, batch(), lower))[0] == 200


async def test_v1_gets_401_when_token_expires_on_emulator_clock(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """A token works until ``token_ttl`` seconds of emulator time have passed."""
    token = await get_token(http, emulator)
    url = emulator.url + "/v1/events"
    emulator.advance_clock(emulator.token_ttl - 1)
    assert (await call(http, url, batch(), v1_headers(token, "k1")))[0] == 200
    emulator.advance_clock(1)
    status, answer = await call(http, url, batch(), v1_headers(token, "k2"))
    assert (status, refusal(answer)[0]) == (401, "UnauthorizedError")


@pytest.mark.parametrize("key", [None, ""], ids=["missing", "empty"])
async def test_v1_gets_400_when_idempotency_key_is_missing(
    emulator: Emulator, http: aiohttp.ClientSession, key: str | None
) -> None:
    """/v1/events needs an Idempotency-Key; the refusal names the header."""
    token = await get_token(http, emulator)
    headers = v1_headers(token)
    del headers["Idempotency-Key"]
    if key is not None:
        headers["Idempotency-Key"] = key
    status, answer = await call(http, emulator.url + "/v1/events", batch(), headers)
    code, message = refusal(answer)
    assert (status, code) == (400, "RequestValidationError")
    assert "Idempotency-Key" in message
    assert emulator.ledger().events_applied == 0


async def test_v1_gets_409_when_idempotency_key_is_reused(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """A key already accepted answers 409 Conflict and applies nothing; a new key
    with the same events is accepted."""
    token = await get_token(http, emulator)
    url = emulator.url + "/v1/events"
    assert (await call(http, url, batch(), v1_headers(token, "k")))[0] == 200
    status, answer = await call(http, url, batch(), v1_headers(token, "k"))
    assert (status, answer) == (
        409,
        {"data": {"code": "Conflict", "message": "idempotency key already used"}},
    )
    assert emulator.ledger().event_count("e-1") == 1
    assert (await call(http, url, batch(), v1_headers(token, "k-2")))[0] == 200
    ledger = emulator.ledger()
    assert (ledger.event_count("e-1"), ledger.idempotency_conflicts) == (2, 1)


async def test_v1_accepts_reused_key_when_three_hours_have_passed(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """Keys are remembered for 3 hours of emulator time, then forgotten."""
    emulator.set_token_options(ttl=86_400.0)
    token = await get_token(http, emulator)
    url = emulator.url + "/v1/events"
    assert (await call(http, url, batch(), v1_headers(token, "k")))[0] == 200
    emulator.advance_clock(3 * 3600 - 1)
    assert (await call(http, url, batch(), v1_headers(token, "k")))[0] == 409
    emulator.advance_clock(1)
    assert (await call(http, url, batch(), v1_headers(token, "k")))[0] == 200
    assert (await call(http, url, batch(), v1_headers(token, "k")))[0] == 409
    assert emulator.ledger().event_count("e-1") == 2


async def test_v1_remembers_key_only_when_batch_is_accepted(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """A refused batch leaves its key unused: the corrected resend is accepted."""
    token = await get_token(http, emulator)
    url = emulator.url + "/v1/events"
    bad = batch(account="")
    assert (await call(http, url, bad, v1_headers(token, "k")))[0] == 400
    assert (await call(http, url, batch(), v1_headers(token, "k")))[0] == 200


async def test_v1_answers_409_before_reading_body_when_key_was_used(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """The key is checked before the body: a used key is 409 whatever follows."""
    token = await get_token(http, emulator)
    url = emulator.url + "/v1/events"
    await call(http, url, batch(), v1_headers(token, "k"))
    assert (await call(http, url, b"not json", v1_headers(token, "k")))[0] == 409


# --- headers ------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "text/plain", FORM])
async def test_events_get_400_when_content_type_is_not_json(
    emulator: Emulator, http: aiohttp.ClientSession, content_type: str | None
) -> None:
    """Only application/json is accepted."""
    status, answer = await send_v2(
        http, emulator, ENCODE(batch()), **{"Content-Type": content_type}
    )
    assert (status, refusal(answer)[0]) == (400, "RequestValidationError")


@pytest.mark.parametrize(
    ("version", "status"),
    [(None, 200), ("", 200), ("2020-05-21", 200), ("2021-01-01", 400), ("v2", 400)],
)
async def test_rokt_version_is_refused_only_when_present_and_unknown(
    emulator: Emulator, http: aiohttp.ClientSession, version: str | None, status: int
) -> None:
    """No or an empty Rokt-Version means the latest; any but 2020-05-21 is 400."""
    answer = await send_v2(http, emulator, batch(), **{"Rokt-Version": version})
    assert answer[0] == status
    if status == 400:
        code, message = refusal(answer[1])
        assert code == "RequestValidationError"
        assert "Rokt-Version" in message


@pytest.mark.parametrize(
    ("charset", "status"), [(None, 200), ("UTF-8", 200), ("latin-1", 400)]
)
async def test_charset_is_refused_only_when_not_utf8(
    emulator: Emulator, http: aiohttp.ClientSession, charset: str | None, status: int
) -> None:
    """The documented Charset header may be left out, but must not name another."""
    assert (await send_v2(http, emulator, batch(), Charset=charset))[0] == status


async def test_events_get_405_when_method_is_not_post(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """GET on an events path is 405 in the events error shape."""
    async with http.get(emulator.url + "/v2/events", headers=v2_headers()) as response:
        assert (response.status, response.headers["Allow"]) == (405, "POST")
        assert refusal(ANY_JSON.decode(await response.read()))[0] == "MethodNotAllowed"


# --- partial failure ------------------------------------------------------------------


async def test_refused_event_type_comes_back_as_unprocessed_record(
    http: aiohttp.ClientSession,
) -> None:
    """Events of a refused eventType are returned byte for byte as sent, with a
    ValidationError, and not applied; the others are applied."""
    refused = b'{"clientEventId": "s-1", "eventType": "signup", "eventTime": "%s"}'
    refused %= NOW_TEXT.encode()
    body = b'{"accountId": "1", "events": [%s, %s]}' % (
        refused,
        ENCODE(event(clientEventId="c-1")),
    )
    async with Emulator(clock=lambda: T0, refused_event_types={"signup"}) as emu:
        url = emu.url + "/v2/events"
        async with http.post(url, data=body, headers=v2_headers()) as response:
            status, answer = response.status, await response.read()
        ledger = emu.ledger()
    assert status == 200
    assert answer == (
        b'{"data":{"unprocessedRecords":[{"error":{"code":"ValidationError",'
        b'"message":"eventType is not accepted"},"record":' + refused + b"}]}}"
    )
    assert (ledger.event_counts, ledger.events_unprocessed) == ({"c-1": 1}, 1)


async def test_refused_event_types_change_at_runtime_until_reset(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """set_refused_event_types applies to the next batch; reset() restores none."""
    emulator.set_refused_event_types(["conversion"])
    assert emulator.refused_event_types == frozenset({"conversion"})
    status, answer = await send_v2(http, emulator, batch())
    assert (status, len(answer["data"]["unprocessedRecords"])) == (200, 1)
    emulator.reset()
    assert emulator.refused_event_types == frozenset()
    assert await send_v2(http, emulator, batch()) == (200, ACCEPTED)
