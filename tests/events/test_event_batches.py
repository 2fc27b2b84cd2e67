"""A ``send_events`` call checked as a whole and cut into batches Rokt accepts."""

from __future__ import annotations

import datetime
import json

import msgspec
import pytest

from rokt_async import Event, RequestValidationError
from rokt_async._event_batches import MAX_BATCH_BYTES, plan_batches
from rokt_async._event_models import EventBatch

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def events(count: int, value_size: int = 10, start: int = 0) -> list[Event]:
    return [
        Event(
            client_event_id=f"event-{n}",
            event_type="conversion",
            event_time=NOW,
            object_data={"email": "x" * value_size},
        )
        for n in range(start, start + count)
    ]


def test_250_events_make_three_batches_of_100_100_and_50_in_order() -> None:
    batches = plan_batches(events(250), "12345", NOW)
    assert [len(b.wire) for b in batches] == [100, 100, 50]
    ids = [i for b in batches for i in b.client_event_ids]
    assert ids == [f"event-{n}" for n in range(250)]


def test_a_body_is_exactly_the_encoded_batch() -> None:
    """Joined from each event's bytes, the body equals encoding the whole batch."""
    (batch,) = plan_batches(events(3), "12345", NOW)
    whole = msgspec.json.encode(EventBatch(account_id="12345", events=batch.wire))
    assert batch.payload == whole
    assert json.loads(batch.payload)["accountId"] == "12345"


def test_300_kib_of_events_is_split_by_size_under_256_kib_each() -> None:
    """Twenty 15 KiB events (300 KiB): batches are cut by size, each as full as
    it may be and none over 262,144 bytes."""
    batches = plan_batches(events(20, value_size=15 * 1024), "12345", NOW)
    sizes = [len(b.payload) for b in batches]
    assert len(batches) == 2
    assert all(size <= MAX_BATCH_BYTES for size in sizes)
    # the first batch could not have taken the next event
    part = len(msgspec.json.encode(batches[1].wire[0]))
    assert sizes[0] + part + 1 > MAX_BATCH_BYTES
    assert sum(len(b.wire) for b in batches) == 20


def _sized(n: int, value_size: int, bulk: int = 0) -> Event:
    return Event(
        client_event_id=f"event-{n}",
        event_type="conversion",
        event_time=NOW,
        object_data={"a": "x" * bulk, "b": "x" * bulk, "c": "y" * value_size},
    )


def test_a_batch_filled_to_the_byte_is_kept_whole() -> None:
    """Events that fill the body exactly are one batch; one byte more is two."""
    three = [_sized(n, 0, bulk=40_000) for n in range(3)]
    (head,) = plan_batches(three, "12345", NOW)
    last_empty = len(msgspec.json.encode(_sized(3, 0).wire()))
    room = MAX_BATCH_BYTES - len(head.payload) - 1  # the comma before it
    fill = room - last_empty
    (full,) = plan_batches([*three, _sized(3, fill)], "12345", NOW)
    assert len(full.payload) == MAX_BATCH_BYTES
    over = plan_batches([*three, _sized(3, fill + 1)], "12345", NOW)
    assert [len(b.wire) for b in over] == [3, 1]


def test_one_event_too_big_for_any_batch_is_refused_by_index() -> None:
    big = [
        events(1)[0],
        Event(
            client_event_id="huge",
            event_type="conversion",
            event_time=NOW,
            object_data={f"k{n}": "v" * 60_000 for n in range(5)},
        ),
    ]
    with pytest.raises(
        RequestValidationError, match=r"events\[1\] encodes to \d+ bytes"
    ):
        plan_batches(big, "12345", NOW)


def test_repeated_client_event_ids_are_refused_naming_both_indexes() -> None:
    twice = events(3) + events(1, start=1)
    with pytest.raises(
        RequestValidationError,
        match=r"events\[3\]\.client_event_id repeats that of events\[1\]",
    ):
        plan_batches(twice, "12345", NOW)


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        (
            datetime.timedelta(minutes=5, seconds=1),
            r"events\[0\]\.event_time is more than 5 minutes ahead",
        ),
        (
            -datetime.timedelta(days=548, seconds=1),
            r"events\[0\]\.event_time is older than 548 days",
        ),
    ],
)
def test_the_time_window_is_checked_against_the_local_clock(
    offset: datetime.timedelta, message: str
) -> None:
    late = [Event(client_event_id="e", event_type="t", event_time=NOW + offset)]
    with pytest.raises(RequestValidationError, match=message):
        plan_batches(late, "12345", NOW)


def test_the_edges_of_the_time_window_are_accepted() -> None:
    edges = [
        Event(
            client_event_id="a",
            event_type="t",
            event_time=NOW + datetime.timedelta(minutes=5),
        ),
        Event(
            client_event_id="b",
            event_type="t",
            event_time=NOW - datetime.timedelta(days=548),
        ),
    ]
    assert len(plan_batches(edges, "12345", NOW)[0].wire) == 2


@pytest.mark.parametrize(
    ("account_id", "message"),
    [
        ("", "account_id must not be empty"),
        ("9" * 65, "account_id is 65 characters; at most 64"),
        (12345, "account_id must be a str"),
    ],
)
def test_account_id_rules(account_id: object, message: str) -> None:
    with pytest.raises(RequestValidationError, match=message):
        plan_batches(events(1), account_id, NOW)  # type: ignore[arg-type]


def test_an_item_that_is_not_an_event_is_refused_by_index() -> None:
    with pytest.raises(
        RequestValidationError, match=r"events\[1\] must be an Event, not dict"
    ):
        plan_batches([events(1)[0], {"clientEventId": "x"}], "12345", NOW)  # type: ignore[list-item]


def test_each_batch_has_its_own_idempotency_key() -> None:
    keys = {b.idempotency_key for b in plan_batches(events(250), "12345", NOW)}
    assert len(keys) == 3
