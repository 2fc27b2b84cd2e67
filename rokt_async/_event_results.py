"""What ``send_events`` returns: delivered, refused inside a 200, failed batches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._errors import RoktError

__all__ = ["EventsResult", "FailedBatch", "UnprocessedEvent"]


@dataclass(frozen=True, slots=True)
class UnprocessedEvent:
    """An event Rokt accepted the request for but did not process."""

    client_event_id: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class FailedBatch:
    """A batch that ended in an error: none of its events is known delivered.

    ``error`` is typed as every other call's (``APIError`` with ``.body``,
    ``TransportError``, ``OutcomeUnknownError``...); sending the same events
    again is safe (``clientEventId`` and, on ``/v1``, the batch's key dedupe).
    """

    error: RoktError
    client_event_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EventsResult:
    """The outcome of one ``send_events`` call, every event accounted for:
    ``delivered + len(unprocessed) + sum(len(f.client_event_ids) for f in
    failed) == events sent``.

    Attributes:
        delivered: events Rokt accepted (a 409 on ``/v1`` counts: the batch's
            key was delivered before).
        unprocessed: events Rokt refused inside a 200, with its code and message.
        failed: batches that ended in an error, with the ids they held.
        batches: requests the call was split into.
    """

    delivered: int
    unprocessed: tuple[UnprocessedEvent, ...]
    failed: tuple[FailedBatch, ...]
    batches: int

    @property
    def is_complete(self) -> bool:
        """True when every event was accepted."""
        return not self.unprocessed and not self.failed

    def raise_for_failures(self) -> None:
        """Raise the first failed batch's error; return if no batch failed."""
        if self.failed:
            raise self.failed[0].error
