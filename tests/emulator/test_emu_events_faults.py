"""Faults on the ``events`` and ``token`` endpoints, the ``unprocessed`` kind,
recording, the ledger's event counts, the admin endpoints and the CLI flags."""

from __future__ import annotations

from typing import Final

import aiohttp
import pytest

from rokt_async.emulator import (
    ENDPOINTS,
    EVENT_FAULT_KINDS,
    FAULT_KINDS,
    UNPROCESSED,
    Emulator,
    FaultPlan,
)
from tests.emulator._helpers import admin
from tests.emulator.test_emu_events import (
    ACCEPTED,
    APP_AUTH,
    ENCODE,
    FORM,
    V2_AUTH,
    batch,
    call,
    event,
    get_token,
    send_v2,
    v1_headers,
    v2_headers,
)

GRANT: Final = b"grant_type=client_credentials"
#: Fault kind → whether the request took effect before the answer went wrong.
APPLIED: Final = {
    "504_before": False,
    "500": False,
    "502_html": False,
    "503_retry_after": False,
    "reset_before": False,
    "504_after": True,
    "reset_after": True,
    "delay": True,
    "truncate": True,
    "idle_close": True,
}


async def attempt(
    http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
) -> int | None:
    """The status of one faulted exchange (body read in full), or None when the
    answer was lost."""
    try:
        async with http.post(url, data=body, headers=headers) as response:
            await response.read()
            return response.status
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError):
        return None


def test_every_fault_kind_is_checked_here() -> None:
    """The table above names every kind, and events and token are endpoints."""
    assert set(APPLIED) == FAULT_KINDS
    assert {"events", "token"} <= set(ENDPOINTS)
    assert {UNPROCESSED} == EVENT_FAULT_KINDS


@pytest.mark.parametrize("kind", sorted(APPLIED))
async def test_fault_kind_applies_to_events_endpoint(
    emulator: Emulator, http: aiohttp.ClientSession, kind: str
) -> None:
    """Each kind hits /v2/events; the batch is applied exactly for after-kinds."""
    emulator.faults.fail_next("events", kind)
    url = emulator.url + "/v2/events"
    status = await attempt(http, url, ENCODE(batch()), v2_headers())
    assert status != 200 or kind in ("delay", "idle_close")
    assert emulator.ledger().events_applied == int(APPLIED[kind])
    assert emulator.faults.pending("events") == 0


@pytest.mark.parametrize("kind", sorted(APPLIED))
async def test_fault_kind_applies_to_token_endpoint(
    emulator: Emulator, http: aiohttp.ClientSession, kind: str
) -> None:
    """Each kind hits the token endpoint; a token is issued exactly for after-kinds."""
    emulator.faults.fail_next("token", kind)
    headers = {"Authorization": APP_AUTH, "Content-Type": FORM}
    url = emulator.url + "/auth/oauth2/token"
    await attempt(http, url, GRANT, headers)
    ledger = emulator.ledger()
    assert (ledger.token_requests, ledger.tokens_issued) == (1, int(APPLIED[kind]))


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("504_before", 504, "GatewayTimeoutError"),
        ("504_after", 504, "GatewayTimeoutError"),
        ("500", 500, "InternalServerError"),
        ("503_retry_after", 503, "ServiceUnavailableError"),
    ],
)
async def test_events_fault_answers_use_the_events_error_shape(
    emulator: Emulator, http: aiohttp.ClientSession, kind: str, status: int, code: str
) -> None:
    """A 5xx fault on events answers ``{"data": {"code", "message"}}``."""
    emulator.faults.fail_next("events", kind)
    answer = await send_v2(http, emulator, batch())
    assert (answer[0], answer[1]["data"]["code"]) == (status, code)


@pytest.mark.parametrize(
    ("kind", "status", "error"),
    [
        ("504_before", 504, "server_error"),
        ("504_after", 504, "server_error"),
        ("500", 500, "server_error"),
        ("503_retry_after", 503, "temporarily_unavailable"),
    ],
)
async def test_token_fault_answers_use_the_oauth_error_shape(
    emulator: Emulator, http: aiohttp.ClientSession, kind: str, status: int, error: str
) -> None:
    """A 5xx fault on token answers ``{"error": ...}``; 503 keeps Retry-After."""
    emulator.faults.fail_next(
        "token", kind, **({"retry_after": 2} if "503" in kind else {})
    )
    url = emulator.url + "/auth/oauth2/token"
    headers = {"Authorization": APP_AUTH, "Content-Type": FORM}
    async with http.post(url, data=GRANT, headers=headers) as response:
        assert (response.status, await response.json()) == (status, {"error": error})
        if status == 503:
            assert response.headers["Retry-After"] == "2"


async def test_star_fault_covers_events_and_token(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """A rate of 1 for ``*`` faults both Event API endpoints."""
    emulator.faults.set_rate("*", "500", 1.0)
    assert (await send_v2(http, emulator, batch()))[0] == 500
    headers = {"Authorization": APP_AUTH, "Content-Type": FORM}
    token_url = emulator.url + "/auth/oauth2/token"
    assert (await call(http, token_url, GRANT, headers))[0] == 500


async def test_504_after_on_v1_remembers_key_so_resend_gets_409(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """The batch is applied and its key kept before the answer is lost: the resend
    with the same key is 409 and the ledger shows each event once."""
    token = await get_token(http, emulator)
    url = emulator.url + "/v1/events"
    emulator.faults.fail_next("events", "504_after")
    assert (await call(http, url, batch(), v1_headers(token, "k")))[0] == 504
    assert (await call(http, url, batch(), v1_headers(token, "k")))[0] == 409
    ledger = emulator.ledger()
    assert (ledger.event_count("e-1"), ledger.event_duplicates) == (1, ())
    assert (ledger.event_batches, ledger.idempotency_conflicts) == (1, 1)


async def test_504_before_on_v1_leaves_key_unused_so_resend_is_accepted(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """Nothing was applied, so the resend under the same key is a first delivery."""
    token = await get_token(http, emulator)
    url = emulator.url + "/v1/events"
    emulator.faults.fail_next("events", "504_before")
    assert (await call(http, url, batch(), v1_headers(token, "k")))[0] == 504
    assert await call(http, url, batch(), v1_headers(token, "k")) == (200, ACCEPTED)
    assert emulator.ledger().event_count("e-1") == 1


async def test_unprocessed_fault_returns_every_event_and_applies_none(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """Under ``unprocessed`` a valid batch is a 200 whose every event is a record
    with the docs' ValidationError; the next batch is normal again."""
    emulator.faults.fail_next("events", UNPROCESSED)
    body = batch(event(clientEventId="a"), event(clientEventId="b"))
    status, answer = await send_v2(http, emulator, body)
    records = answer["data"]["unprocessedRecords"]
    assert status == 200
    assert [r["record"]["clientEventId"] for r in records] == ["a", "b"]
    assert {r["error"]["message"] for r in records} == {"Invalid content"}
    ledger = emulator.ledger()
    assert (ledger.events_applied, ledger.events_unprocessed) == (0, 2)
    assert await send_v2(http, emulator, body) == (200, ACCEPTED)


async def test_unprocessed_fault_still_refuses_invalid_batches(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """The fault comes after the rules: an invalid batch is still 400."""
    emulator.faults.fail_next("events", UNPROCESSED)
    assert (await send_v2(http, emulator, batch(account="")))[0] == 400


@pytest.mark.parametrize("endpoint", ["*", "token", "confirm"])
def test_unprocessed_fault_is_refused_when_endpoint_is_not_events(
    endpoint: str,
) -> None:
    """``unprocessed`` is an Event API answer: no other endpoint, nor ``*``,
    takes it."""
    with pytest.raises(ValueError, match="events endpoint only"):
        FaultPlan().fail_next(endpoint, UNPROCESSED)
    with pytest.raises(ValueError, match="events endpoint only"):
        FaultPlan().set_rate(endpoint, UNPROCESSED, 0.5)


# --- recording and the ledger ---------------------------------------------------------


async def test_events_requests_are_recorded_with_auth_and_idempotency_key(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """Both paths record under ``events``, with headers and body as sent."""
    token = await get_token(http, emulator)
    await call(http, emulator.url + "/v1/events", batch(), v1_headers(token, "k-42"))
    await send_v2(http, emulator, batch())
    first, second = emulator.requests("events")
    assert (first.path, second.path) == ("/v1/events", "/v2/events")
    assert first.headers["idempotency-key"] == "k-42"
    assert first.headers["authorization"] == f"Bearer {token}"
    assert second.headers["authorization"] == V2_AUTH
    assert second.headers["rokt-version"] == "2020-05-21"
    assert [r.endpoint for r in emulator.requests()] == ["token", "events", "events"]
    assert emulator.ledger().requests == 3


EVENT_FIELDS: Final = {
    "event_counts",
    "event_duplicates",
    "events_applied",
    "events_unprocessed",
    "event_batches",
    "idempotency_conflicts",
    "token_requests",
    "tokens_issued",
}


async def test_ledger_endpoint_reports_event_counts(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """GET /_emulator/ledger carries the Event API counts next to the old fields."""
    emulator.set_refused_event_types({"signup"})
    await get_token(http, emulator)
    await send_v2(http, emulator, batch(event(), event(eventType="signup")))
    await send_v2(http, emulator, batch())
    status, ledger = await admin(http, emulator, "ledger")
    assert status == 200
    assert {k: v for k, v in ledger.items() if k in EVENT_FIELDS} == {
        "event_counts": {"e-1": 2},
        "event_duplicates": ["e-1"],
        "events_applied": 2,
        "events_unprocessed": 1,
        "event_batches": 2,
        "idempotency_conflicts": 0,
        "token_requests": 1,
        "tokens_issued": 1,
    }
    assert {"effects", "replays", "stock", "requests"} <= set(ledger)


async def test_reset_forgets_tokens_keys_and_event_counts(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """After reset (method or admin) old tokens are 401, keys are free again and
    every event count is back to zero."""
    token = await get_token(http, emulator)
    await call(http, emulator.url + "/v1/events", batch(), v1_headers(token, "k"))
    assert await admin(http, emulator, "reset", b"") == (200, {})
    ledger = emulator.ledger()
    assert (ledger.event_counts, ledger.token_requests, ledger.event_batches) == (
        {},
        0,
        0,
    )
    url = emulator.url + "/v1/events"
    assert (await call(http, url, batch(), v1_headers(token, "k")))[0] == 401
    fresh = await get_token(http, emulator)
    assert (await call(http, url, batch(), v1_headers(fresh, "k")))[0] == 200
