"""The Event API's request rules that need more than a Struct: headers, body size,
UTF-8, and ``eventTime`` against the emulator's clock.

Each check answers None when the request passes, or a ``Refusal``: the status,
the error code from Rokt's error-codes page and a message naming the header or
the field (``... - at `$.events[3].eventTime```). No message echoes a value the
client sent except the ``Rokt-Version`` it asked for.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import msgspec

from ._event_schema import EVENTS_REQUEST, RAW_EVENTS, EventsRequest

if TYPE_CHECKING:
    from multidict import CIMultiDictProxy

__all__ = [
    "BODY_READ",
    "JSON_UNMARSHAL",
    "MAX_BODY_BYTES",
    "MAX_FUTURE",
    "MAX_PAST",
    "ROKT_VERSION",
    "UNAUTHORIZED",
    "VALIDATION",
    "Refusal",
    "check_headers",
    "decode_batch",
    "parse_event_time",
]

#: The one ``Rokt-Version`` the emulator speaks; an absent or empty header means
#: "latest", which is this one too.
ROKT_VERSION: Final = "2020-05-21"
#: Largest body accepted, in bytes (256 KiB).
MAX_BODY_BYTES: Final = 262_144
#: How far ``eventTime`` may run ahead of the emulator's clock, and lag behind it.
MAX_FUTURE: Final = datetime.timedelta(minutes=5)
MAX_PAST: Final = datetime.timedelta(days=548)

BODY_READ: Final = "RequestBodyReadError"
JSON_UNMARSHAL: Final = "RequestJsonUnmarshalError"
VALIDATION: Final = "RequestValidationError"
UNAUTHORIZED: Final = "UnauthorizedError"

#: RFC 3339 ``date-time``: a ``T`` (either case), whole seconds, an optional
#: fraction, and ``Z`` or ``±hh:mm`` (no naive times, no ``+hhmm``).
_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: the status, Rokt's error code, a message."""

    status: int
    code: str
    message: str


def check_headers(headers: CIMultiDictProxy[str], content_type: str) -> Refusal | None:
    """``Content-Type``, ``Rokt-Version`` and ``Charset``, after authentication.

    ``Content-Type`` must be ``application/json`` (parameters allowed).
    ``Rokt-Version`` absent or empty means the latest; any other value than
    ``2020-05-21`` is refused. ``Charset``, which the docs list, may be absent;
    present, it must say ``utf-8``.
    """
    if content_type != "application/json":
        return Refusal(400, VALIDATION, "Content-Type must be application/json")
    version = headers.get("Rokt-Version", "")
    if version and version != ROKT_VERSION:
        return Refusal(
            400,
            VALIDATION,
            f"Rokt-Version {version[:32]!r} is not supported; use {ROKT_VERSION}",
        )
    charset = headers.get("Charset")
    if charset is not None and charset.strip().lower() not in ("utf-8", "utf8"):
        return Refusal(400, VALIDATION, "Charset must be utf-8")
    return None


def parse_event_time(text: str) -> datetime.datetime | None:
    """An RFC 3339 ``date-time`` with an offset as an aware datetime, or None."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, oh, om = (
        match.groups()
    )
    if zulu:
        zone = datetime.UTC
    else:
        hours, minutes = int(oh), int(om)
        if hours > 23 or minutes > 59:
            return None
        offset = datetime.timedelta(hours=hours, minutes=minutes)
        zone = datetime.timezone(-offset if sign == "-" else offset)
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        return datetime.datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            micros,
            tzinfo=zone,
        )
    except ValueError:  # month 13, February 30th, second 60...
        return None


def _time_refusal(batch: EventsRequest, now: float) -> Refusal | None:
    clock = datetime.datetime.fromtimestamp(now, tz=datetime.UTC)
    for index, event in enumerate(batch.events):
        where = f" - at `$.events[{index}].eventTime`"
        when = parse_event_time(event.event_time)
        if when is None:
            return Refusal(
                400,
                VALIDATION,
                "eventTime must be an RFC 3339 date-time with an offset "
                "(Z or +hh:mm)" + where,
            )
        if when > clock + MAX_FUTURE:
            return Refusal(
                400,
                VALIDATION,
                "eventTime is more than 5 minutes in the future" + where,
            )
        if when < clock - MAX_PAST:
            return Refusal(
                400, VALIDATION, "eventTime is more than 548 days old" + where
            )
    return None


def decode_batch(
    body: bytes, now: float
) -> tuple[EventsRequest, tuple[msgspec.Raw, ...]] | Refusal:
    """The batch and each event's bytes as received, or why it is refused.

    In order: more than ``MAX_BODY_BYTES`` or not UTF-8 → ``RequestBodyReadError``;
    not JSON → ``RequestJsonUnmarshalError``; a broken schema rule (types,
    unknown or missing fields, limits) or an ``eventTime`` out of format or
    window → ``RequestValidationError``. All 400.
    """
    if len(body) > MAX_BODY_BYTES:
        return Refusal(
            400, BODY_READ, f"request body is larger than {MAX_BODY_BYTES} bytes"
        )
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(400, BODY_READ, "request body is not valid UTF-8")
    try:
        batch = EVENTS_REQUEST.decode(body)
    except msgspec.ValidationError as exc:
        return Refusal(400, VALIDATION, str(exc))
    except msgspec.DecodeError:
        return Refusal(400, JSON_UNMARSHAL, "unable to unmarshal request body")
    refused = _time_refusal(batch, now)
    if refused is not None:
        return refused
    return batch, RAW_EVENTS.decode(body).events
