"""Fault injection: the seeded plan, and every fault kind over a real socket."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import aiohttp
import msgspec
import pytest

from rokt_async import (
    ConnectionLostError,
    GatewayTimeoutError,
    OutcomeUnknownError,
    PlacementsRequest,
    RequestTimeoutError,
    RoktClient,
    ServerError,
)
from rokt_async.emulator import (
    BAD_GATEWAY_HTML,
    DELAY,
    FAULT_KINDS,
    GATEWAY_TIMEOUT_AFTER,
    GATEWAY_TIMEOUT_BEFORE,
    IDLE_CLOSE,
    INTERNAL_ERROR,
    RESET_AFTER,
    RESET_BEFORE,
    SERVICE_UNAVAILABLE,
    TRUNCATE,
    Emulator,
    Fault,
    FaultPlan,
)
from tests.emulator._helpers import (
    KEY,
    TAG,
    confirm_quantity,
    post,
    rokt_headers,
)

if TYPE_CHECKING:
    from rokt_async import ConfirmRequest

A_PLACEMENTS = PlacementsRequest(cart_id="cart-1", page_identifier="checkout.upsell")
A_CONFIRM: ConfirmRequest = confirm_quantity("cart-1", "order-1", parking=1)
ANY_JSON = msgspec.json.Decoder()


def kinds(plan: FaultPlan, endpoint: str, n: int) -> list[str | None]:
    """The kinds the next ``n`` requests to ``endpoint`` would get."""
    return [getattr(plan.pick(endpoint), "kind", None) for _ in range(n)]


async def raw_exchange(url: str, path: str, body: bytes) -> tuple[bytes, bytes]:
    """Send one keep-alive request on a fresh socket; (head, rest until EOF)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        headers = "".join(f"{k}: {v}\r\n" for k, v in rokt_headers().items())
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{headers}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        rest = await reader.read()  # to EOF: the server closes the connection
    finally:
        writer.close()
        await writer.wait_closed()
    return head, rest


def header(head: bytes, name: str) -> str | None:
    """One header's value from a raw response head, or None."""
    for line in head.decode().split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


# --- the plan -------------------------------------------------------------------------


def test_fail_next_serves_scripts_in_order_when_counts_run_out() -> None:
    """Scripted faults are used in order, each for its count, then none."""
    plan = FaultPlan()
    plan.fail_next("confirm", GATEWAY_TIMEOUT_AFTER, count=2)
    plan.fail_next("confirm", RESET_BEFORE)
    assert plan.pending("confirm") == 3
    assert kinds(plan, "confirm", 4) == [
        GATEWAY_TIMEOUT_AFTER,
        GATEWAY_TIMEOUT_AFTER,
        RESET_BEFORE,
        None,
    ]
    assert not plan.is_armed


def test_fail_next_prefers_endpoint_script_when_star_is_also_scripted() -> None:
    """An endpoint's own script comes before one for every endpoint."""
    plan = FaultPlan()
    plan.fail_next("*", INTERNAL_ERROR)
    plan.fail_next("reserve", GATEWAY_TIMEOUT_BEFORE)
    assert kinds(plan, "reserve", 3) == [GATEWAY_TIMEOUT_BEFORE, INTERNAL_ERROR, None]


def test_fail_next_applies_to_any_endpoint_when_scripted_for_star() -> None:
    """A script for ``*`` is used by whichever endpoint comes first."""
    plan = FaultPlan()
    plan.fail_next("*", INTERNAL_ERROR)
    assert kinds(plan, "events", 1) == [INTERNAL_ERROR]
    assert kinds(plan, "confirm", 1) == [None]


def test_scripted_fault_wins_when_a_rate_is_also_set() -> None:
    """Scripted faults take precedence over rates."""
    plan = FaultPlan()
    plan.set_rate("confirm", INTERNAL_ERROR, 1.0)
    plan.fail_next("confirm", RESET_AFTER)
    assert kinds(plan, "confirm", 2) == [RESET_AFTER, INTERNAL_ERROR]


def test_rates_repeat_when_seed_is_the_same() -> None:
    """Random faults follow the seed: same seed, same sequence; reset replays it."""
    plans = [FaultPlan(seed=5), FaultPlan(seed=5), FaultPlan(seed=6)]
    for plan in plans:
        plan.set_rate("confirm", GATEWAY_TIMEOUT_BEFORE, 0.3)
        plan.set_rate("*", INTERNAL_ERROR, 0.2)
    runs = [kinds(plan, "confirm", 200) for plan in plans]
    assert runs[0] == runs[1] != runs[2]
    assert {GATEWAY_TIMEOUT_BEFORE, INTERNAL_ERROR, None} == set(runs[0])
    plans[0].reset()
    plans[0].set_rate("confirm", GATEWAY_TIMEOUT_BEFORE, 0.3)
    plans[0].set_rate("*", INTERNAL_ERROR, 0.2)
    assert kinds(plans[0], "confirm", 200) == runs[1]


def test_rate_is_removed_when_set_to_zero() -> None:
    """A rate of 0 removes the fault; a rate of 1 hits every request."""
    plan = FaultPlan()
    plan.set_rate("cancel", INTERNAL_ERROR, 1.0)
    assert kinds(plan, "cancel", 3) == [INTERNAL_ERROR] * 3
    plan.set_rate("cancel", INTERNAL_ERROR, 0.0)
    assert kinds(plan, "cancel", 3) == [None] * 3
    assert not plan.is_armed


def test_clear_forgets_only_that_endpoint_when_named() -> None:
    """clear(endpoint) leaves other endpoints' faults; clear() drops all."""
    plan = FaultPlan()
    plan.fail_next("confirm", INTERNAL_ERROR)
    plan.set_rate("reserve", INTERNAL_ERROR, 1.0)
    plan.clear("confirm")
    assert kinds(plan, "confirm", 1) == [None]
    assert kinds(plan, "reserve", 1) == [INTERNAL_ERROR]
    plan.clear()
    assert kinds(plan, "reserve", 1) == [None]


def test_delay_resolves_seconds_when_picked() -> None:
    """A fixed delay is ``ms``; a random one stays within ``max_ms``."""
    plan = FaultPlan(seed=1)
    plan.fail_next("confirm", DELAY, ms=250)
    plan.fail_next("confirm", DELAY, count=50, max_ms=20)
    assert plan.pick("confirm") == Fault(DELAY, {"ms": 250}, 0.25)
    waits = [getattr(plan.pick("confirm"), "seconds", -1.0) for _ in range(50)]
    assert all(0.0 <= wait <= 0.02 for wait in waits)
    assert len(set(waits)) > 1


@pytest.mark.parametrize(
    ("endpoint", "kind", "params", "count", "message"),
    [
        ("checkout", INTERNAL_ERROR, {}, 1, "endpoint"),
        ("confirm", "418", {}, 1, "kind"),
        ("confirm", INTERNAL_ERROR, {"ms": 1.0}, 1, "parameter"),
        ("confirm", DELAY, {"ms": -1.0}, 1, ">= 0"),
        ("confirm", INTERNAL_ERROR, {}, 0, "count"),
    ],
)
def test_fail_next_refuses_plan_when_arguments_are_wrong(
    endpoint: str, kind: str, params: dict[str, float], count: int, message: str
) -> None:
    """Unknown endpoints, kinds or parameters and bad counts raise ValueError."""
    with pytest.raises(ValueError, match=message):
        FaultPlan().fail_next(endpoint, kind, count, **params)


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_set_rate_refuses_rate_when_outside_unit_interval(rate: float) -> None:
    """Rates must lie within [0, 1]."""
    with pytest.raises(ValueError, match="rate"):
        FaultPlan().set_rate("confirm", INTERNAL_ERROR, rate)


def test_fault_kinds_are_the_documented_strings() -> None:
    """The exported constants carry the documented kind names."""
    assert sorted(FAULT_KINDS) == sorted(
        [
            "504_before",
            "504_after",
            "500",
            "502_html",
            "503_retry_after",
            "reset_before",
            "reset_after",
            "delay",
            "truncate",
            "idle_close",
        ]
    )


# --- each kind over a socket ----------------------------------------------------------


async def test_504_before_answers_gateway_timeout_when_nothing_took_effect(
    emulator: Emulator, client: RoktClient, http: aiohttp.ClientSession
) -> None:
    """504_before answers Rokt's 504 body and the confirm does not happen."""
    emulator.faults.fail_next("confirm", GATEWAY_TIMEOUT_BEFORE, count=2)
    status, content_type, body = await post(
        http, emulator.url + "/v1/cart/confirm", A_CONFIRM
    )
    assert (status, content_type) == (504, "application/json")
    assert ANY_JSON.decode(body)["errors"][0]["code"] == "GatewayTimeout"
    with pytest.raises(OutcomeUnknownError) as unknown:
        await client.confirm_cart(A_CONFIRM)
    assert isinstance(unknown.value.last_error, GatewayTimeoutError)
    assert emulator.ledger().effects == {}


async def test_504_before_raises_gateway_timeout_when_call_is_read_only(
    emulator: Emulator, client: RoktClient
) -> None:
    """A 504 on placements (no state change) surfaces as GatewayTimeoutError."""
    emulator.faults.fail_next("placements", GATEWAY_TIMEOUT_BEFORE)
    with pytest.raises(GatewayTimeoutError) as caught:
        await client.any_placements(A_PLACEMENTS)
    assert caught.value.status == 504


async def test_504_after_loses_reply_when_confirm_took_effect(
    emulator: Emulator, client: RoktClient
) -> None:
    """504_after applies the confirm, answers 504, and a resend is a replay."""
    emulator.faults.fail_next("confirm", GATEWAY_TIMEOUT_AFTER)
    with pytest.raises(OutcomeUnknownError) as unknown:
        await client.confirm_cart(A_CONFIRM)
    assert unknown.value.last_status == 504
    assert emulator.ledger().confirmations("cart-1", "parking") == 1
    assert (await client.confirm_cart(A_CONFIRM)).is_complete
    ledger = emulator.ledger()
    assert ledger.confirmations("cart-1", "parking") == 1
    assert ledger.replays == {"confirm cart-1/parking": 1}


async def test_500_raises_server_error_when_nothing_took_effect(
    emulator: Emulator, client: RoktClient
) -> None:
    """500 carries Rokt's error body, is not ambiguous, and nothing happens."""
    emulator.faults.fail_next("confirm", INTERNAL_ERROR)
    with pytest.raises(ServerError) as caught:
        await client.confirm_cart(A_CONFIRM)
    assert caught.value.status == 500
    assert caught.value.body is not None
    assert caught.value.body.errors[0].code == "InternalServerError"
    assert emulator.ledger().effects == {}


async def test_502_html_raises_server_error_without_body(
    emulator: Emulator, client: RoktClient, http: aiohttp.ClientSession
) -> None:
    """502_html answers a proxy's HTML page, which the client cannot parse."""
    emulator.faults.fail_next("placements", BAD_GATEWAY_HTML, count=2)
    body = {"cartId": "c", "pageIdentifier": "p"}
    status, content_type, page = await post(
        http, emulator.url + "/v1/placements/any", body
    )
    assert (status, content_type) == (502, "text/html")
    assert b"<h1>502 Bad Gateway</h1>" in page
    with pytest.raises(ServerError) as caught:
        await client.any_placements(A_PLACEMENTS)
    assert (caught.value.status, caught.value.body) == (502, None)


async def test_503_sets_retry_after_when_asked(
    emulator: Emulator, client: RoktClient, http: aiohttp.ClientSession
) -> None:
    """503_retry_after sends Retry-After (default 1 s, or the given seconds)."""
    emulator.faults.fail_next("placements", SERVICE_UNAVAILABLE)
    emulator.faults.fail_next("placements", SERVICE_UNAVAILABLE, retry_after=3)
    url = emulator.url + "/v1/placements/any"
    body = b'{"cartId": "c", "pageIdentifier": "p"}'
    async with http.post(url, data=body, headers=rokt_headers()) as response:
        assert (response.status, response.headers["Retry-After"]) == (503, "1")
    with pytest.raises(ServerError) as caught:
        await client.any_placements(A_PLACEMENTS)
    assert (caught.value.status, caught.value.retry_after) == (503, 3.0)


async def test_reset_before_drops_connection_when_nothing_took_effect(
    emulator: Emulator, client: RoktClient, http: aiohttp.ClientSession
) -> None:
    """reset_before aborts the connection with no answer and no effect."""
    emulator.faults.fail_next("confirm", RESET_BEFORE, count=2)
    url = emulator.url + "/v1/cart/confirm"
    with pytest.raises(aiohttp.ClientConnectionError):
        await post(http, url, A_CONFIRM)
    with pytest.raises(OutcomeUnknownError) as unknown:
        await client.confirm_cart(A_CONFIRM)
    assert isinstance(unknown.value.last_error, ConnectionLostError)
    assert emulator.ledger().effects == {}
    assert len(emulator.requests("confirm")) == 2


async def test_reset_raises_connection_lost_when_call_is_read_only(
    emulator: Emulator, client: RoktClient
) -> None:
    """A reset on placements surfaces as ConnectionLostError."""
    emulator.faults.fail_next("placements", RESET_BEFORE)
    with pytest.raises(ConnectionLostError):
        await client.any_placements(A_PLACEMENTS)


async def test_reset_after_drops_connection_when_confirm_took_effect(
    emulator: Emulator, client: RoktClient
) -> None:
    """reset_after applies the confirm, then aborts with no answer."""
    emulator.faults.fail_next("confirm", RESET_AFTER)
    with pytest.raises(OutcomeUnknownError) as unknown:
        await client.confirm_cart(A_CONFIRM)
    assert isinstance(unknown.value.last_error, ConnectionLostError)
    assert emulator.ledger().confirmations("cart-1", "parking") == 1


async def test_delay_answers_normally_when_it_is_short(
    emulator: Emulator, client: RoktClient
) -> None:
    """A short delay still gets the full answer, and the effect happens once."""
    emulator.faults.fail_next("confirm", DELAY, ms=1)
    emulator.faults.fail_next("confirm", DELAY, max_ms=2)
    assert (await client.confirm_cart(A_CONFIRM)).is_complete
    assert (await client.confirm_cart(A_CONFIRM)).is_complete
    assert emulator.ledger().confirmations("cart-1", "parking") == 1


async def test_delay_outlasts_deadline_when_effect_already_happened(
    emulator: Emulator, client: RoktClient
) -> None:
    """A long delay times the client out after the confirm took effect."""
    emulator.faults.fail_next("confirm", DELAY, ms=30_000)
    with pytest.raises(OutcomeUnknownError) as unknown:
        await client.confirm_cart(A_CONFIRM, timeout=0.2)
    assert isinstance(unknown.value.last_error, RequestTimeoutError)
    assert emulator.ledger().confirmations("cart-1", "parking") == 1


async def test_truncate_sends_short_body_when_content_length_promises_more(
    emulator: Emulator,
) -> None:
    """truncate announces more bytes than it sends, then closes the connection."""
    emulator.faults.fail_next("confirm", TRUNCATE)
    head, rest = await raw_exchange(
        emulator.url, "/v1/cart/confirm", msgspec.json.encode(A_CONFIRM)
    )
    assert head.startswith(b"HTTP/1.1 200")
    length = header(head, "Content-Length")
    assert length is not None
    # half the body is sent; Content-Length announces the whole body and 64 more
    assert len(rest) > 0
    assert int(length) - 64 in (2 * len(rest), 2 * len(rest) + 1)
    assert emulator.ledger().confirmations("cart-1", "parking") == 1


async def test_truncate_raises_connection_lost_in_client(
    emulator: Emulator, client: RoktClient, http: aiohttp.ClientSession
) -> None:
    """A truncated body breaks aiohttp's read and surfaces as ConnectionLostError."""
    emulator.faults.fail_next("placements", TRUNCATE, count=2)
    body = {"cartId": "c", "pageIdentifier": "p"}
    with pytest.raises(aiohttp.ClientPayloadError):
        await post(http, emulator.url + "/v1/placements/any", body)
    with pytest.raises(ConnectionLostError):
        await client.any_placements(A_PLACEMENTS)


async def test_idle_close_closes_kept_alive_connection_after_full_answer(
    emulator: Emulator,
) -> None:
    """idle_close answers in full as keep-alive, then the server closes."""
    emulator.faults.fail_next("placements", IDLE_CLOSE)
    head, rest = await raw_exchange(
        emulator.url, "/v1/placements/any", b'{"cartId": "c", "pageIdentifier": "p"}'
    )
    assert head.startswith(b"HTTP/1.1 200")
    assert header(head, "Connection") is None
    assert rest == b'{"result":true}'


async def test_idle_close_waits_when_ms_is_given(emulator: Emulator) -> None:
    """idle_close with ``ms`` closes the kept-alive connection after that wait."""
    emulator.faults.fail_next("placements", IDLE_CLOSE, ms=20)
    head, rest = await raw_exchange(
        emulator.url, "/v1/placements/any", b'{"cartId": "c", "pageIdentifier": "p"}'
    )
    assert header(head, "Connection") is None
    assert rest == b'{"result":true}'


async def test_keepalive_timeout_closes_idle_connection_when_short() -> None:
    """A short server-wide keep-alive closes an idle connection after an answer."""
    async with Emulator(api_key=KEY, tag_id=TAG, keepalive_timeout=0.05) as emu:
        head, rest = await raw_exchange(
            emu.url, "/v1/placements/any", b'{"cartId": "c", "pageIdentifier": "p"}'
        )
    assert header(head, "Connection") is None
    assert rest == b'{"result":true}'


async def test_star_rate_faults_every_endpoint_when_set(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """A rate of 1 for ``*`` faults every API endpoint, even unauthenticated calls."""
    emulator.faults.set_rate("*", INTERNAL_ERROR, 1.0)
    paths = ("/v1/cart/reserve", "/v1/cart/release", "/v2/events", "/auth/oauth2/token")
    statuses = [(await post(http, emulator.url + path, b"{}", {}))[0] for path in paths]
    assert statuses == [500, 500, 500, 500]
    emulator.faults.clear()
    assert (await post(http, emulator.url + "/v2/events", b"{}", {}))[0] == 401
