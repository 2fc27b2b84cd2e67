"""The bench's conversion events: one per confirmed order, through the background
sender, and what became of them.

A partner's backend reports a purchase to Rokt's Event API once the order is
confirmed, without waiting on Rokt: ``Conversions.record`` builds the event and
``sender.add``s it. Its ``client_event_id`` is a 32-hex-digit digest of the order
id, so it is deterministic, unique per run (the order id holds the run id) and
within the API's 36 characters. The credentials pick the API generation:
``oauth`` sends to ``/v1/events`` (a token, and an ``Idempotency-Key`` per batch:
each event applied once), ``basic`` to ``/v2/events`` (at least once).
"""

from __future__ import annotations

import datetime
import hashlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

import msgspec

from .. import BasicCredentials, Event, OAuthCredentials, RoktError
from ..emulator import DEFAULT_EVENT_KEYS, DEFAULT_OAUTH_APPS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .. import EventSender, EventSenderStats

__all__ = [
    "BASIC",
    "DEFAULT_ACCOUNT_ID",
    "EMULATOR_EVENT_CREDENTIALS",
    "EVENT_ENV",
    "EVENT_MODES",
    "EVENT_PATHS",
    "FLUSH_INTERVAL",
    "OAUTH",
    "OFF",
    "Conversions",
    "EventCounts",
    "client_event_id",
    "event_credentials",
]

#: ``--events`` values: the credentials to send with, or none at all.
OAUTH: Final = "oauth"
BASIC: Final = "basic"
OFF: Final = "off"
EVENT_MODES: Final = (OAUTH, BASIC, OFF)
#: Where each mode's events go.
EVENT_PATHS: Final[Mapping[str, str]] = MappingProxyType(
    {OAUTH: "/v1/events", BASIC: "/v2/events"}
)
#: The environment variables holding each mode's (id, secret) for ``--base-url``:
#: the names ``RoktClient.from_env`` reads.
EVENT_ENV: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        OAUTH: ("ROKT_EVENT_APP_ID", "ROKT_EVENT_APP_SECRET"),
        BASIC: ("ROKT_EVENT_PUBLIC_KEY", "ROKT_EVENT_SECRET_KEY"),
    }
)
#: What an emulator accepts unless told otherwise (public test values), sent to
#: a loopback ``--base-url`` when the environment names none.
EMULATOR_EVENT_CREDENTIALS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        OAUTH: next(iter(DEFAULT_OAUTH_APPS.items())),
        BASIC: next(iter(DEFAULT_EVENT_KEYS.items())),
    }
)
DEFAULT_ACCOUNT_ID: Final = "12345"
#: Seconds between the sender's flushes: small, so events follow their orders
#: closely and few are still queued when a phase ends.
FLUSH_INTERVAL: Final = 0.2
_EVENT_TYPE: Final = "conversion"


def client_event_id(order_id: str) -> str:
    """The event id of an order's conversion: 32 hex digits, the same every time."""
    return hashlib.blake2b(order_id.encode(), digest_size=16).hexdigest()


def event_credentials(
    mode: str, name: str, secret: str
) -> BasicCredentials | OAuthCredentials | None:
    """The client's ``event_credentials`` for ``--events`` ``mode`` (None: off).

    Args:
        mode: ``oauth``, ``basic`` or ``off``.
        name: the app id (oauth) or public key (basic).
        secret: the app secret or secret key.
    """
    if mode == OAUTH:
        return OAuthCredentials(name, secret)
    if mode == BASIC:
        return BasicCredentials(public_key=name, secret_key=secret)
    return None


class EventCounts(msgspec.Struct, kw_only=True):
    """Conversion events the background sender handled; merged across processes.

    Attributes:
        added: events ``sender.add`` took (whole run, warm-up included).
        refused: events ``sender.add`` refused (a full queue); never sent.
        delivered: events Rokt accepted.
        unprocessed: events refused inside a 200 (unprocessed records).
        undelivered: events whose batch failed, or still pending at close.
        failed: the part of ``undelivered`` whose batch ended in an error.
        batches_sent: batches the sender started.
        measured_delivered: events delivered during the measured phase.
        measured_batches: batches started during the measured phase.
    """

    added: int = 0
    refused: int = 0
    delivered: int = 0
    unprocessed: int = 0
    undelivered: int = 0
    failed: int = 0
    batches_sent: int = 0
    measured_delivered: int = 0
    measured_batches: int = 0

    def add(self, other: EventCounts) -> None:
        """Add ``other``'s counts to these."""
        for name in self.__struct_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def accounted(self) -> int:
        """Events that ended somewhere: delivered, unprocessed or undelivered."""
        return self.delivered + self.unprocessed + self.undelivered


class Conversions:
    """Records one conversion per confirmed order on an open ``EventSender``."""

    __slots__ = ("_measured_from", "refused", "sender")

    def __init__(self, sender: EventSender) -> None:
        self.sender = sender
        self.refused = 0
        self._measured_from: EventSenderStats | None = None

    def record(self, order_id: str, email: str) -> None:
        """Queue the order's conversion event; never waits on Rokt.

        A full queue (``EventQueueFullError``) or a refused event is counted in
        ``refused``, not raised: the checkout itself went through.
        """
        event = Event(
            client_event_id=client_event_id(order_id),
            event_type=_EVENT_TYPE,
            event_time=datetime.datetime.now(datetime.UTC),
            object_data={
                "email": email,
                "transactionid": order_id,
                "conversiontype": "purchase",
            },
        )
        try:
            self.sender.add(event)
        except RoktError:
            self.refused += 1

    def start_measuring(self) -> None:
        """Mark the start of the measured phase."""
        self._measured_from = self.sender.stats

    def counts(self, measured_to: EventSenderStats) -> EventCounts:
        """The whole run's counts, with the measured phase ending at
        ``measured_to``; read after the sender closed."""
        stats = self.sender.stats
        start = self._measured_from or measured_to
        return EventCounts(
            added=stats.added,
            refused=self.refused,
            delivered=stats.delivered,
            unprocessed=stats.unprocessed,
            undelivered=stats.undelivered,
            failed=stats.failed,
            batches_sent=stats.batches_sent,
            measured_delivered=measured_to.delivered - start.delivered,
            measured_batches=measured_to.batches_sent - start.batches_sent,
        )
