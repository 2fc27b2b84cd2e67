"""The Event API's models: ``Event`` as users build it, and its wire Structs.

``Event`` checks itself when built (the rules about one event); the rules about a
call (unique ids, the time window, the body limit) are checked by ``send_events``
and name the event's index. On the wire an event's ``objectData``/``metaData``
are lists of ``{"name", "value"}`` and ``eventTime`` is RFC 3339 in UTC with
milliseconds and ``Z``.

No ``from __future__ import annotations``: as in ``_models``, the package
re-labels ``Event`` as ``rokt_async.Event`` and msgspec resolves annotations.
"""

import datetime
from collections.abc import Mapping
from typing import Final, cast

import msgspec
from msgspec.structs import force_setattr

from ._errors import RequestValidationError
from ._models import _Request

__all__ = [
    "EVENTS_API_VERSION",
    "Event",
    "EventBatch",
    "EventsAnswer",
    "TokenAnswer",
    "WireEvent",
]

#: The ``Rokt-Version`` header every Event API call sends (Rokt's docs: an empty
#: value means "latest", which may change under you).
EVENTS_API_VERSION: Final = "2020-05-21"

MAX_ID: Final = 36
MAX_EVENT_TYPE: Final = 128
MAX_META_NAME: Final = 256
MAX_VALUE: Final = 65_536
_RESERVED_PREFIX: Final = "rokt."


class _Datum(msgspec.Struct, frozen=True, gc=False):
    name: str
    value: str


class WireEvent(msgspec.Struct, rename="camel", omit_defaults=True, frozen=True):
    """One event as Rokt reads it."""

    client_event_id: str
    event_type: str
    event_time: str
    object_data: tuple[_Datum, ...] = ()
    meta_data: tuple[_Datum, ...] = ()


class EventBatch(_Request, kw_only=True, frozen=True):
    """Body of ``POST /v1/events`` and ``/v2/events``: at most 100 events."""

    account_id: str
    events: tuple[WireEvent, ...]


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One event for Rokt's Event API (a conversion, say).

    Args:
        client_event_id: your id for the event, unique per call (≤ 36 chars); Rokt
            drops repeats of it, so a resend is harmless.
        event_type: e.g. ``"conversion"`` (≤ 128 chars).
        event_time: an aware ``datetime``, or an RFC 3339 string with an offset;
            stored as an aware UTC ``datetime``.
        object_data: what the event is about (``email``, ``transactionid``,
            ``conversiontype``...); names starting ``rokt.`` are Rokt's.
        meta_data: anything else, names ≤ 256 chars.

    Raises:
        RequestValidationError: a rule about one event is broken; the message
            names the field, never a value.
    """

    client_event_id: str
    event_type: str
    event_time: datetime.datetime | str
    object_data: Mapping[str, str] | None = None
    meta_data: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        _text("client_event_id", self.client_event_id, MAX_ID)
        _text("event_type", self.event_type, MAX_EVENT_TYPE)
        force_setattr(self, "event_time", _utc(self.event_time))
        for field in ("object_data", "meta_data"):
            data = getattr(self, field)
            if data is not None:
                force_setattr(self, field, _data(field, data))

    def wire(self) -> WireEvent:
        """The event as Rokt reads it."""
        when = self.utc_time
        return WireEvent(
            client_event_id=self.client_event_id,
            event_type=self.event_type,
            event_time=f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z",
            object_data=_pairs(self.object_data),
            meta_data=_pairs(self.meta_data),
        )

    @property
    def utc_time(self) -> datetime.datetime:
        """``event_time`` as the aware UTC ``datetime`` it is stored as."""
        return cast("datetime.datetime", self.event_time)  # made so when built


def _pairs(data: Mapping[str, str] | None) -> tuple[_Datum, ...]:
    if not data:
        return ()
    return tuple(_Datum(name, value) for name, value in data.items())


def _text(field: str, value: object, limit: int) -> None:
    if not isinstance(value, str):
        raise RequestValidationError(
            f"Event.{field} must be a str, not {type(value).__name__}"
        )
    if not value:
        raise RequestValidationError(f"Event.{field} must not be empty")
    if len(value) > limit:
        raise RequestValidationError(
            f"Event.{field} is {len(value)} characters; at most {limit}"
        )


def _utc(value: object) -> datetime.datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value)
        except ValueError:
            raise RequestValidationError(
                "Event.event_time is not an RFC 3339 date and time"
            ) from None
        value = parsed
    if not isinstance(value, datetime.datetime):
        raise RequestValidationError(
            "Event.event_time must be an aware datetime or an RFC 3339 string,"
            f" not {type(value).__name__}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise RequestValidationError(
            "Event.event_time has no UTC offset; give an aware datetime (e.g."
            " datetime.now(UTC)) or a string ending in Z or +hh:mm"
        )
    return value.astimezone(datetime.UTC)


def _data(field: str, data: object) -> dict[str, str]:
    if not isinstance(data, Mapping):
        raise RequestValidationError(
            f"Event.{field} must be a mapping of str to str, not {type(data).__name__}"
        )
    copied: dict[str, str] = {}
    for name, value in data.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise RequestValidationError(f"Event.{field} must map str to str")
        if not name:
            raise RequestValidationError(f"Event.{field} has an empty name")
        if field == "meta_data" and len(name) > MAX_META_NAME:
            raise RequestValidationError(
                f"Event.meta_data has a name of {len(name)} characters;"
                f" at most {MAX_META_NAME}"
            )
        if field == "object_data" and name.lower().startswith(_RESERVED_PREFIX):
            raise RequestValidationError(
                "Event.object_data names starting with 'rokt.' are reserved by Rokt"
            )
        if len(value) > MAX_VALUE:
            raise RequestValidationError(
                f"Event.{field} has a value of {len(value)} characters;"
                f" at most {MAX_VALUE}"
            )
        copied[name] = value
    return copied


# --- answers ---------------------------------------------------------------------


class _Problem(msgspec.Struct, frozen=True, gc=False):
    code: str = ""
    message: str = ""


class _Record(msgspec.Struct, rename="camel", frozen=True, gc=False):
    client_event_id: str = ""


class _Unprocessed(msgspec.Struct, frozen=True, gc=False):
    error: _Problem | None = None
    record: _Record | None = None


class _Accepted(msgspec.Struct, rename="camel", frozen=True, gc=False):
    unprocessed_records: tuple[_Unprocessed, ...] = ()


class EventsAnswer(msgspec.Struct, frozen=True, gc=False):
    """A 2xx of the events endpoints: ``{"data": {"unprocessedRecords": [...]}}``."""

    data: _Accepted | None = None


class EventsErrorBody(msgspec.Struct, frozen=True, gc=False):
    """The Event API's error JSON: ``{"data": {"code", "message"}}``."""

    data: _Problem | None = None


class TokenAnswer(msgspec.Struct, frozen=True, gc=False):
    """``/auth/oauth2/token``'s answer; Rokt's docs spell the key
    ``Access_token``, OAuth servers ``access_token``: both are read."""

    access_token: str | None = None
    access_token_docs: str | None = msgspec.field(default=None, name="Access_token")
    expires_in: float | None = None
    token_type: str | None = None
