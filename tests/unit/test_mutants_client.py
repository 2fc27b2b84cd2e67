"""RoktClient's own checks, views, repr and leak warning, message by message.

Written for the mutants ``make mutate`` left alive in ``_client.py`` (issue #11).
"""

from __future__ import annotations

import gc
import warnings
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aioresponses import aioresponses
from multidict import CIMultiDict
from yarl import URL

from rokt_async import (
    NO_WAIT_RETRY,
    BasicCredentials,
    ClientClosedError,
    ConfigurationError,
    RequestValidationError,
    RoktClient,
    ServerError,
    UnclosedClientWarning,
)
from rokt_async.testing import FakeTiming
from tests.conftest import A_CONFIRM, A_PLACEMENTS, FAKE_BASE, make_client

PLACEMENTS_URL = f"{FAKE_BASE}/v1/placements/any"
CONTROL = "locale contains a control or non-ASCII character"


def test_locale_with_a_control_character_is_refused_when_built() -> None:
    """The constructor names ``locale`` when its value holds a control character."""
    with pytest.raises(ConfigurationError) as caught:
        make_client(locale="en\r\nX: y")
    assert str(caught.value) == CONTROL


@pytest.mark.parametrize("size", [0, -1])
def test_max_response_bytes_below_one_is_refused(size: int) -> None:
    """``max_response_bytes`` under 1 is a ConfigurationError saying so."""
    with pytest.raises(ConfigurationError) as caught:
        make_client(max_response_bytes=size)
    assert str(caught.value) == "max_response_bytes must be >= 1"


async def test_max_response_bytes_of_one_is_accepted() -> None:
    """One byte is the smallest cap, and it is a usable one."""
    async with make_client(max_response_bytes=1) as client:
        assert not client.is_closed


def test_view_refuses_bad_locale_and_timeout_naming_them() -> None:
    """``with_options`` refuses a control character in ``locale`` and a timeout
    that is not positive, with ConfigurationError messages that name them."""
    client = make_client()
    with pytest.raises(ConfigurationError) as bad_locale:
        client.with_options(locale="fr\n")
    with pytest.raises(ConfigurationError) as bad_timeout:
        client.with_options(timeout=0.0)
    assert str(bad_locale.value) == CONTROL
    assert str(bad_timeout.value) == "timeout must be > 0"


def test_view_uses_the_retry_policy_it_was_given() -> None:
    """A view made with ``retry=`` reports and uses that policy."""
    policy = replace(NO_WAIT_RETRY, max_attempts=2)
    assert make_client().with_options(retry=policy).retry_policy is policy


async def test_view_of_a_view_keeps_locale_and_timeout_it_inherits() -> None:
    """A view made from a view keeps the locale and deadline it did not replace:
    the 0.5 s deadline leaves no room for a 1 s backoff, so one attempt is made."""
    policy = replace(NO_WAIT_RETRY, base_delay=1.0, max_delay=1.0)
    timing = FakeTiming()
    async with make_client(retry=policy, timing=timing) as client:
        first = client.with_options(locale="fr", timeout=0.5)
        with aioresponses() as mocked:
            mocked.post(PLACEMENTS_URL, status=503, repeat=True)
            with pytest.raises(ServerError) as caught:
                await first.with_options(retry=policy).any_placements(A_PLACEMENTS)
            with pytest.raises(ServerError):
                await first.with_options(locale="de").any_placements(A_PLACEMENTS)
    sent = [
        CIMultiDict(c.kwargs["headers"])
        for c in mocked.requests[("POST", URL(PLACEMENTS_URL))]
    ]
    assert [h["Accept-Language"] for h in sent] == ["fr", "de"]
    assert caught.value.attempts == 1
    assert timing.sleeps == []


async def test_view_refuses_to_open_saying_its_client_opens_it() -> None:
    """Opening a view is a ClientClosedError that says who opens it."""
    view = make_client().with_options()
    with pytest.raises(ClientClosedError) as caught:
        await view.open()
    assert str(caught.value) == "a with_options() view is opened by its client"


def test_repr_marks_views_and_only_views() -> None:
    """``repr`` says ``view`` for a view and nothing extra for a client."""
    client = make_client()
    assert repr(client) == (
        "<RoktClient base_url='https://api.rokt.test' tag_id='253_439d21r21r21321'"
        " state=unopened>"
    )
    assert repr(client.with_options()) == (
        "<RoktClient view base_url='https://api.rokt.test'"
        " tag_id='253_439d21r21r21321' state=unopened>"
    )


async def test_per_call_locale_and_timeout_are_refused_naming_them() -> None:
    """A bad per-call locale or timeout is a RequestValidationError naming it."""
    async with make_client() as client:
        with pytest.raises(RequestValidationError) as bad_locale:
            await client.any_placements(A_PLACEMENTS, locale="fr\n")
        with pytest.raises(RequestValidationError) as bad_timeout:
            await client.any_placements(A_PLACEMENTS, timeout=0.0)
    assert str(bad_locale.value) == CONTROL
    assert str(bad_timeout.value) == "timeout must be > 0"


async def test_leaked_open_client_warns_once_from_the_client_module() -> None:
    """A client collected while open emits one UnclosedClientWarning, issued from
    ``_client.py``, naming a ``file:line`` and the two ways to close it."""
    client = RoktClient(api_key="k", tag_id="t")
    await client.open()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del client
        gc.collect()
    (warning,) = caught
    assert warning.category is UnclosedClientWarning
    assert Path(warning.filename).name == "_client.py"
    message = str(warning.message)
    assert message.startswith("RoktClient created at ")
    where = message.removeprefix("RoktClient created at ").split(" ", 1)[0]
    assert where.rpartition(":")[2].isdigit()
    assert message.endswith(
        " was never closed; use `async with client:` or `await client.close()`"
    )


async def test_session_passed_in_is_the_one_that_sends() -> None:
    """Calls go through the session the caller passed, with its own default
    headers and the client's."""
    async with aiohttp.ClientSession(headers={"X-Partner": "shop-1"}) as session:
        async with make_client(session=session) as client:
            with aioresponses() as mocked:
                mocked.post(PLACEMENTS_URL, payload={"result": True})
                await client.any_placements(A_PLACEMENTS)
        assert not session.closed
    (call,) = mocked.requests[("POST", URL(PLACEMENTS_URL))]
    headers = CIMultiDict(call.kwargs["headers"])
    assert headers["X-Partner"] == "shop-1"
    assert headers["rokt-tag-id"] == "253_439d21r21r21321"


EVENT_KEYS = BasicCredentials(public_key="rpub-1", secret_key="rsec-1")


def test_event_api_version_with_a_control_character_is_refused_naming_it() -> None:
    """``event_api_version`` is checked like every header value, by name."""
    with pytest.raises(ConfigurationError) as caught:
        RoktClient(event_credentials=EVENT_KEYS, event_api_version="2024\n")
    assert str(caught.value) == (
        "event_api_version contains a control or non-ASCII character"
    )


async def test_events_only_client_refuses_cart_calls_saying_what_is_missing() -> None:
    """A client built with event credentials alone refuses a cart call before
    sending it, naming the endpoint and the missing api_key and tag_id."""
    async with RoktClient(event_credentials=EVENT_KEYS, base_url=FAKE_BASE) as client:
        with aioresponses() as mocked, pytest.raises(ConfigurationError) as caught:
            await client.any_placements(A_PLACEMENTS)
    assert str(caught.value) == (
        "placements needs api_key and tag_id; this client was built for events only"
        " (event_credentials without them)"
    )
    assert not mocked.requests


async def test_an_empty_per_call_locale_is_refused_not_replaced_by_the_default(
    fake_client: RoktClient,
) -> None:
    """``locale=""`` is a mistake, as it is for the constructor: refused before
    anything is sent, not silently swapped for the client's default."""
    with pytest.raises(RequestValidationError, match="locale must not be empty"):
        await fake_client.confirm_cart(A_CONFIRM, locale="")
