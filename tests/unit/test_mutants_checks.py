"""The shared field checks: full messages, and UNSET refused where a field is required.

Written for the mutants ``make mutate`` left alive in ``_checks.py`` (issue #11).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from rokt_async import (
    ConfirmItem,
    PlacementsRequest,
    RequestValidationError,
    ReserveItem,
    ReserveRequest,
)

if TYPE_CHECKING:
    from collections.abc import Callable

RESERVE_ITEM = ReserveItem(cart_item_id="i", quantity=1)


def wrong(value: object) -> Any:
    """A value of the wrong type, as untyped partner code would pass it."""
    return value


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: ReserveItem(cart_item_id=wrong(msgspec.UNSET), quantity=1),
            "ReserveItem.cart_item_id must be a str, not UnsetType",
        ),
        (
            lambda: ReserveItem(cart_item_id="i", quantity=wrong(msgspec.UNSET)),
            "ReserveItem.quantity must be an int, not UnsetType",
        ),
        (
            lambda: ReserveItem(cart_item_id="i", quantity=wrong(1.5)),
            "ReserveItem.quantity must be an int, not float",
        ),
        (
            lambda: ConfirmItem(cart_item_id="i", quantity=wrong(False)),
            "ConfirmItem.quantity must be an int, not bool",
        ),
        (
            lambda: ReserveItem(cart_item_id="i", quantity=-3),
            "ReserveItem.quantity must be at least 1",
        ),
        (
            lambda: ReserveRequest(
                cart_id="c", items=[RESERVE_ITEM], is_pay_pal_payment=wrong("yes")
            ),
            "ReserveRequest.is_pay_pal_payment must be a bool, not str",
        ),
        (
            lambda: ReserveRequest(cart_id="c", items=wrong(iter([RESERVE_ITEM]))),
            "ReserveRequest.items must be a sequence of ReserveItem, not list_iterator",
        ),
        (
            lambda: ReserveRequest(cart_id="c", items=wrong("ab")),
            "ReserveRequest.items must be a sequence of ReserveItem, not str",
        ),
        (
            lambda: ReserveRequest(cart_id="c", items=wrong([RESERVE_ITEM, 7])),
            "ReserveRequest.items[1] must be a ReserveItem, not int",
        ),
        (
            lambda: ReserveRequest(cart_id="c", items=()),
            "ReserveRequest.items must hold at least one item",
        ),
        (
            lambda: PlacementsRequest(cart_id="c", page_identifier=wrong(b"p")),
            "PlacementsRequest.page_identifier must be a str, not bytes",
        ),
    ],
)
def test_check_message_names_field_and_type_when_refused(
    build: Callable[[], object], message: str
) -> None:
    """Each refusal is a RequestValidationError with the whole expected message."""
    with pytest.raises(RequestValidationError) as caught:
        build()
    assert str(caught.value) == message
