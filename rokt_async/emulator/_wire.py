"""Bytes in and out: strict request decoders, error bodies, admin bodies. Built once.

API requests are decoded into the emulator's own Structs (``_schema``), never the
client's: unknown fields are refused at every level and the schema's constraints
apply (non-empty ids, quantity >= 1, at least one item, a confirm item needs
``itemReservationId`` or ``quantity``). ``strict=False`` accepts numeric strings
where the schema says number (``"quantity": "15"``, as one of Rokt's published
samples sends). Answers are encoded by this module's own ``ENCODER``.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from ._schema import (
    CancelRequest,
    ConfirmRequest,
    PlacementsRequest,
    ReleaseRequest,
    ReserveRequest,
)

__all__ = [
    "CANCEL",
    "CLOCK",
    "CONFIRM",
    "ENCODER",
    "EVENT_CREDENTIALS",
    "EVENT_SETTINGS",
    "FAULTS",
    "PLACEMENTS",
    "RELEASE",
    "RESEND",
    "RESERVE",
    "ClockAdvance",
    "EventCredentialIds",
    "EventCredentials",
    "EventSettingsCommand",
    "FaultClear",
    "FaultFailNext",
    "FaultSetRate",
    "ResendMode",
    "error_body",
]


ENCODER: Final = msgspec.json.Encoder()
RESERVE: Final = msgspec.json.Decoder(ReserveRequest, strict=False)
CONFIRM: Final = msgspec.json.Decoder(ConfirmRequest, strict=False)
RELEASE: Final = msgspec.json.Decoder(ReleaseRequest, strict=False)
CANCEL: Final = msgspec.json.Decoder(CancelRequest, strict=False)
PLACEMENTS: Final = msgspec.json.Decoder(PlacementsRequest, strict=False)


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


class EventCredentials(msgspec.Struct, forbid_unknown_fields=True):
    """``{"event_keys"?: {public: secret}, "oauth_apps"?: {app_id: secret}}``."""

    event_keys: dict[str, str] | None = None
    oauth_apps: dict[str, str] | None = None


class EventCredentialIds(msgspec.Struct):
    """The accepted ids, never the secrets: ``{"event_keys", "oauth_apps"}``."""

    event_keys: list[str]
    oauth_apps: list[str]


class EventSettingsCommand(msgspec.Struct, forbid_unknown_fields=True):
    """``{"token_ttl"?, "token_response"?, "refused_event_types"?}``; the answer
    has every field."""

    token_ttl: float | None = None
    token_response: str | None = None
    refused_event_types: list[str] | None = None


FAULTS: Final = msgspec.json.Decoder(FaultFailNext | FaultSetRate | FaultClear)
CLOCK: Final = msgspec.json.Decoder(ClockAdvance)
RESEND: Final = msgspec.json.Decoder(ResendMode)
EVENT_CREDENTIALS: Final = msgspec.json.Decoder(EventCredentials)
EVENT_SETTINGS: Final = msgspec.json.Decoder(EventSettingsCommand)
