"""The admin endpoints under /_emulator/ for out-of-process control."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.emulator._helpers import T0, TTL, admin, confirm_quantity, post

if TYPE_CHECKING:
    import aiohttp

    from rokt_async.emulator import Emulator

A_CONFIRM = confirm_quantity("cart-1", "order-1", parking=2)


async def test_ledger_endpoint_reports_effects_and_stock(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """GET /_emulator/ledger answers the ledger as JSON."""
    await post(http, emulator.url + "/v1/cart/confirm", A_CONFIRM)
    status, ledger = await admin(http, emulator, "ledger")
    assert status == 200
    assert ledger["effects"] == {"confirm cart-1/parking": 1}
    assert ledger["duplicates"] == []
    assert ledger["stock"]["parking"]["confirmed"] == 2
    assert ledger["is_stock_conserved"] is True
    assert ledger["requests"] == 1
    assert ledger["peak_connections"] == 1  # one kept-alive connection carried both


async def test_reset_endpoint_forgets_everything(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """POST /_emulator/reset empties state, records and faults."""
    await post(http, emulator.url + "/v1/cart/confirm", A_CONFIRM)
    emulator.faults.fail_next("confirm", "500")
    assert await admin(http, emulator, "reset", b"") == (200, {})
    assert emulator.requests() == []
    assert emulator.ledger().effects == {}
    assert emulator.faults.pending("confirm") == 0


async def test_faults_endpoint_scripts_next_failures(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """A fail_next command faults the next requests like FaultPlan.fail_next."""
    command = {
        "action": "fail_next",
        "endpoint": "confirm",
        "kind": "503_retry_after",
        "count": 2,
        "params": {"retry_after": 4},
    }
    assert await admin(http, emulator, "faults", command) == (200, {})
    url = emulator.url + "/v1/cart/confirm"
    statuses = [(await post(http, url, A_CONFIRM))[0] for _ in range(3)]
    assert statuses == [503, 503, 200]


async def test_faults_endpoint_sets_and_clears_rates(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """set_rate and clear commands mirror FaultPlan.set_rate and clear."""
    url = emulator.url + "/v1/cart/confirm"
    rate = {"action": "set_rate", "endpoint": "*", "kind": "500", "rate": 1.0}
    await admin(http, emulator, "faults", rate)
    assert (await post(http, url, A_CONFIRM))[0] == 500
    assert await admin(http, emulator, "faults", {"action": "clear"}) == (200, {})
    assert (await post(http, url, A_CONFIRM))[0] == 200


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ({"action": "fail_next", "endpoint": "confirm", "kind": "418"}, "InvalidValue"),
        ({"action": "explode"}, "ValidationError"),
        ({"action": "clear", "extra": 1}, "ValidationError"),
        (b"{", "ValidationError"),
    ],
)
async def test_faults_endpoint_answers_400_when_command_is_wrong(
    emulator: Emulator, http: aiohttp.ClientSession, command: Any, code: str
) -> None:
    """Unknown kinds, actions, fields or malformed JSON are answered 400."""
    status, body = await admin(http, emulator, "faults", command)
    assert status == 400
    assert body["errors"][0]["code"] == code
    assert not emulator.faults.is_armed


async def test_clock_endpoint_advances_emulator_time(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """POST /_emulator/clock moves time forward and answers the new time."""
    assert await admin(http, emulator, "clock", {"advance": TTL}) == (
        200,
        {"now": T0 + TTL},
    )
    assert emulator.now() == T0 + TTL


async def test_clock_endpoint_answers_400_when_advance_is_negative(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """Time cannot be moved backwards over HTTP either."""
    status, _ = await admin(http, emulator, "clock", {"advance": -1})
    assert status == 400
    assert emulator.now() == T0


async def test_admin_paths_answer_404_or_405_when_wrong(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """Unknown admin paths get 404, wrong methods 405; neither is recorded."""
    assert (await admin(http, emulator, "nope"))[0] == 404
    assert (await admin(http, emulator, "reset"))[0] == 405
    assert (await admin(http, emulator, "ledger", b"{}"))[0] == 405
    assert emulator.requests() == []
