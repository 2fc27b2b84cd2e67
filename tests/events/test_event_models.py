"""``Event``: the rules about one event, checked when it is built, and its wire form."""

from __future__ import annotations

import datetime
import json
from typing import Any

import msgspec
import pytest

from rokt_async import Event, RequestValidationError

UTC = datetime.UTC
WHEN = datetime.datetime(2026, 11, 30, 10, 21, 29, 339_000, tzinfo=UTC)


def event(**changes: Any) -> Event:
    fields: dict[str, Any] = {
        "client_event_id": "ff3bd69c-ca74-4337-af91-4d5d0bd00e38",
        "event_type": "conversion",
        "event_time": WHEN,
    }
    fields.update(changes)
    return Event(**fields)


def wire(built: Event) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(msgspec.json.encode(built.wire()))
    return decoded


def test_the_docs_sample_event_encodes_to_the_docs_bytes() -> None:
    """Field names, order, the data lists and the time as the docs' sample has them."""
    built = event(
        object_data={"email": "email123@emailserver.com", "transactionid": "123456789"}
    )
    assert msgspec.json.encode(built.wire()) == (
        b'{"clientEventId":"ff3bd69c-ca74-4337-af91-4d5d0bd00e38",'
        b'"eventType":"conversion","eventTime":"2026-11-30T10:21:29.339Z",'
        b'"objectData":[{"name":"email","value":"email123@emailserver.com"},'
        b'{"name":"transactionid","value":"123456789"}]}'
    )


def test_meta_data_goes_on_the_wire_as_name_value_pairs() -> None:
    assert wire(event(meta_data={"source": "web"}))["metaData"] == [
        {"name": "source", "value": "web"}
    ]


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        (
            datetime.datetime(2026, 11, 30, 12, 0, 0, 5_999, tzinfo=UTC),
            "2026-11-30T12:00:00.005Z",
        ),
        (
            datetime.datetime(
                2026,
                11,
                30,
                12,
                0,
                tzinfo=datetime.timezone(datetime.timedelta(hours=2)),
            ),
            "2026-11-30T10:00:00.000Z",
        ),
        ("2026-11-30T12:00:00+02:00", "2026-11-30T10:00:00.000Z"),
        ("2026-11-30T10:21:29.339Z", "2026-11-30T10:21:29.339Z"),
    ],
)
def test_event_time_is_sent_in_utc_with_milliseconds_and_z(
    given: Any, sent: str
) -> None:
    assert wire(event(event_time=given))["eventTime"] == sent


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"client_event_id": ""}, "client_event_id must not be empty"),
        ({"client_event_id": "x" * 37}, "client_event_id is 37 characters; at most 36"),
        ({"client_event_id": 7}, "client_event_id must be a str, not int"),
        ({"event_type": ""}, "event_type must not be empty"),
        ({"event_type": "t" * 129}, "event_type is 129 characters; at most 128"),
        ({"event_time": datetime.datetime(2026, 11, 30, 10, 0)}, "has no UTC offset"),
        ({"event_time": "2026-11-30T10:00:00"}, "has no UTC offset"),
        ({"event_time": "yesterday"}, "not an RFC 3339 date and time"),
        ({"event_time": 1_764_000_000}, "must be an aware datetime or an RFC 3339"),
        ({"object_data": {"": "v"}}, "object_data has an empty name"),
        ({"object_data": {"Rokt.id": "v"}}, "names starting with 'rokt.' are reserved"),
        ({"object_data": {"rOKT.x": "v"}}, "names starting with 'rokt.' are reserved"),
        ({"object_data": {"email": 5}}, "object_data must map str to str"),
        ({"object_data": [("email", "e")]}, "object_data must be a mapping"),
        (
            {"object_data": {"n": "v" * 65_537}},
            "value of 65537 characters; at most 65536",
        ),
        ({"meta_data": {"m" * 257: "v"}}, "name of 257 characters; at most 256"),
        ({"meta_data": {"": "v"}}, "meta_data has an empty name"),
    ],
)
def test_a_broken_rule_about_one_event_is_refused_when_built(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(RequestValidationError, match=message):
        event(**changes)


def test_limits_themselves_are_accepted() -> None:
    """The longest id, type, meta name and value Rokt allows are fine."""
    built = event(
        client_event_id="x" * 36,
        event_type="t" * 128,
        meta_data={"m" * 256: "v" * 65_536},
        object_data={"rokt": "not reserved: no dot", "myrokt.x": "fine"},
    )
    assert len(wire(built)["metaData"][0]["name"]) == 256


def test_messages_name_the_field_never_the_value() -> None:
    secret = "customer@example.com"
    with pytest.raises(RequestValidationError) as caught:
        event(object_data={"email": secret * 5_000})
    assert secret not in str(caught.value)


def test_the_data_is_copied_when_built() -> None:
    """Changing the caller's dict afterwards does not change the event."""
    data = {"email": "a@example.com"}
    built = event(object_data=data)
    data["email"] = "changed"
    assert wire(built)["objectData"] == [{"name": "email", "value": "a@example.com"}]


def test_event_time_is_stored_as_aware_utc() -> None:
    built = event(event_time="2026-11-30T12:00:00+02:00")
    assert built.event_time == datetime.datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert built.utc_time.utcoffset() == datetime.timedelta(0)
