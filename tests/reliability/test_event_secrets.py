"""Event API secrets stay secret: the secret key, the app secret and the token.

Canary credentials go through every fault the emulator has, on ``events`` and on
``token``, with DEBUG logging on; no log record, repr, message, exception chain or
formatted traceback a user can see may show any of them.
"""

from __future__ import annotations

import datetime
import logging
import traceback
from typing import TYPE_CHECKING, Final

import pytest

from rokt_async import (
    NO_WAIT_RETRY,
    BasicCredentials,
    Event,
    OAuthCredentials,
    RoktClient,
    Timeouts,
)
from tests.conftest import error_chain

if TYPE_CHECKING:
    from rokt_async import EventsResult
    from rokt_async.emulator import Emulator

SECRET_CANARY: Final = "rsec-CANARY-9f3a"
APP_CANARY: Final = "app-CANARY-77c1"
KINDS: Final = (
    "504_before",
    "504_after",
    "500",
    "502_html",
    "503_retry_after",
    "reset_before",
    "reset_after",
    "truncate",
    "idle_close",
)


def one_event() -> list[Event]:
    now = datetime.datetime.now(datetime.UTC)
    return [Event(client_event_id="e-1", event_type="conversion", event_time=now)]


def shown(result: EventsResult, rokt: RoktClient) -> list[str]:
    """Everything about a result a user could print."""
    texts = [repr(result), str(result), repr(rokt)]
    for failed in result.failed:
        for error in error_chain(failed.error):
            texts += [repr(error), str(error)]
            texts += traceback.format_exception(error)
    return texts


@pytest.mark.parametrize("endpoint", ["events", "token"])
@pytest.mark.parametrize("kind", KINDS)
async def test_no_event_secret_is_shown_whatever_the_failure(
    emulator: Emulator, caplog: pytest.LogCaptureFixture, endpoint: str, kind: str
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.set_event_credentials(
        event_keys={"rpub-canary": SECRET_CANARY}, oauth_apps={"app": APP_CANARY}
    )
    params = {"retry_after": 0.0} if kind == "503_retry_after" else {}
    emulator.faults.set_rate(endpoint, kind, 1.0, **params)
    texts: list[str] = []
    for credentials in (
        BasicCredentials("rpub-canary", SECRET_CANARY),
        OAuthCredentials("app", APP_CANARY),
    ):
        rokt = RoktClient(
            base_url=emulator.url,
            event_credentials=credentials,
            retry=NO_WAIT_RETRY,
            timeouts=Timeouts(connect=1.0, response=1.0),
        )
        async with rokt:
            result = await rokt.send_events(one_event(), account_id="1", timeout=2.0)
        texts += [*shown(result, rokt), repr(credentials), str(credentials)]
    emulator.faults.clear()
    tokens = [
        r.headers["authorization"].split()[-1]
        for r in emulator.requests("events")
        if r.headers.get("authorization", "").lower().startswith("bearer ")
    ]
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.args) for record in caplog.records]
    for secret in (SECRET_CANARY, APP_CANARY, *tokens):
        leaks = [text for text in texts if secret in text]
        assert not leaks, f"{secret!r} shown in {leaks[0][:200]!r}"
