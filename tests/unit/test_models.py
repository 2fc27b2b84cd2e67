"""Wire models: golden camelCase bytes, lenient responses, validation at build time."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import pytest

from rokt_async import (
    CancelRequest,
    ConfirmItem,
    ConfirmRequest,
    ConfirmResponse,
    PlacementsRequest,
    ReleaseItem,
    ReleaseRequest,
    ReleaseResponse,
    RequestValidationError,
    ReservedItem,
    ReserveItem,
    ReserveRequest,
    ReserveResponse,
)
from rokt_async._codec import CONFIRM, ENCODER, RELEASE, RESERVE, parse_error_body

if TYPE_CHECKING:
    from collections.abc import Callable

    import msgspec


@pytest.mark.parametrize(
    ("request_", "golden"),
    [
        (
            ReserveRequest(
                cart_id="c1",
                items=(ReserveItem(cart_item_id="i1", quantity=2),),
                is_pay_pal_payment=True,
                merchant_id="m1",
                attributes={"eventId": "e1"},
            ),
            b'{"cartId":"c1","items":[{"cartItemId":"i1","quantity":2}],'
            b'"isPayPalPayment":true,"merchantId":"m1","attributes":{"eventId":"e1"}}',
        ),
        (
            ReserveRequest(
                cart_id="c1", items=(ReserveItem(cart_item_id="i1", quantity=1),)
            ),
            b'{"cartId":"c1","items":[{"cartItemId":"i1","quantity":1}]}',
        ),
        (
            ConfirmRequest(
                cart_id="c1",
                order_id="o1",
                items=(
                    ConfirmItem(cart_item_id="i1", item_reservation_id="r1"),
                    ConfirmItem(cart_item_id="i2", quantity=3),
                ),
                pay_pal_order_id="pp1",
            ),
            b'{"cartId":"c1","orderId":"o1","items":[{"cartItemId":"i1",'
            b'"itemReservationId":"r1"},{"cartItemId":"i2","quantity":3}],'
            b'"payPalOrderId":"pp1"}',
        ),
        (
            ReleaseRequest(
                cart_id="c1",
                items=(ReleaseItem(cart_item_id="i1", item_reservation_id="r1"),),
            ),
            b'{"cartId":"c1","items":[{"cartItemId":"i1","itemReservationId":"r1"}]}',
        ),
        (CancelRequest(item_reservation_id="r1"), b'{"itemReservationId":"r1"}'),
        (
            PlacementsRequest(
                cart_id="c1",
                page_identifier="checkout.upsell",
                url="https://shop.example/checkout",
                attributes={"eventdate": "20261123", "country": "AU"},
            ),
            b'{"cartId":"c1","pageIdentifier":"checkout.upsell",'
            b'"url":"https://shop.example/checkout",'
            b'"attributes":{"eventdate":"20261123","country":"AU"}}',
        ),
    ],
)
def test_request_encodes_to_golden_camelcase_bytes(
    request_: msgspec.Struct, golden: bytes
) -> None:
    """Every request encodes to camelCase with unset optional fields left out."""
    assert ENCODER.encode(request_) == golden


def test_reserve_response_decodes_with_unknown_fields_and_numeric_strings() -> None:
    """A reserve answer decodes despite extra fields and quantity sent as a string."""
    body = (
        b'{"cartId":"c1","extra":1,"items":[{"cartItemId":"i1",'
        b'"itemReservationId":"r1","quantity":"15","unitPrice":"12.5",'
        b'"totalPrice":187.5,"currency":"USD","newField":{"a":1},'
        b'"expirationDateTimeUtc":"2026-11-23T10:00:00Z"}]}'
    )
    item = RESERVE.decode(body).items[0]
    assert (item.quantity, item.unit_price, item.total_price) == (15, 12.5, 187.5)
    assert item.expiration_date_time_utc == datetime.datetime(
        2026, 11, 23, 10, tzinfo=datetime.UTC
    )


def test_confirm_response_failed_items_lists_only_failures() -> None:
    """failed_items holds exactly the items whose success is false."""
    response = CONFIRM.decode(
        b'{"cartId":"c1","orderId":"o1","items":['
        b'{"cartItemId":"a","itemReservationId":"r1","itemConfirmationId":"k1",'
        b'"itemConfirmationUrl":"https://x/k1","success":true},'
        b'{"cartItemId":"b","itemReservationId":"r2","success":false}]}'
    )
    assert isinstance(response, ConfirmResponse)
    assert [i.cart_item_id for i in response.failed_items] == ["b"]
    assert not response.is_complete


def test_release_response_is_complete_when_every_item_succeeded() -> None:
    """A release whose items all succeeded has no failed items."""
    response = RELEASE.decode(
        b'{"cartId":"c1","items":[{"cartItemId":"a","itemReservationId":"r1",'
        b'"success":true}]}'
    )
    assert isinstance(response, ReleaseResponse)
    assert response.failed_items == ()
    assert response.is_complete


def test_reserve_response_without_items_decodes_empty() -> None:
    """A reserve answer that omits items decodes to an empty tuple."""
    assert RESERVE.decode(b'{"cartId":"c1"}') == ReserveResponse(cart_id="c1")


@pytest.mark.parametrize(
    "build",
    [
        lambda: ConfirmItem(cart_item_id="i1"),
        lambda: ConfirmItem(cart_item_id="i1", quantity=0),
        lambda: ConfirmRequest(cart_id="c", order_id="o", items=()),
        lambda: ReserveRequest(cart_id="c", items=()),
        lambda: ReserveItem(cart_item_id="i1", quantity=0),
        lambda: ReleaseRequest(cart_id="c", items=()),
        lambda: CancelRequest(item_reservation_id=""),
    ],
)
def test_invalid_request_is_refused_when_built(build: object) -> None:
    """Requests Rokt would refuse raise RequestValidationError before any I/O."""
    assert callable(build)
    with pytest.raises(RequestValidationError):
        build()


def test_request_structs_are_frozen() -> None:
    """A request cannot change after it was built, so every retry sends the same."""
    request = CancelRequest(item_reservation_id="r1")
    with pytest.raises(AttributeError):
        request.item_reservation_id = "r2"  # type: ignore[misc]


def test_error_body_parses_rokt_json_and_refuses_html() -> None:
    """Rokt's error JSON parses; HTML, empty or deeply nested bodies give None."""
    body = parse_error_body(
        b'{"description":"Bad","errors":[{"code":"E1","message":"m","value":[1]}]}'
    )
    assert body is not None
    assert (body.description, body.errors[0].code, body.errors[0].value) == (
        "Bad",
        "E1",
        [1],
    )
    assert parse_error_body(b"<html>502 Bad Gateway</html>") is None
    assert parse_error_body(b"") is None
    deep = b"[" * 100_000 + b"]" * 100_000
    assert parse_error_body(b'{"errors":[{"value":' + deep + b"}]}") is None


# --- ways out, and checks when built (#10) ----------------------------------------


def test_to_dict_uses_python_names_and_json_ready_values() -> None:
    """to_dict() gives snake_case keys, RFC 3339 strings for datetimes, lists for
    tuples, and leaves unset fields out."""
    answer = ReserveResponse(
        cart_id="c",
        items=(
            ReservedItem(
                cart_item_id="i",
                item_reservation_id="r",
                quantity=1,
                unit_price=2.5,
                total_price=2.5,
                currency="USD",
                expiration_date_time_utc=datetime.datetime(
                    2026, 12, 1, 10, 0, tzinfo=datetime.UTC
                ),
            ),
        ),
    )
    assert answer.to_dict() == {
        "cart_id": "c",
        "items": [
            {
                "cart_item_id": "i",
                "item_reservation_id": "r",
                "quantity": 1,
                "unit_price": 2.5,
                "total_price": 2.5,
                "currency": "USD",
                "expiration_date_time_utc": "2026-12-01T10:00:00Z",
            }
        ],
    }
    confirm = ConfirmRequest(
        cart_id="c", order_id="o", items=[ConfirmItem(cart_item_id="i", quantity=1)]
    )
    assert confirm.to_dict() == {
        "cart_id": "c",
        "order_id": "o",
        "items": [{"cart_item_id": "i", "quantity": 1}],
    }


def test_to_json_is_the_wire_body_and_from_json_reads_it_back() -> None:
    """to_json() is the camelCase body the client sends; from_json() rebuilds an
    equal, validated request from it."""
    confirm = ConfirmRequest(
        cart_id="c",
        order_id="o",
        items=[ConfirmItem(cart_item_id="i", item_reservation_id="r")],
        attributes={"k": "v"},
    )
    body = confirm.to_json()
    assert body == (
        b'{"cartId":"c","orderId":"o","items":[{"cartItemId":"i",'
        b'"itemReservationId":"r"}],"attributes":{"k":"v"}}'
    )
    assert ConfirmRequest.from_json(body) == confirm
    assert ConfirmRequest.from_json(body.decode()) == confirm


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b'{"cartId":"c"}',
        b'{"cartId":"","orderId":"o","items":[]}',
        b"\xff",
    ],
)
def test_from_json_refuses_what_is_not_a_valid_request(data: bytes) -> None:
    """from_json() raises RequestValidationError for bad JSON or a bad request."""
    with pytest.raises(RequestValidationError, match=r"^ConfirmRequest\.from_json"):
        ConfirmRequest.from_json(data)


def test_item_lists_take_any_sequence_and_store_a_tuple() -> None:
    """A list of items is accepted and kept as a tuple (the Struct stays frozen)."""
    release = ReleaseRequest(
        cart_id="c", items=[ReleaseItem(cart_item_id="i", item_reservation_id="r")]
    )
    assert isinstance(release.items, tuple)


A_ITEM = ReserveItem(cart_item_id="i", quantity=1)
CONFIRM_ITEM = ConfirmItem(cart_item_id="i", quantity=1)


def wrong(value: object) -> Any:
    """A value of the wrong type, as untyped partner code would pass it."""
    return value


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: ReserveItem(cart_item_id="i", quantity=wrong("1")),
            "quantity must be an int",
        ),
        (
            lambda: ReserveItem(cart_item_id="i", quantity=wrong(True)),
            "quantity must be an int",
        ),
        (lambda: ReserveItem(cart_item_id="", quantity=1), "cart_item_id must not be"),
        (
            lambda: ReserveRequest(
                cart_id="c",
                items=wrong(
                    ReserveItem(cart_item_id="i", quantity=1) for _ in range(1)
                ),
            ),
            "items must be a sequence",
        ),
        (
            lambda: ReserveRequest(cart_id="", items=[A_ITEM]),
            "cart_id must not be empty",
        ),
        (
            lambda: ReserveRequest(cart_id="c", items=wrong(["i"])),
            r"items\[0\] must be",
        ),
        (
            lambda: ReserveRequest(cart_id=wrong(7), items=[A_ITEM]),
            "cart_id must be a str",
        ),
        (
            lambda: ReserveRequest(
                cart_id="c", items=[A_ITEM], attributes=wrong({"k": 1})
            ),
            "attributes must map str to str",
        ),
        (
            lambda: ConfirmRequest(cart_id="c", order_id="", items=[CONFIRM_ITEM]),
            "order_id must not be empty",
        ),
        (
            lambda: ConfirmItem(cart_item_id="i", item_reservation_id=""),
            "item_reservation_id must not be empty",
        ),
        (
            lambda: PlacementsRequest(cart_id="c", page_identifier=""),
            "page_identifier must not be empty",
        ),
        (lambda: CancelRequest(item_reservation_id=wrong(3)), "must be a str, not int"),
    ],
)
def test_wrong_types_and_empty_ids_are_refused_when_built(
    build: Callable[[], object], message: str
) -> None:
    """Wrong types, generators and empty ids are RequestValidationError naming the
    field, raised when the Struct is built, never a bare TypeError at send time."""
    with pytest.raises(RequestValidationError, match=message):
        build()
