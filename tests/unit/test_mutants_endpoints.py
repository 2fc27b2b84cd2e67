"""What an event batch is identified by when its outcome is unknown.

Written for the mutants ``make mutate`` left alive in ``_endpoints.py`` (issue
#11). The cart endpoints' identifiers are built at import time and so are out of
mutmut's reach; ``tests/unit/test_retry.py`` checks them.
"""

from __future__ import annotations

from rokt_async import _endpoints
from rokt_async._event_models import EventBatch, WireEvent


def test_event_batch_is_identified_by_account_and_event_count() -> None:
    """Both event endpoints identify a batch by its account id and its size."""
    event = WireEvent(client_event_id="e", event_type="conversion", event_time="t")
    batch = EventBatch(account_id="12345", events=(event, event))
    expected = {"account_id": "12345", "events": "2"}
    assert _endpoints.EVENTS_V1.identifiers(batch) == expected
    assert _endpoints.EVENTS_V2.identifiers(batch) == expected
