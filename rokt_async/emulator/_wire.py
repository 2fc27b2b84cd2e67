"""Bytes in and out: strict request decoders, error bodies, admin bodies. Built once.

Requests are decoded with strict subclasses of the client's own request Structs:
unknown fields are refused (``forbid_unknown_fields``) at every level, and the
models' own ``__post_init__`` checks (at least one item, quantity >= 1, an item
needs ``itemReservationId`` or ``quantity``...) apply, because msgspec turns their
``ValueError`` into a ``ValidationError``. ``strict=False`` accepts numeric
strings where the schema says number (``"quantity": "15"``, as one of Rokt's
published samples sends).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from .._models import (
    CancelRequest,
    ConfirmItem,
    ConfirmRequest,
    PlacementsRequest,
    ReleaseItem,
    ReleaseRequest,
    ReserveItem,
    ReserveRequest,
)

__all__ = [
    "CANCEL",
    "CLOCK",
    "CONFIRM",
    "ENCODER",
    "EVENTS",
    "FAULTS",
    "PLACEMENTS",
    "RELEASE",
    "RESEND",
    "RESERVE",
    "ClockAdvance",
    "FaultClear",
    "FaultFailNext",
    "FaultSetRate",
    "ResendMode",
    "error_body",
]


class _StrictReserveItem(
    ReserveItem, forbid_unknown_fields=True, kw_only=True, frozen=True
):
    """A reserve item that refuses unknown fields."""


class _StrictReserve(
    ReserveRequest, forbid_unknown_fields=True, kw_only=True, frozen=True
):
    """A reserve request that refuses unknown fields."""

    items: tuple[_StrictReserveItem, ...]


class _StrictConfirmItem(
    ConfirmItem, forbid_unknown_fields=True, kw_only=True, frozen=True
):
    """A confirm item that refuses unknown fields."""


class _StrictConfirm(
    ConfirmRequest, forbid_unknown_fields=True, kw_only=True, frozen=True
):
    """A confirm request that refuses unknown fields."""

    items: tuple[_StrictConfirmItem, ...]


class _StrictReleaseItem(
    ReleaseItem, forbid_unknown_fields=True, kw_only=True, frozen=True
):
    """A release item that refuses unknown fields."""


class _StrictRelease(
    ReleaseRequest, forbid_unknown_fields=True, kw_only=True, frozen=True
):
    """A release request that refuses unknown fields."""

    items: tuple[_StrictReleaseItem, ...]


class _StrictCancel(
    CancelRequest, forbid_unknown_fields=True, kw_only=True, frozen=True
):
    """A cancel request that refuses unknown fields."""


class _StrictPlacements(
    PlacementsRequest, forbid_unknown_fields=True, kw_only=True, frozen=True
):
    """A placements request that refuses unknown fields."""


ENCODER: Final = msgspec.json.Encoder()
RESERVE: Final = msgspec.json.Decoder(_StrictReserve, strict=False)
CONFIRM: Final = msgspec.json.Decoder(_StrictConfirm, strict=False)
RELEASE: Final = msgspec.json.Decoder(_StrictRelease, strict=False)
CANCEL: Final = msgspec.json.Decoder(_StrictCancel, strict=False)
PLACEMENTS: Final = msgspec.json.Decoder(_StrictPlacements, strict=False)
#: The Event API: any JSON object is accepted; values are left undecoded.
EVENTS: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])


# --- error bodies -------------------------------------------------------------------


class _ErrorDetail(msgspec.Struct, frozen=True):
    """One entry of ``errors``; every key is always present, ``value`` may be null."""

    code: str
    message: str
    value: Any = None


class _ErrorBody(msgspec.Struct, frozen=True):
    """Rokt's error JSON: ``{"description": ..., "errors": [...]}``."""

    description: str
    errors: tuple[_ErrorDetail, ...]


def error_body(description: str, errors: list[tuple[str, str, Any]]) -> bytes:
    """Rokt's error JSON for ``(code, message, value)`` triples."""
    details = tuple(
        _ErrorDetail(code, message, value) for code, message, value in errors
    )
    return ENCODER.encode(_ErrorBody(description, details))


# --- admin bodies -------------------------------------------------------------------


class FaultFailNext(
    msgspec.Struct, tag_field="action", tag="fail_next", forbid_unknown_fields=True
):
    """``{"action": "fail_next", "endpoint", "kind", "count"?, "params"?}``."""

    endpoint: str
    kind: str
    count: int = 1
    params: dict[str, float] = msgspec.field(default_factory=dict)


class FaultSetRate(
    msgspec.Struct, tag_field="action", tag="set_rate", forbid_unknown_fields=True
):
    """``{"action": "set_rate", "endpoint", "kind", "rate", "params"?}``."""

    endpoint: str
    kind: str
    rate: float
    params: dict[str, float] = msgspec.field(default_factory=dict)


class FaultClear(
    msgspec.Struct, tag_field="action", tag="clear", forbid_unknown_fields=True
):
    """``{"action": "clear", "endpoint"?}``: every fault, or one endpoint's."""

    endpoint: str | None = None


class ClockAdvance(msgspec.Struct, forbid_unknown_fields=True):
    """``{"advance": seconds}``."""

    advance: float


class ResendMode(msgspec.Struct, forbid_unknown_fields=True):
    """``{"mode": "replay" | "reject" | "duplicate"}``."""

    mode: str


FAULTS: Final = msgspec.json.Decoder(FaultFailNext | FaultSetRate | FaultClear)
CLOCK: Final = msgspec.json.Decoder(ClockAdvance)
RESEND: Final = msgspec.json.Decoder(ResendMode)
