"""The plugin's client factory closing clients on their own loops, and marker errors.

``RoktClientFactory`` is public: the ``rokt_client_factory`` fixture is one built
with the test's ``addfinalizer``. Here it gets a list instead, so each test runs
the finalizers itself, at the moment that matters (a loop closed, or running on
another thread), and sees what they do.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import warnings
from typing import TYPE_CHECKING

import pytest

from rokt_async import PlacementsRequest, UnclosedClientWarning
from rokt_async.testing import RoktClientFactory

if TYPE_CHECKING:
    from collections.abc import Callable

    from rokt_async import RoktClient
    from rokt_async.emulator import Emulator

A_PLACEMENTS = PlacementsRequest(cart_id="cart-1", page_identifier="checkout.upsell")


def run_all(finalizers: list[Callable[[], None]]) -> None:
    """Run the finalizers the factory registered, as pytest would at teardown."""
    for finalize in finalizers:
        finalize()


def test_factory_closes_a_client_whose_loop_runs_on_another_thread(
    rokt_emulator: Emulator,
) -> None:
    """A client opened on a loop in another thread is closed on that loop."""
    finalizers: list[Callable[[], None]] = []
    factory = RoktClientFactory(rokt_emulator, finalizers.append)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        client = asyncio.run_coroutine_threadsafe(factory(), loop).result(timeout=30)
        call = client.any_placements(A_PLACEMENTS)
        assert asyncio.run_coroutine_threadsafe(call, loop).result(timeout=30)
        assert len(rokt_emulator.requests("placements")) == 1
        run_all(finalizers)
        assert client.is_closed
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


def test_factory_leaves_alone_a_client_the_test_closed_itself(
    rokt_emulator: Emulator,
) -> None:
    """Closing a factory client early is fine, even once its loop is closed."""
    finalizers: list[Callable[[], None]] = []
    factory = RoktClientFactory(rokt_emulator, finalizers.append)
    loop = asyncio.new_event_loop()
    try:
        client = loop.run_until_complete(factory())
        loop.run_until_complete(client.close())
    finally:
        loop.close()
    run_all(finalizers)  # no RuntimeError: nothing is left to close
    assert client.is_closed


def here() -> str:
    """``file:line`` of the caller."""
    caller = sys._getframe(1)
    return f"{caller.f_code.co_filename}:{caller.f_lineno}"


def open_then_close_loop(
    emulator: Emulator,
) -> tuple[RoktClient, str, list[Callable[[], None]]]:
    """A factory client left open on a loop that is then closed; where it was made."""
    finalizers: list[Callable[[], None]] = []
    factory = RoktClientFactory(emulator, finalizers.append)
    loop = asyncio.new_event_loop()
    try:
        opening, made_at = factory(), here()
        client = loop.run_until_complete(opening)
    finally:
        loop.close()
    return client, made_at, finalizers


def test_factory_names_the_caller_when_the_clients_loop_closed_first(
    rokt_emulator: Emulator,
) -> None:
    """An open client whose loop is gone is a RuntimeError naming where it was made."""
    client, made_at, finalizers = open_then_close_loop(rokt_emulator)
    with pytest.raises(RuntimeError) as caught:
        run_all(finalizers)
    message = str(caught.value)
    del caught, finalizers
    assert message.startswith(
        f"rokt_client_factory cannot close the RoktClient created at {made_at}:"
        " its event loop is already closed"
    )
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        del client
        gc.collect()
    leaks = [str(w.message) for w in seen if w.category is UnclosedClientWarning]
    assert len(leaks) == 1
    assert leaks[0].startswith(f"RoktClient created at {made_at} was never closed")


@pytest.mark.rokt_emulator(reservation_ttl=-1.0)
def test_marker_with_an_unusable_value_is_a_usage_error(
    request: pytest.FixtureRequest,
) -> None:
    """A ``rokt_emulator`` marker the Emulator refuses is a UsageError saying why."""
    with pytest.raises(pytest.UsageError) as caught:
        request.getfixturevalue("rokt_emulator")
    assert str(caught.value) == (
        "rokt_emulator marker: reservation_ttl and keepalive_timeout must be > 0"
    )
