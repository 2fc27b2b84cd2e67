"""The Event API's wire schema, written from ``rokt-api.md`` (sections a-d), not
from the client: request Structs for ``POST /v1/events`` and ``/v2/events``, and
every answer of those paths and of ``POST /auth/oauth2/token``.

Requests are strict, as the cart endpoints' are: unknown fields are refused at
every level, ``null`` is refused where a value is expected, and the documented
limits are Struct constraints, so msgspec names the field that broke one
(``... - at `$.events[2].clientEventId```):

- ``accountId``: a non-empty string of at most 64 characters.
- ``events``: 1 to 100 events.
- ``clientEventId``: non-empty, at most 36 characters; ``eventType``: non-empty,
  at most 128; ``eventTime``: a string (its format and window are checked by
  ``_event_rules``, which knows the clock).
- ``objectData`` / ``metaData``: optional lists of ``{name, value}`` strings;
  names non-empty (``metaData`` names at most 256 characters), values at most
  65,536 characters; an ``objectData`` name starting with ``rokt.`` in any case
  is reserved and refused.

Answers (``ENCODER``, keys in this order):

- accepted: ``{"data": {"unprocessedRecords": [...]}}``, the list empty when
  every event was taken; each entry ``{"error": {"code", "message"}, "record":
  <the event exactly as received>}``.
- refused: ``{"data": {"code", "message"}}`` (the newer error-codes page).
- token: one of the three shapes in ``_event_settings``; token errors are
  OAuth 2.0's ``{"error": "invalid_client"}`` and the like.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec
from msgspec import UNSET, UnsetType

__all__ = [
    "ENCODER",
    "EVENTS_REQUEST",
    "RAW_EVENTS",
    "DocsToken",
    "ErrorData",
    "EventObject",
    "EventsData",
    "EventsError",
    "EventsRequest",
    "EventsResponse",
    "MetaDatum",
    "NoExpiryToken",
    "OAuthError",
    "ObjectDatum",
    "RawEvents",
    "RecordError",
    "StandardToken",
    "UnprocessedRecord",
]

Name = Annotated[str, msgspec.Meta(min_length=1)]
MetaName = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Value = Annotated[str, msgspec.Meta(max_length=65_536)]
AccountId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
ClientEventId = Annotated[str, msgspec.Meta(min_length=1, max_length=36)]
EventType = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]

#: objectData names starting with this, in any case, are Rokt's own.
RESERVED_PREFIX: Final = "rokt."


class _In(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A request body (or part of one): unknown fields refused, immutable."""


class _Out(msgspec.Struct, frozen=True, kw_only=True):
    """An answer body (or part of one): every field always present."""


# --- requests -----------------------------------------------------------------------


class ObjectDatum(_In, frozen=True, kw_only=True, rename={"name": "name"}):
    """``{name, value}`` of ``objectData``; ``rokt.``-prefixed names are reserved."""

    name: Name
    value: Value

    def __post_init__(self) -> None:
        if self.name[: len(RESERVED_PREFIX)].lower() == RESERVED_PREFIX:
            raise ValueError("objectData names starting with `rokt.` are reserved")


class MetaDatum(_In, frozen=True, kw_only=True, rename={"name": "name"}):
    """``{name, value}`` of ``metaData``: a name of at most 256 characters."""

    name: MetaName
    value: Value


class EventObject(
    _In,
    frozen=True,
    kw_only=True,
    rename={
        "client_event_id": "clientEventId",
        "event_type": "eventType",
        "event_time": "eventTime",
        "object_data": "objectData",
        "meta_data": "metaData",
    },
):
    """One event of a batch."""

    client_event_id: ClientEventId
    event_type: EventType
    event_time: str
    object_data: tuple[ObjectDatum, ...] | UnsetType = UNSET
    meta_data: tuple[MetaDatum, ...] | UnsetType = UNSET


class EventsRequest(
    _In,
    frozen=True,
    kw_only=True,
    rename={"account_id": "accountId", "events": "events"},
):
    """Body of ``POST /v1/events`` and ``POST /v2/events``."""

    account_id: AccountId
    events: Annotated[
        tuple[EventObject, ...], msgspec.Meta(min_length=1, max_length=100)
    ]


class RawEvents(msgspec.Struct, frozen=True):
    """The same body, each event kept as the bytes received (other keys ignored)."""

    events: tuple[msgspec.Raw, ...]


# --- answers ------------------------------------------------------------------------


class RecordError(_Out, frozen=True, kw_only=True):
    """Why one record was not processed."""

    code: str
    message: str


class UnprocessedRecord(_Out, frozen=True, kw_only=True):
    """A refused event inside a 200: the reason and the event as received."""

    error: RecordError
    record: msgspec.Raw


class EventsData(
    _Out,
    frozen=True,
    kw_only=True,
    rename={"unprocessed_records": "unprocessedRecords"},
):
    """``data`` of an accepted batch."""

    unprocessed_records: tuple[UnprocessedRecord, ...]


class EventsResponse(_Out, frozen=True, kw_only=True):
    """``{"data": {"unprocessedRecords": [...]}}``."""

    data: EventsData


class ErrorData(_Out, frozen=True, kw_only=True):
    """``data`` of a refused request."""

    code: str
    message: str


class EventsError(_Out, frozen=True, kw_only=True):
    """``{"data": {"code", "message"}}``."""

    data: ErrorData


class StandardToken(_Out, frozen=True, kw_only=True):
    """``{"access_token", "token_type", "expires_in"}``."""

    access_token: str
    token_type: str
    expires_in: int


class NoExpiryToken(_Out, frozen=True, kw_only=True):
    """``{"access_token", "token_type"}``: no lifetime given."""

    access_token: str
    token_type: str


class DocsToken(
    _Out, frozen=True, kw_only=True, rename={"access_token": "Access_token"}
):
    """``{"Access_token"}``, as the docs' sample response spells it."""

    access_token: str


class OAuthError(_Out, frozen=True, kw_only=True):
    """``{"error": "invalid_client"}`` and the other OAuth 2.0 error codes."""

    error: str


ENCODER: Final = msgspec.json.Encoder()
EVENTS_REQUEST: Final = msgspec.json.Decoder(EventsRequest)
RAW_EVENTS: Final = msgspec.json.Decoder(RawEvents)
