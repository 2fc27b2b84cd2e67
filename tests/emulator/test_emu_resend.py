"""Resend modes: how a resent cart/confirm is answered (replay, reject, duplicate)."""

from __future__ import annotations

from http.client import HTTPConnection
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from rokt_async.emulator import (
    DUPLICATE,
    REJECT,
    REPLAY,
    RESEND_MODES,
    CatalogItem,
    Emulator,
)
from rokt_async.emulator.__main__ import build, parse_args
from rokt_async.emulator._ledger import effect_key
from rokt_async.emulator._state import State
from tests.emulator._emu import (
    all_succeeded,
    cancel_request,
    confirm_quantity,
    confirm_reserved,
    release_request,
    reserve_request,
)
from tests.emulator._helpers import (
    ANY_JSON,
    KEY,
    T0,
    TAG,
    TTL,
    admin,
    post,
    rokt_headers,
)

if TYPE_CHECKING:
    import aiohttp

    from rokt_async.emulator import StockLine
    from rokt_async.emulator._schema import ConfirmedItem, ConfirmRequest

KEY_SCARCE = effect_key("confirm", "cart-1", "scarce")


def new_state(resend: str) -> State:
    """A state in ``resend`` mode with three units of a seeded item."""
    return State(
        catalog={"scarce": CatalogItem(stock=3, unit_price=2.5, currency="EUR")},
        reservation_ttl=TTL,
        resend=resend,
    )


def reserved_confirm(state: State) -> ConfirmRequest:
    """A confirm of one freshly reserved unit of ``scarce`` in cart-1."""
    rid = state.reserve(reserve_request("cart-1", scarce=1), T0).items[0]
    return confirm_reserved("cart-1", "order-1", ("scarce", rid.item_reservation_id))


def quantity_confirm() -> ConfirmRequest:
    """A quantity-only confirm of one unit of ``scarce`` in cart-1."""
    return confirm_quantity("cart-1", "order-1", scarce=1)


def resendable(state: State, kind: str) -> ConfirmRequest:
    """A confirm by reservation or by quantity only, as ``kind`` says."""
    return reserved_confirm(state) if kind == "reservation" else quantity_confirm()


def only(state: State, request: ConfirmRequest) -> ConfirmedItem:
    """Confirm ``request`` and return its single item."""
    (item,) = state.confirm(request, T0).items
    return item


def stock(state: State) -> StockLine:
    """The stock line of ``scarce``."""
    return state.stock(T0)["scarce"]


# --- the state machine, mode by mode ------------------------------------------------


@pytest.mark.parametrize("kind", ["reservation", "quantity"])
def test_resend_returns_first_confirmation_when_mode_is_replay(
    kind: str,
) -> None:
    """In replay mode a resend answers the first confirmation and buys nothing."""
    state = new_state(REPLAY)
    request = resendable(state, kind)
    first = only(state, request)
    assert only(state, request) == first
    assert (state.effects[KEY_SCARCE], state.replays[KEY_SCARCE]) == (1, 1)
    assert stock(state).confirmed == 1


def test_resent_reservation_fails_already_confirmed_when_mode_is_reject() -> None:
    """In reject mode a resent reservation fails as AlreadyConfirmed, id echoed."""
    state = new_state(REJECT)
    request = reserved_confirm(state)
    first = only(state, request)
    before = stock(state)
    again = only(state, request)
    assert first.success
    assert first.error_code is None
    assert (again.success, again.error_code) == (False, "AlreadyConfirmed")
    assert again.item_reservation_id == first.item_reservation_id
    assert again.item_confirmation_id is None
    assert stock(state) == before
    assert (state.effects[KEY_SCARCE], state.replays[KEY_SCARCE]) == (1, 1)


def test_resent_quantity_item_fails_already_confirmed_when_mode_is_reject() -> None:
    """In reject mode a resent quantity-only item fails and takes no stock."""
    state = new_state(REJECT)
    request = quantity_confirm()
    only(state, request)
    before = stock(state)
    again = only(state, request)
    assert (again.success, again.error_code) == (False, "AlreadyConfirmed")
    assert again.item_reservation_id is None
    assert stock(state) == before
    assert (state.effects[KEY_SCARCE], state.replays[KEY_SCARCE]) == (1, 1)


@pytest.mark.parametrize("mode", [REJECT, DUPLICATE])
def test_resent_cancelled_reservation_fails_when_mode_is_not_replay(
    mode: str,
) -> None:
    """A reservation confirmed then cancelled is refused, and its units stay on sale."""
    state = new_state(mode)
    request = reserved_confirm(state)
    rid = only(state, request).item_reservation_id
    assert rid is not None
    state.cancel(cancel_request(rid), T0)
    again = only(state, request)
    assert (again.success, again.error_code) == (False, "AlreadyConfirmed")
    assert stock(state).available == 3


def test_resent_quantity_item_buys_again_when_mode_is_duplicate() -> None:
    """In duplicate mode a resent quantity-only item is a second purchase."""
    state = new_state(DUPLICATE)
    request = quantity_confirm()
    first = only(state, request)
    again = only(state, request)
    assert again.success
    assert again.error_code is None
    assert again.item_reservation_id not in (None, first.item_reservation_id)
    assert again.item_confirmation_id != first.item_confirmation_id
    assert stock(state).confirmed == 2
    assert state.effects[KEY_SCARCE] == 2
    assert KEY_SCARCE not in state.replays


def test_resent_reservation_fails_already_confirmed_when_mode_is_duplicate() -> None:
    """Even in duplicate mode a reservation is confirmed at most once."""
    state = new_state(DUPLICATE)
    request = reserved_confirm(state)
    first = only(state, request)
    again = only(state, request)
    assert (again.success, again.error_code) == (False, "AlreadyConfirmed")
    assert again.item_reservation_id == first.item_reservation_id
    assert stock(state).confirmed == 1
    assert (state.effects[KEY_SCARCE], state.replays[KEY_SCARCE]) == (1, 1)


@pytest.mark.parametrize("mode", RESEND_MODES)
def test_confirm_fails_without_error_code_when_item_is_not_a_resend(mode: str) -> None:
    """Unknown reservations and short stock fail with no errorCode in every mode."""
    state = new_state(mode)
    short = only(state, confirm_quantity("cart-1", "o", scarce=4))
    unknown = only(state, confirm_reserved("cart-1", "o", ("scarce", "nope")))
    assert [(i.success, i.error_code) for i in (unknown, short)] == [
        (False, None),
        (False, None),
    ]


@pytest.mark.parametrize("mode", RESEND_MODES)
def test_release_succeeds_without_effect_when_repeated_in_any_mode(mode: str) -> None:
    """The resend mode is for confirm only: a repeated release still succeeds."""
    state = new_state(mode)
    rid = state.reserve(reserve_request("cart-1", scarce=1), T0).items[0]
    request = release_request("cart-1", ("scarce", rid.item_reservation_id))
    state.release(request, T0)
    assert all_succeeded(state.release(request, T0))
    assert stock(state).available == 3


def test_confirm_answers_by_current_mode_when_mode_changes() -> None:
    """A mode set later applies to later resends; replay still answers the first."""
    state = new_state(REPLAY)
    request = quantity_confirm()
    first = only(state, request)
    state.resend = DUPLICATE
    assert only(state, request).success
    state.resend = REJECT
    assert only(state, request).error_code == "AlreadyConfirmed"
    state.resend = REPLAY
    assert only(state, request) == first
    assert stock(state).confirmed == 2


def test_state_refuses_resend_when_mode_is_unknown() -> None:
    """An unknown mode is refused when built and when set, and the mode stays."""
    with pytest.raises(ValueError, match="resend must be one of"):
        new_state("twice")
    state = new_state(REJECT)
    with pytest.raises(ValueError, match="resend must be one of"):
        state.resend = "twice"
    assert state.resend == REJECT


# --- the Emulator: constructor, setter, reset ----------------------------------------


def test_emulator_refuses_resend_when_mode_is_unknown() -> None:
    """Emulator and set_resend refuse a mode that is not one of RESEND_MODES."""
    with pytest.raises(ValueError, match="resend must be one of"):
        Emulator(resend="twice")
    emu = Emulator(resend=DUPLICATE)
    with pytest.raises(ValueError, match="resend must be one of"):
        emu.set_resend("Reject")
    assert emu.resend == DUPLICATE


def test_emulator_resend_is_replay_when_not_given() -> None:
    """The default mode is replay, and the mode names are the three constants."""
    assert Emulator().resend == REPLAY
    assert RESEND_MODES == ("replay", "reject", "duplicate")


def test_reset_restores_constructed_mode_when_mode_was_set() -> None:
    """reset() goes back to the constructor's mode, not to replay."""
    emu = Emulator(resend=REJECT)
    emu.set_resend(DUPLICATE)
    assert emu.resend == DUPLICATE
    emu.reset()
    assert emu.resend == REJECT


# --- over HTTP ---------------------------------------------------------------------


async def test_confirm_over_http_sends_error_code_when_resent_in_reject_mode(
    http: aiohttp.ClientSession,
) -> None:
    """An emulator built in reject mode answers a resend with errorCode on the wire."""
    async with Emulator(
        api_key=KEY, tag_id=TAG, clock=lambda: T0, resend=REJECT
    ) as emu:
        url = emu.url
        reserved = ANY_JSON.decode(
            (await post(http, url + "/v1/cart/reserve", reserve_request()))[2]
        )
        rid = reserved["items"][0]["itemReservationId"]
        request = confirm_reserved("cart-1", "order-1", ("parking", rid))
        answers = [await post(http, url + "/v1/cart/confirm", request) for _ in "12"]
        ledger = emu.ledger()
    (first,), (again,) = (ANY_JSON.decode(body)["items"] for _, _, body in answers)
    assert [status for status, _, _ in answers] == [200, 200]
    assert "errorCode" not in first
    assert again == {
        "cartItemId": "parking",
        "success": False,
        "itemReservationId": rid,
        "errorCode": "AlreadyConfirmed",
    }
    assert ledger.replays == {"confirm cart-1/parking": 1}
    assert ledger.stock["parking"].confirmed == 1


async def test_confirm_over_http_buys_twice_when_resent_in_duplicate_mode(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """In duplicate mode a resent quantity-only confirm lands in the ledger twice."""
    emulator.set_resend(DUPLICATE)
    request = confirm_quantity("cart-1", "order-1", parking=2)
    for _ in range(2):
        status, _, body = await post(http, emulator.url + "/v1/cart/confirm", request)
        assert status == 200
        assert ANY_JSON.decode(body)["items"][0]["success"] is True
    ledger = emulator.ledger()
    assert ledger.duplicates == ("confirm cart-1/parking",)
    assert ledger.stock["parking"].confirmed == 4
    assert ledger.is_stock_conserved


def test_set_resend_applies_while_serving_from_a_thread() -> None:
    """set_resend from the test's thread changes the next answer of a thread server."""
    body = msgspec.json.encode(confirm_quantity("c", "o", i=1))
    items = []
    with Emulator(api_key=KEY, tag_id=TAG) as emu:
        host, port = emu.url.removeprefix("http://").rsplit(":", 1)
        for mode in (REPLAY, REJECT):
            emu.set_resend(mode)
            connection = HTTPConnection(host, int(port), timeout=10)
            try:
                connection.request(
                    "POST", "/v1/cart/confirm", body=body, headers=rokt_headers()
                )
                items.append(ANY_JSON.decode(connection.getresponse().read()))
            finally:
                connection.close()
    assert [answer["items"][0]["success"] for answer in items] == [True, False]
    assert items[1]["items"][0]["errorCode"] == "AlreadyConfirmed"


# --- admin endpoint -----------------------------------------------------------------


async def admin_resend(
    http: aiohttp.ClientSession, emulator: Emulator, body: Any = None
) -> tuple[int, Any]:
    """GET (no body) or POST /_emulator/resend; status and decoded JSON."""
    return await admin(http, emulator, "resend", body)


async def test_resend_endpoint_sets_mode_when_posted(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """POST /_emulator/resend sets the mode; GET and the next resend show it."""
    assert await admin_resend(http, emulator) == (200, {"mode": "replay"})
    assert await admin_resend(http, emulator, {"mode": "reject"}) == (
        200,
        {"mode": "reject"},
    )
    assert await admin_resend(http, emulator) == (200, {"mode": "reject"})
    url = emulator.url + "/v1/cart/confirm"
    request = confirm_quantity("cart-1", "order-1", parking=1)
    await post(http, url, request)
    (again,) = ANY_JSON.decode((await post(http, url, request))[2])["items"]
    assert again["errorCode"] == "AlreadyConfirmed"


async def test_reset_endpoint_restores_constructed_mode_when_mode_was_posted(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """POST /_emulator/reset brings the mode back to the constructor's."""
    await admin_resend(http, emulator, {"mode": "duplicate"})
    async with http.post(f"{emulator.url}/_emulator/reset", data=b"") as response:
        assert response.status == 200
    assert await admin_resend(http, emulator) == (200, {"mode": "replay"})


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ({"mode": "twice"}, "InvalidValue"),
        ({"mode": "Reject"}, "InvalidValue"),
        ({"mode": "reject", "extra": 1}, "ValidationError"),
        ({}, "ValidationError"),
        (b"{", "ValidationError"),
    ],
)
async def test_resend_endpoint_answers_400_when_mode_is_wrong(
    emulator: Emulator, http: aiohttp.ClientSession, command: Any, code: str
) -> None:
    """Unknown modes, unknown fields and malformed JSON get 400; the mode stays."""
    emulator.set_resend(DUPLICATE)
    status, body = await admin_resend(http, emulator, command)
    assert status == 400
    assert body["errors"][0]["code"] == code
    assert emulator.resend == DUPLICATE


async def test_resend_endpoint_answers_405_when_method_is_wrong(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """Only GET and POST are allowed on /_emulator/resend, and 405 says so."""
    async with http.put(f"{emulator.url}/_emulator/resend", data=b"{}") as response:
        assert response.status == 405
        assert response.headers["Allow"] == "GET, POST"


# --- command line -------------------------------------------------------------------


@pytest.mark.parametrize("mode", RESEND_MODES)
def test_cli_resend_flag_builds_emulator_in_that_mode(mode: str) -> None:
    """``--resend MODE`` builds an emulator answering resends by MODE."""
    emu = build(parse_args(["--resend", mode]))
    assert emu.resend == mode
    emu.set_resend(REPLAY if mode != REPLAY else REJECT)
    emu.reset()
    assert emu.resend == mode


def test_cli_resend_is_replay_when_flag_is_absent() -> None:
    """Without ``--resend`` the CLI emulator replays resends."""
    assert build(parse_args([])).resend == REPLAY


def test_cli_refuses_resend_when_mode_is_unknown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An unknown ``--resend`` exits with status 2 and names the valid choices."""
    with pytest.raises(SystemExit) as exited:
        parse_args(["--resend", "twice"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err
    assert all(mode in err for mode in RESEND_MODES)


def test_cli_help_lists_resend_modes(capsys: pytest.CaptureFixture[str]) -> None:
    """``--help`` shows the flag and its three modes."""
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    assert "--resend {replay,reject,duplicate}" in capsys.readouterr().out
