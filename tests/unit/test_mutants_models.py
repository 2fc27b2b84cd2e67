"""Request validation, message by message: each names its model and its field.

Written for the mutants ``make mutate`` left alive in ``_models.py`` (issue #11):
the other tests match part of a message, so a check that named the wrong model,
or none, still passed them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from rokt_async import (
    CancelRequest,
    ConfirmItem,
    ConfirmRequest,
    PlacementsRequest,
    ReleaseItem,
    ReleaseRequest,
    RequestValidationError,
    ReserveItem,
    ReserveRequest,
)

if TYPE_CHECKING:
    from collections.abc import Callable

RESERVE_ITEM = ReserveItem(cart_item_id="i", quantity=1)
CONFIRM_ITEM = ConfirmItem(cart_item_id="i", item_reservation_id="r")
RELEASE_ITEM = ReleaseItem(cart_item_id="i", item_reservation_id="r")


def wrong(value: object) -> Any:
    """A value of the wrong type, as untyped partner code would pass it."""
    return value


def reserve(**fields: Any) -> ReserveRequest:
    return ReserveRequest(**{"cart_id": "c", "items": [RESERVE_ITEM], **fields})


def confirm(**fields: Any) -> ConfirmRequest:
    return ConfirmRequest(
        **{"cart_id": "c", "order_id": "o", "items": [CONFIRM_ITEM], **fields}
    )


def release(**fields: Any) -> ReleaseRequest:
    return ReleaseRequest(**{"cart_id": "c", "items": [RELEASE_ITEM], **fields})


def placements(**fields: Any) -> PlacementsRequest:
    return PlacementsRequest(**{"cart_id": "c", "page_identifier": "p", **fields})


NOT_STR = {"a": wrong(1)}

REFUSALS: list[tuple[Callable[[], object], str]] = [
    (
        lambda: ReserveItem(cart_item_id=wrong(1), quantity=1),
        "ReserveItem.cart_item_id must be a str, not int",
    ),
    (
        lambda: ReserveItem(cart_item_id="i", quantity=0),
        "ReserveItem.quantity must be at least 1",
    ),
    (lambda: reserve(cart_id=""), "ReserveRequest.cart_id must not be empty"),
    (lambda: reserve(items=[]), "ReserveRequest.items must hold at least one item"),
    (
        lambda: reserve(is_pay_pal_payment=wrong(1)),
        "ReserveRequest.is_pay_pal_payment must be a bool, not int",
    ),
    (
        lambda: reserve(merchant_id=""),
        "ReserveRequest.merchant_id must not be empty",
    ),
    (
        lambda: reserve(attributes=NOT_STR),
        "ReserveRequest.attributes must map str to str",
    ),
    (
        lambda: ConfirmItem(cart_item_id="", quantity=1),
        "ConfirmItem.cart_item_id must not be empty",
    ),
    (
        lambda: ConfirmItem(cart_item_id="i"),
        "ConfirmItem needs item_reservation_id or quantity",
    ),
    (
        lambda: ConfirmItem(cart_item_id="i", item_reservation_id=""),
        "ConfirmItem.item_reservation_id must not be empty",
    ),
    (
        lambda: ConfirmItem(cart_item_id="i", quantity=0),
        "ConfirmItem.quantity must be at least 1",
    ),
    (lambda: confirm(cart_id=""), "ConfirmRequest.cart_id must not be empty"),
    (lambda: confirm(order_id=""), "ConfirmRequest.order_id must not be empty"),
    (lambda: confirm(items=[]), "ConfirmRequest.items must hold at least one item"),
    (
        lambda: confirm(pay_pal_order_id=""),
        "ConfirmRequest.pay_pal_order_id must not be empty",
    ),
    (
        lambda: confirm(merchant_id=""),
        "ConfirmRequest.merchant_id must not be empty",
    ),
    (
        lambda: confirm(attributes=NOT_STR),
        "ConfirmRequest.attributes must map str to str",
    ),
    (
        lambda: ReleaseItem(cart_item_id="", item_reservation_id="r"),
        "ReleaseItem.cart_item_id must not be empty",
    ),
    (
        lambda: ReleaseItem(cart_item_id="i", item_reservation_id=""),
        "ReleaseItem.item_reservation_id must not be empty",
    ),
    (lambda: release(cart_id=""), "ReleaseRequest.cart_id must not be empty"),
    (lambda: release(items=[]), "ReleaseRequest.items must hold at least one item"),
    (
        lambda: release(attributes=NOT_STR),
        "ReleaseRequest.attributes must map str to str",
    ),
    (
        lambda: CancelRequest(item_reservation_id=""),
        "CancelRequest.item_reservation_id must not be empty",
    ),
    (lambda: placements(cart_id=""), "PlacementsRequest.cart_id must not be empty"),
    (
        lambda: placements(page_identifier=""),
        "PlacementsRequest.page_identifier must not be empty",
    ),
    (lambda: placements(url=""), "PlacementsRequest.url must not be empty"),
    (
        lambda: placements(attributes=NOT_STR),
        "PlacementsRequest.attributes must map str to str",
    ),
]


@pytest.mark.parametrize(("build", "message"), REFUSALS)
def test_refusal_names_model_and_field_when_a_field_is_bad(
    build: Callable[[], object], message: str
) -> None:
    """Each check's RequestValidationError says exactly which model and field."""
    with pytest.raises(RequestValidationError) as caught:
        build()
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "build",
    [
        lambda: reserve(items=[RESERVE_ITEM, RESERVE_ITEM]),
        lambda: confirm(items=[CONFIRM_ITEM, CONFIRM_ITEM]),
        lambda: release(items=[RELEASE_ITEM, RELEASE_ITEM]),
    ],
)
def test_items_are_stored_as_a_tuple_when_given_a_list(
    build: Callable[[], ReserveRequest | ConfirmRequest | ReleaseRequest],
) -> None:
    """A list of items is kept as the tuple the frozen request stores."""
    built = build()
    assert isinstance(built.items, tuple)
    assert len(built.items) == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"cartId":', "ReserveRequest.from_json: Input data was truncated"),
        (b'{"cartId":"\xff"}', "ReserveRequest.from_json: not JSON"),
        (
            b'{"x":' + b"[" * 2_000 + b"]" * 2_000 + b"}",
            "ReserveRequest.from_json: not JSON",
        ),
    ],
    ids=["truncated", "not-utf8", "too-deep"],
)
def test_from_json_says_what_is_wrong_with_the_bytes(data: bytes, message: str) -> None:
    """msgspec's reason for a decode error is quoted; bytes that are not UTF-8, or
    nested past the limit, are "not JSON"."""
    with pytest.raises(RequestValidationError) as caught:
        ReserveRequest.from_json(data)
    assert str(caught.value) == message


def test_to_dict_keeps_the_values_of_a_mapping_field() -> None:
    """``to_dict()`` copies ``attributes`` with its values, not just its keys."""
    built = reserve(attributes={"channel": "web"})
    assert built.to_dict()["attributes"] == {"channel": "web"}
