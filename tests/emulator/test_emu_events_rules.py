"""The Event API's body rules over real sockets: size, UTF-8, JSON, and every
documented field rule, each on both sides of its limit."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Final

import pytest

from rokt_async.emulator import MAX_BODY_BYTES
from tests.emulator._helpers import T0
from tests.emulator.test_emu_events import (
    ACCEPTED,
    ENCODE,
    NOW,
    batch,
    event,
    refusal,
    send_v2,
)

if TYPE_CHECKING:
    import aiohttp

    from rokt_async.emulator import Emulator


# --- body: size, encoding, JSON -------------------------------------------------------


async def test_body_is_accepted_up_to_256_kib_and_refused_past_it(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """262,144 bytes pass; one more byte is 400 RequestBodyReadError."""
    body = ENCODE(batch())
    full = body + b" " * (MAX_BODY_BYTES - len(body))
    assert (await send_v2(http, emulator, full))[0] == 200
    status, answer = await send_v2(http, emulator, full + b" ")
    assert (status, refusal(answer)[0]) == (400, "RequestBodyReadError")
    assert emulator.ledger().events_applied == 1


async def test_body_gets_400_body_read_error_when_not_utf8(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """Bytes that are not UTF-8 cannot be read."""
    body = ENCODE(batch(event(eventType="caf\u00e9"))).replace(b"\xc3\xa9", b"\xe9")
    status, answer = await send_v2(http, emulator, body)
    assert (status, refusal(answer)[0]) == (400, "RequestBodyReadError")


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b'{"accountId": "1",}'])
async def test_body_gets_400_unmarshal_error_when_not_json(
    emulator: Emulator, http: aiohttp.ClientSession, body: bytes
) -> None:
    """A body that is not JSON is RequestJsonUnmarshalError, with the docs' message."""
    assert await send_v2(http, emulator, body) == (
        400,
        {
            "data": {
                "code": "RequestJsonUnmarshalError",
                "message": "unable to unmarshal request body",
            }
        },
    )


# --- schema rules ---------------------------------------------------------------------

LONG_AGO: Final = (NOW - datetime.timedelta(days=548, seconds=1)).isoformat()
SOON: Final = (NOW + datetime.timedelta(minutes=5, seconds=1)).isoformat()

INVALID: Final[list[tuple[str, Any, str]]] = [
    ("not-object", [batch()], ""),
    ("account-missing", {"events": [event()]}, "accountId"),
    ("account-empty", batch(account=""), "$.accountId"),
    ("account-65", batch(account="1" * 65), "$.accountId"),
    ("account-number", batch(account=12345), "$.accountId"),
    ("events-missing", {"accountId": "1"}, "events"),
    ("events-empty", {"accountId": "1", "events": []}, "$.events"),
    (
        "events-101",
        batch(*[event(clientEventId=str(i)) for i in range(101)]),
        "$.events",
    ),
    ("unknown-top", {**batch(), "test": True}, "test"),
    ("id-missing", batch(event(clientEventId=None)), "clientEventId"),
    ("id-empty", batch(event(clientEventId="")), "$.events[0].clientEventId"),
    ("id-37", batch(event(clientEventId="x" * 37)), "$.events[0].clientEventId"),
    ("type-empty", batch(event(eventType="")), "$.events[0].eventType"),
    ("type-129", batch(event(eventType="t" * 129)), "$.events[0].eventType"),
    ("time-missing", batch(event(eventTime=None)), "eventTime"),
    ("time-naive", batch(event(eventTime="2023-11-14T22:13:20")), "eventTime"),
    ("time-date", batch(event(eventTime="2023-11-14")), "eventTime"),
    ("time-hhmm", batch(event(eventTime="2023-11-14T22:13:20+0000")), "eventTime"),
    ("time-space", batch(event(eventTime="2023-11-14 22:13:20Z")), "eventTime"),
    ("time-month-13", batch(event(eventTime="2023-13-14T22:13:20Z")), "eventTime"),
    ("time-number", batch(event(eventTime=T0)), "eventTime"),
    ("time-future", batch(event(eventTime=SOON)), "$.events[0].eventTime"),
    ("time-old", batch(event(eventTime=LONG_AGO)), "$.events[0].eventTime"),
    ("second-event", batch(event(), event(clientEventId="")), "$.events[1]"),
    ("unknown-event", batch(event(roktId="r")), "roktId"),
    ("data-null", batch(event(metaData=None) | {"metaData": None}), "metaData"),
    ("data-object", batch(event(objectData={"email": "a"})), "objectData"),
    (
        "object-rokt",
        batch(event(objectData=[{"name": "rokt.x", "value": "1"}])),
        "rokt.",
    ),
    (
        "object-ROKT",
        batch(event(objectData=[{"name": "ROKT.Id", "value": "1"}])),
        "rokt.",
    ),
    ("object-name", batch(event(objectData=[{"name": "", "value": "1"}])), "name"),
    ("object-value", batch(event(objectData=[{"name": "n", "value": 1}])), "value"),
    ("object-no-value", batch(event(objectData=[{"name": "n"}])), "value"),
    (
        "object-extra",
        batch(event(objectData=[{"name": "n", "value": "v", "x": 1}])),
        "x",
    ),
    (
        "object-65537",
        batch(event(objectData=[{"name": "n", "value": "v" * 65_537}])),
        "value",
    ),
    ("meta-257", batch(event(metaData=[{"name": "n" * 257, "value": "v"}])), "name"),
    ("meta-name", batch(event(metaData=[{"name": "", "value": "v"}])), "name"),
    (
        "meta-65537",
        batch(event(metaData=[{"name": "n", "value": "v" * 65_537}])),
        "value",
    ),
]


@pytest.mark.parametrize(
    ("body", "field"), [(b, f) for _, b, f in INVALID], ids=[i for i, _, _ in INVALID]
)
async def test_batch_gets_400_naming_the_field_when_a_rule_is_broken(
    emulator: Emulator, http: aiohttp.ClientSession, body: Any, field: str
) -> None:
    """Each documented rule refuses the whole batch with RequestValidationError,
    its message naming the field; nothing is applied."""
    status, answer = await send_v2(http, emulator, body)
    code, message = refusal(answer)
    assert (status, code) == (400, "RequestValidationError")
    assert field in message
    assert emulator.ledger().events_applied == 0


EDGE: Final = (NOW + datetime.timedelta(minutes=5)).isoformat()
OLDEST: Final = (NOW - datetime.timedelta(days=548)).isoformat()

VALID: Final[list[tuple[str, Any]]] = [
    ("account-64", batch(account="1" * 64)),
    ("id-36", batch(event(clientEventId="x" * 36))),
    ("type-128", batch(event(eventType="t" * 128))),
    ("events-100", batch(*[event(clientEventId=str(i)) for i in range(100)])),
    ("no-data", batch(event(objectData=None, metaData=None))),
    ("empty-data", batch(event(objectData=[], metaData=[]))),
    ("time-edge-future", batch(event(eventTime=EDGE))),
    ("time-oldest", batch(event(eventTime=OLDEST))),
    ("time-offset", batch(event(eventTime="2023-11-15T08:13:20+10:00"))),
    ("time-lowercase", batch(event(eventTime="2023-11-14t22:13:20z"))),
    ("time-no-fraction", batch(event(eventTime="2023-11-14T22:13:20Z"))),
    ("time-nanos", batch(event(eventTime="2023-11-14T22:13:20.123456789Z"))),
    ("object-roktish", batch(event(objectData=[{"name": "roktid", "value": "1"}]))),
    ("object-inner-rokt", batch(event(objectData=[{"name": "x.rokt.y", "value": ""}]))),
    ("meta-rokt", batch(event(metaData=[{"name": "rokt.source", "value": "v"}]))),
    ("meta-256", batch(event(metaData=[{"name": "n" * 256, "value": "v"}]))),
    ("value-65536", batch(event(objectData=[{"name": "n", "value": "v" * 65_536}]))),
    (
        "unicode",
        batch(event(eventType="\u00e9" * 128, clientEventId="\U0001f600" * 36)),
    ),
]


@pytest.mark.parametrize("body", [b for _, b in VALID], ids=[i for i, _ in VALID])
async def test_batch_is_accepted_when_fields_sit_on_a_limit(
    emulator: Emulator, http: aiohttp.ClientSession, body: Any
) -> None:
    """Values on each documented limit (characters, not bytes) are accepted."""
    assert await send_v2(http, emulator, body) == (200, ACCEPTED)
    assert emulator.ledger().events_applied == len(body["events"])
