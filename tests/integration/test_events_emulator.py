"""The Event API end to end against the emulator over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from rokt_async import (
    NO_WAIT_RETRY,
    BadRequestError,
    BasicCredentials,
    Event,
    OAuthCredentials,
    RoktClient,
)
from rokt_async.testing import FakeTiming
from tests.conftest import error_chain

if TYPE_CHECKING:
    import pytest

    from rokt_async.emulator import Emulator

BASIC = BasicCredentials(public_key="rpub-test", secret_key="rsec-test")
OAUTH = OAuthCredentials(app_id="test-app", app_secret="test-app-secret")


def events(
    count: int, prefix: str = "e", event_type: str = "conversion"
) -> list[Event]:
    now = datetime.datetime.now(datetime.UTC)
    return [
        Event(
            client_event_id=f"{prefix}-{n}",
            event_type=event_type,
            event_time=now,
            object_data={"email": f"{n}@example.com", "transactionid": str(n)},
        )
        for n in range(count)
    ]


def client(emulator: Emulator, credentials: Any = OAUTH, **options: Any) -> RoktClient:
    options.setdefault("retry", NO_WAIT_RETRY)
    return RoktClient(base_url=emulator.url, event_credentials=credentials, **options)


def bodies(emulator: Emulator) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in emulator.requests("events")]


async def test_250_events_reach_v2_as_three_requests_of_100_100_50(
    emulator: Emulator,
) -> None:
    async with client(emulator, BASIC) as rokt:
        result = await rokt.send_events(events(250), account_id="12345", concurrency=1)
    assert (result.delivered, result.batches, result.is_complete) == (250, 3, True)
    recorded = emulator.requests("events")
    assert [len(json.loads(r.body)["events"]) for r in recorded] == [100, 100, 50]
    assert {r.path for r in recorded} == {"/v2/events"}
    headers = recorded[0].headers
    assert (
        headers["authorization"]
        == "Basic " + base64.b64encode(b"rpub-test:rsec-test").decode()
    )
    assert headers["rokt-version"] == "2020-05-21"
    assert headers["charset"] == "utf-8"
    assert headers["content-type"] == "application/json"
    assert "idempotency-key" not in headers
    ids = [e["clientEventId"] for body in bodies(emulator) for e in body["events"]]
    assert ids == [f"e-{n}" for n in range(250)]
    ledger = emulator.ledger()
    assert (ledger.events_applied, ledger.event_duplicates) == (250, ())


async def test_v1_sends_a_bearer_token_and_a_uuid4_key_per_batch(
    emulator: Emulator,
) -> None:
    async with client(emulator) as rokt:
        result = await rokt.send_events(events(150), account_id="12345")
    assert result.is_complete
    recorded = emulator.requests("events")
    assert {r.path for r in recorded} == {"/v1/events"}
    keys = [r.headers["idempotency-key"] for r in recorded]
    assert len(set(keys)) == 2
    assert all(uuid.UUID(key).version == 4 for key in keys)
    assert all(r.headers["authorization"].startswith("Bearer ") for r in recorded)
    (token_request,) = emulator.requests("token")
    assert token_request.body == b"grant_type=client_credentials"
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert (
        token_request.headers["authorization"]
        == "Basic " + base64.b64encode(b"test-app:test-app-secret").decode()
    )


async def test_200_concurrent_senders_on_a_cold_client_make_one_token_request(
    emulator: Emulator,
) -> None:
    async with client(emulator) as rokt:
        results = await asyncio.gather(
            *(rokt.send_events(events(1, f"c{n}"), account_id="1") for n in range(200))
        )
    assert all(r.is_complete for r in results)
    assert emulator.ledger().token_requests == 1
    assert emulator.ledger().events_applied == 200


async def test_the_token_is_renewed_before_it_expires_not_after_a_401(
    emulator: Emulator,
) -> None:
    """On the client's clock: 3,300 s into a 3,600 s token, past 90%, the next
    send asks for a new token first and Rokt never answers 401."""
    fake = FakeTiming()
    async with client(emulator, timing=fake) as rokt:
        assert (await rokt.send_events(events(1, "a"), account_id="1")).is_complete
        fake.advance(3000)
        emulator.advance_clock(3000)
        assert (await rokt.send_events(events(1, "b"), account_id="1")).is_complete
        assert emulator.ledger().token_requests == 1  # 83%: still the first token
        fake.advance(300)
        emulator.advance_clock(300)
        assert (await rokt.send_events(events(1, "c"), account_id="1")).is_complete
    assert emulator.ledger().token_requests == 2
    assert len(emulator.requests("events")) == 3  # no 401, no resend


async def test_a_401_drops_the_token_fetches_one_and_resends_with_the_same_key(
    emulator: Emulator,
) -> None:
    async with client(emulator) as rokt:
        await rokt.send_events(events(1, "warm"), account_id="1")
        emulator.revoke_tokens()
        result = await rokt.send_events(events(3), account_id="1")
    assert (result.delivered, result.is_complete) == (3, True)
    first, second = emulator.requests("events")[1:]
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.headers["authorization"] != second.headers["authorization"]
    assert emulator.ledger().token_requests == 2
    assert emulator.ledger().events_applied == 4


async def test_a_504_after_the_batch_took_effect_is_resent_and_409_counts_once(
    emulator: Emulator,
) -> None:
    async with client(emulator) as rokt:
        emulator.faults.fail_next("events", "504_after")
        result = await rokt.send_events(events(5), account_id="1")
    assert (result.delivered, result.is_complete) == (5, True)
    sent = emulator.requests("events")
    assert len(sent) == 2
    assert sent[0].headers["idempotency-key"] == sent[1].headers["idempotency-key"]
    assert sent[0].body == sent[1].body
    ledger = emulator.ledger()
    assert (ledger.idempotency_conflicts, ledger.events_applied) == (1, 5)
    assert ledger.event_duplicates == ()


async def test_v2_under_10_percent_504_after_delivers_every_event_at_least_once(
    emulator: Emulator,
) -> None:
    """100 calls of 20 events; about one in ten answers is lost after the batch
    took effect, and v2's resend applies it again: at least once, all reported."""
    emulator.faults.set_rate("events", "504_after", 0.1)
    async with client(emulator, BASIC) as rokt:
        results = await asyncio.gather(
            *(rokt.send_events(events(20, f"c{n}"), account_id="1") for n in range(100))
        )
    assert sum(r.delivered for r in results) == 2_000
    assert not any(r.failed or r.unprocessed for r in results)
    ledger = emulator.ledger()
    assert all(
        ledger.event_counts.get(f"c{c}-{n}", 0) >= 1
        for c in range(100)
        for n in range(20)
    )
    resent = len(emulator.requests("events")) - 100
    assert resent >= 1
    assert ledger.events_applied == 2_000 + 20 * resent  # each resend applied again


async def test_unprocessed_records_are_surfaced_with_code_and_message(
    emulator: Emulator,
) -> None:
    emulator.set_refused_event_types({"refused"})
    async with client(emulator, BASIC) as rokt:
        mixed = events(2) + events(1, "r", event_type="refused")
        result = await rokt.send_events(mixed, account_id="1")
    assert result.delivered == 2
    (refused,) = result.unprocessed
    assert refused.client_event_id == "r-0"
    assert refused.code
    assert refused.message
    assert emulator.ledger().events_unprocessed == 1


async def test_an_events_error_body_from_the_server_is_parsed(
    emulator: Emulator,
) -> None:
    async with client(emulator, BASIC, event_api_version="1999-01-01") as rokt:
        result = await rokt.send_events(events(1), account_id="1")
    error = result.failed[0].error
    assert isinstance(error, BadRequestError)
    assert error.body is not None
    assert error.body.errors[0].code == "RequestValidationError"
    assert error.body.description == error.body.errors[0].message


async def test_the_background_sender_delivers_10_000_events_from_50_tasks_once(
    emulator: Emulator,
) -> None:
    async with (
        client(emulator) as rokt,
        rokt.event_sender(account_id="1", flush_interval=0.05) as sender,
    ):

        async def handler(task: int) -> None:
            for event in events(200, f"t{task}"):
                sender.add(event)
                await asyncio.sleep(0)

        await asyncio.gather(*(handler(n) for n in range(50)))
    stats = sender.stats
    assert (stats.added, stats.delivered, stats.undelivered) == (10_000, 10_000, 0)
    ledger = emulator.ledger()
    assert (ledger.events_applied, ledger.event_duplicates) == (10_000, ())
    assert stats.batches_sent == ledger.event_batches


async def test_no_secret_reaches_logs_reprs_or_errors(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.faults.fail_next("events", "504_before")
    async with client(emulator) as rokt:
        first = await rokt.send_events(events(1, "a"), account_id="1")
        emulator.revoke_tokens()
        emulator.set_event_credentials(oauth_apps={"other-app": "other-secret"})
        failed = await rokt.send_events(events(1, "b"), account_id="1")
        shown = [repr(rokt), repr(first), repr(failed)]
    token = emulator.requests("events")[0].headers["authorization"].split()[1]
    chain = error_chain(failed.failed[0].error)
    shown += [repr(e) for e in chain] + [str(e) for e in chain]
    shown += [record.getMessage() for record in caplog.records]
    for secret in ("test-app-secret", token):
        assert all(secret not in text for text in shown)


async def test_the_docs_access_token_spelling_is_read(emulator: Emulator) -> None:
    emulator.set_token_options(response="docs")
    async with client(emulator) as rokt:
        result = await rokt.send_events(events(2), account_id="1")
    assert (result.delivered, emulator.ledger().token_requests) == (2, 1)


async def test_without_expires_in_a_token_is_taken_to_live_an_hour(
    emulator: Emulator,
) -> None:
    """Renewed 5 minutes before the default 3,600 s run out (at 3,300 s), not before."""
    emulator.set_token_options(response="no_expiry")
    fake = FakeTiming()
    async with client(emulator, timing=fake) as rokt:
        await rokt.send_events(events(1, "a"), account_id="1")
        fake.advance(3_299)
        await rokt.send_events(events(1, "b"), account_id="1")
        assert emulator.ledger().token_requests == 1
        fake.advance(2)
        await rokt.send_events(events(1, "c"), account_id="1")
    assert emulator.ledger().token_requests == 2
