"""Checking a ``send_events`` call and cutting it into batches Rokt accepts.

A batch holds at most 100 events and 262,144 bytes of body, envelope included,
in input order. Each event is encoded once: the body is the encoded events
joined into the envelope, byte for byte what encoding the whole ``EventBatch``
gives, so its size is known before it is built.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ._codec import ENCODER
from ._errors import RequestValidationError
from ._event_models import Event, EventBatch, WireEvent

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_EVENTS",
    "Batch",
    "make_batch",
    "plan_batches",
]

MAX_BATCH_EVENTS: Final = 100
MAX_BATCH_BYTES: Final = 262_144
MAX_ACCOUNT_ID: Final = 64
#: Rokt refuses events more than 5 minutes ahead or older than 18 months.
MAX_AHEAD: Final = datetime.timedelta(minutes=5)
MAX_AGE: Final = datetime.timedelta(days=548)


@dataclass(frozen=True, slots=True)
class Batch:
    """One request's worth of events, its body, and (``/v1``) its key, the same
    on every attempt of this batch."""

    account_id: str
    wire: tuple[WireEvent, ...]
    payload: bytes
    idempotency_key: str

    @property
    def client_event_ids(self) -> tuple[str, ...]:
        return tuple(event.client_event_id for event in self.wire)

    def request(self) -> EventBatch:
        """The batch as a request Struct (for ``OutcomeUnknownError.request``)."""
        return EventBatch(account_id=self.account_id, events=self.wire)


def check_account_id(account_id: object) -> str:
    if not isinstance(account_id, str):
        raise RequestValidationError(
            f"account_id must be a str, not {type(account_id).__name__}"
        )
    if not account_id:
        raise RequestValidationError("account_id must not be empty")
    if len(account_id) > MAX_ACCOUNT_ID:
        raise RequestValidationError(
            f"account_id is {len(account_id)} characters; at most {MAX_ACCOUNT_ID}"
        )
    return account_id


def check_time(event: Event, where: str, now: datetime.datetime) -> None:
    """Refuse an event Rokt would refuse for its time, measured on our clock."""
    when = event.utc_time
    if when > now + MAX_AHEAD:
        raise RequestValidationError(
            f"{where}.event_time is more than 5 minutes ahead of this machine's clock"
        )
    if when < now - MAX_AGE:
        raise RequestValidationError(f"{where}.event_time is older than 548 days")


def check_event(event: object, where: str, now: datetime.datetime) -> Event:
    if not isinstance(event, Event):
        raise RequestValidationError(
            f"{where} must be an Event, not {type(event).__name__}"
        )
    check_time(event, where, now)
    return event


class Envelope:
    """``{"accountId":…,"events":[`` and ``]}`` around the encoded events."""

    __slots__ = ("head", "size")

    def __init__(self, account_id: str) -> None:
        self.head = b'{"accountId":' + ENCODER.encode(account_id) + b',"events":['
        self.size = len(self.head) + 2  # ... plus b"]}"

    def body(self, parts: list[bytes]) -> bytes:
        return self.head + b",".join(parts) + b"]}"

    def fits(self, count: int, size: int, part: int) -> bool:
        """Whether one more event of ``part`` bytes fits a batch of ``count``
        events whose parts add up to ``size`` bytes."""
        added = size + part + count  # a comma between each pair
        return count < MAX_BATCH_EVENTS and self.size + added <= MAX_BATCH_BYTES


def encode_event(
    event: Event, where: str, envelope: Envelope
) -> tuple[WireEvent, bytes]:
    """The event on the wire and its bytes; refused if alone it passes the limit."""
    wire = event.wire()
    part = ENCODER.encode(wire)
    if envelope.size + len(part) > MAX_BATCH_BYTES:
        raise RequestValidationError(
            f"{where} encodes to {len(part)} bytes; a request's body is at most"
            f" {MAX_BATCH_BYTES} bytes, envelope included"
        )
    return wire, part


def plan_batches(
    events: Iterable[Event], account_id: str, now: datetime.datetime
) -> list[Batch]:
    """Check every event of a call, then cut them into batches, in input order.

    Raises:
        RequestValidationError: naming the first event (by index) that breaks a
            rule; nothing is sent.
    """
    envelope = Envelope(check_account_id(account_id))
    seen: dict[str, int] = {}
    batches: list[Batch] = []
    wires: list[WireEvent] = []
    parts: list[bytes] = []
    size = 0
    for index, item in enumerate(events):
        where = f"events[{index}]"
        event = check_event(item, where, now)
        first = seen.setdefault(event.client_event_id, index)
        if first != index:
            raise RequestValidationError(
                f"{where}.client_event_id repeats that of events[{first}]"
            )
        wire, part = encode_event(event, where, envelope)
        if parts and not envelope.fits(len(parts), size, len(part)):
            batches.append(make_batch(account_id, envelope, wires, parts))
            wires, parts, size = [], [], 0
        wires.append(wire)
        parts.append(part)
        size += len(part)
    if parts:
        batches.append(make_batch(account_id, envelope, wires, parts))
    return batches


def make_batch(
    account_id: str, envelope: Envelope, wires: list[WireEvent], parts: list[bytes]
) -> Batch:
    """A batch with a fresh Idempotency-Key (``/v1``), kept for all its attempts."""
    return Batch(
        account_id=account_id,
        wire=tuple(wires),
        payload=envelope.body(parts),
        idempotency_key=str(uuid.uuid4()),
    )
