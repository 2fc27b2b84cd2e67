"""Every endpoint method passes its session id, locale and timeout on; the fan-outs
pass theirs to every call.

Written for the mutants ``make mutate`` left alive in ``_cart_calls.py`` (issue
#11): a method that dropped one of its arguments still passed every other test.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from aioresponses import CallbackResult, aioresponses
from multidict import CIMultiDict
from yarl import URL

from rokt_async import RequestValidationError, RoktError
from tests.conftest import (
    A_CANCEL,
    A_CONFIRM,
    A_PLACEMENTS,
    A_RELEASE,
    A_RESERVE,
    FAKE_BASE,
    make_client,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from rokt_async import RoktClient


#: (method, path, a 2xx body it decodes)
ENDPOINTS: list[tuple[str, str, dict[str, Any]]] = [
    ("reserve_cart", "/v1/cart/reserve", {"cartId": "cart-1"}),
    ("confirm_cart", "/v1/cart/confirm", {"cartId": "cart-1", "orderId": "order-1"}),
    ("release_cart", "/v1/cart/release", {"cartId": "cart-1"}),
    ("cancel_confirmation", "/v1/confirmation/cancel", {}),
    ("any_placements", "/v1/placements/any", {"result": True}),
]
REQUESTS: dict[str, object] = {
    "reserve_cart": A_RESERVE,
    "confirm_cart": A_CONFIRM,
    "release_cart": A_RELEASE,
    "cancel_confirmation": A_CANCEL,
    "any_placements": A_PLACEMENTS,
}
IDS = [name for name, _, _ in ENDPOINTS]


def call(client: RoktClient, name: str, **options: Any) -> Awaitable[object]:
    method: Callable[..., Awaitable[object]] = getattr(client, name)
    return method(REQUESTS[name], **options)


def sent_headers(mocked: aioresponses, path: str) -> list[CIMultiDict[str]]:
    """The headers of each request the mock received (names case-insensitive)."""
    return [
        CIMultiDict(c.kwargs["headers"])
        for c in mocked.requests[("POST", URL(FAKE_BASE + path))]
    ]


@pytest.mark.parametrize(("name", "path", "body"), ENDPOINTS, ids=IDS)
async def test_session_id_and_locale_are_sent_when_given_per_call(
    name: str, path: str, body: dict[str, Any]
) -> None:
    """A per-call session id and locale reach Rokt as rokt-session-id and
    Accept-Language."""
    async with make_client() as client:
        with aioresponses() as mocked:
            mocked.post(FAKE_BASE + path, payload=body)
            await call(client, name, session_id="shopper-7", locale="fr-FR")
    (headers,) = sent_headers(mocked, path)
    assert headers["rokt-session-id"] == "shopper-7"
    assert headers["Accept-Language"] == "fr-FR"


@pytest.mark.parametrize(("name", "path", "body"), ENDPOINTS, ids=IDS)
async def test_bad_timeout_is_refused_when_given_per_call(
    name: str, path: str, body: dict[str, Any]
) -> None:
    """A per-call timeout reaches the checks: a negative one is refused unsent."""
    async with make_client() as client:
        with aioresponses() as mocked:
            mocked.post(FAKE_BASE + path, payload=body)
            with pytest.raises(RequestValidationError, match="timeout must be > 0"):
                await call(client, name, timeout=-1.0)
    assert not mocked.requests


CONFIRM_OK = {"cartId": "cart-1", "orderId": "order-1"}
RELEASE_OK = {"cartId": "cart-1"}
FANOUTS = [
    ("confirm_many", A_CONFIRM, "/v1/cart/confirm", CONFIRM_OK),
    ("release_many", A_RELEASE, "/v1/cart/release", RELEASE_OK),
]


@pytest.mark.parametrize(("name", "request_", "path", "body"), FANOUTS)
async def test_fan_out_sends_each_pairs_session_id(
    name: str, request_: object, path: str, body: dict[str, Any]
) -> None:
    """A (request, session_id) pair is sent with that session id."""
    async with make_client() as client:
        with aioresponses() as mocked:
            mocked.post(FAKE_BASE + path, payload=body, repeat=True)
            fan_out: Callable[..., Awaitable[list[object]]] = getattr(client, name)
            await fan_out([(request_, "s-0"), (request_, "s-1")], concurrency=1)
    assert [h["rokt-session-id"] for h in sent_headers(mocked, path)] == [
        "s-0",
        "s-1",
    ]


@pytest.mark.parametrize(("name", "request_", "path", "body"), FANOUTS)
async def test_fan_out_passes_its_timeout_to_every_call(
    name: str, request_: object, path: str, body: dict[str, Any]
) -> None:
    """The fan-out's timeout reaches each call: a negative one fails each, unsent."""
    async with make_client() as client:
        with aioresponses() as mocked:
            mocked.post(FAKE_BASE + path, payload=body, repeat=True)
            fan_out: Callable[..., Awaitable[list[object]]] = getattr(client, name)
            results = await fan_out([request_, request_], timeout=-1.0)
    assert [type(r) for r in results] == [RequestValidationError] * 2
    assert not mocked.requests


@pytest.mark.parametrize(("name", "request_", "path", "body"), FANOUTS)
async def test_fan_out_tells_on_result_of_each_call(
    name: str, request_: object, path: str, body: dict[str, Any]
) -> None:
    """``on_result`` hears of every call with its index and outcome."""
    heard: list[tuple[int, object]] = []
    async with make_client() as client:
        with aioresponses() as mocked:
            mocked.post(FAKE_BASE + path, payload=body, repeat=True)
            fan_out: Callable[..., Awaitable[list[object]]] = getattr(client, name)
            results = await fan_out(
                [request_, request_],
                concurrency=1,
                on_result=lambda i, outcome: heard.append((i, outcome)),
            )
    assert heard == list(enumerate(results))


@pytest.mark.parametrize(("name", "request_", "path", "body"), FANOUTS)
async def test_fan_out_keeps_64_calls_in_flight_by_default(
    name: str, request_: object, path: str, body: dict[str, Any]
) -> None:
    """Without ``concurrency``, at most (and, with 65 waiting, exactly) 64 calls
    are in flight at once."""
    in_flight = peak = 0

    async def slow(url: URL, **kwargs: Any) -> CallbackResult:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return CallbackResult(payload=body)

    async with make_client() as client:
        with aioresponses() as mocked:
            mocked.post(FAKE_BASE + path, callback=slow, repeat=True)
            fan_out: Callable[..., Awaitable[list[object]]] = getattr(client, name)
            results = await fan_out([request_] * 65)
    assert not any(isinstance(r, RoktError) for r in results)
    assert peak == 64
