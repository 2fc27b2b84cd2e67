"""What we compare against: pydantic v2 models of our payloads, and stdlib json.

pydantic, httpx and sniffio are benchmark-only (``requirements-bench.txt``); the
CI's type check runs without them, so this module tells mypy that a missing
import is fine here (and that a class then derives from ``Any``). With them
installed, everything below is fully type-checked.
"""
# mypy: disable-error-code="import-not-found,misc"

from __future__ import annotations

import datetime  # noqa: TC003 - pydantic reads annotations at run time

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = [
    "ConfirmItemModel",
    "ConfirmRequestModel",
    "ConfirmResponseModel",
    "ReserveResponseModel",
]


class _Wire(BaseModel):
    """camelCase on the wire, snake_case in Python, like our msgspec models."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class ConfirmItemModel(_Wire):
    cart_item_id: str
    item_reservation_id: str | None = None
    quantity: int | None = None


class ConfirmRequestModel(_Wire):
    cart_id: str
    order_id: str
    items: tuple[ConfirmItemModel, ...]
    pay_pal_order_id: str | None = None
    merchant_id: str | None = None
    attributes: dict[str, str] | None = None


class ConfirmedItemModel(_Wire):
    cart_item_id: str
    success: bool
    item_reservation_id: str | None = None
    item_confirmation_id: str | None = None
    item_confirmation_url: str | None = None


class ConfirmResponseModel(_Wire):
    cart_id: str
    order_id: str
    items: tuple[ConfirmedItemModel, ...] = ()


class ReservedItemModel(_Wire):
    cart_item_id: str
    item_reservation_id: str
    quantity: int
    unit_price: float
    total_price: float
    currency: str
    expiration_date_time_utc: datetime.datetime


class ReserveResponseModel(_Wire):
    cart_id: str
    items: tuple[ReservedItemModel, ...] = ()
