"""Open/close rules, views, and the misuse traps other SDKs leave open."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import threading
import warnings
import weakref

import aiohttp
import pytest
from aioresponses import aioresponses

from rokt_async import (
    ClientClosedError,
    EventLoopMismatchError,
    ForkedProcessError,
    RoktClient,
    UnclosedClientWarning,
)
from rokt_async import _shared as shared_module
from tests.conftest import A_PLACEMENTS, FAKE_BASE, make_client

PLACEMENTS_URL = f"{FAKE_BASE}/v1/placements/any"


def test_client_is_created_without_a_running_loop() -> None:
    """Building a client at import time needs no event loop and opens nothing."""
    client = make_client()
    assert not client.is_closed
    assert "state=unopened" in repr(client)


async def test_call_before_open_raises_client_closed() -> None:
    """Calling before `async with` is a ClientClosedError that says what to do."""
    client = make_client()
    with pytest.raises(ClientClosedError, match="async with"):
        await client.any_placements(A_PLACEMENTS)


async def test_close_is_idempotent_and_reopen_is_refused() -> None:
    """close() twice is fine; reopening or calling after close raises."""
    client = make_client()
    async with client:
        pass
    await client.close()
    assert client.is_closed
    with pytest.raises(ClientClosedError):
        await client.any_placements(A_PLACEMENTS)
    with pytest.raises(ClientClosedError, match="create a new client"):
        async with client:
            pass


async def test_user_session_is_used_and_never_closed() -> None:
    """A session passed in serves the calls and stays open after close()."""
    async with aiohttp.ClientSession() as session:
        client = make_client(session=session)
        async with client:
            with aioresponses() as mocked:
                mocked.post(PLACEMENTS_URL, payload={"result": False})
                assert await client.any_placements(A_PLACEMENTS) is False
        assert not session.closed


async def test_owned_session_is_closed_with_the_client() -> None:
    """The session the client built is closed when the client closes."""
    client = make_client()
    async with client:
        session = client._shared.session
        assert session is not None
    assert session.closed


async def test_unclosed_client_warns_where_it_was_created() -> None:
    """A client collected while open emits our UnclosedClientWarning naming its
    origin, and closes its sockets so aiohttp has nothing left to warn about."""
    client = RoktClient(api_key="k", tag_id="t")
    await client.open()
    session = client._shared.session
    assert session is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del client
        gc.collect()
    ours = [w for w in caught if "RoktClient created at" in str(w.message)]
    assert len(ours) == 1
    assert ours[0].category is UnclosedClientWarning
    assert "test_lifecycle.py" in str(ours[0].message)
    assert session.closed  # so aiohttp's own __del__ stays silent


LEAKY_PROGRAM = """
import asyncio, gc
from aiohttp import web
from rokt_async import PlacementsRequest, RoktClient

async def main():
    app = web.Application()
    answer = web.json_response({"result": True})
    app.router.add_post("/v1/placements/any", lambda request: answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = RoktClient(api_key="k", tag_id="t", base_url=f"http://127.0.0.1:{port}")
    await client.open()
    await client.any_placements(PlacementsRequest(cart_id="c", page_identifier="p"))
    del client  # leaked while open, with a pooled connection
    gc.collect()
    await asyncio.sleep(0.1)
    await runner.cleanup()

asyncio.run(main())
"""


def test_leaked_client_shows_one_warning_under_default_filters() -> None:
    """Under Python's default warning filters (no -X dev), a leaked client prints
    our warning with the line that built it, and no aiohttp warning or log."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and program
        [sys.executable, "-c", LEAKY_PROGRAM],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
    )
    line = (
        LEAKY_PROGRAM.splitlines().index(
            next(
                text
                for text in LEAKY_PROGRAM.splitlines()
                if text.startswith("    client =")
            )
        )
        + 1
    )
    assert f"UnclosedClientWarning: RoktClient created at <string>:{line} " in (
        done.stderr
    )
    assert "Unclosed client session" not in done.stderr
    assert "Unclosed connector" not in done.stderr
    assert done.stderr.count("UnclosedClientWarning") == 1


async def test_closed_or_unopened_client_does_not_warn() -> None:
    """Only a client left open warns when collected."""
    opened_and_closed = make_client()
    async with opened_and_closed:
        pass
    never_opened = make_client()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del opened_and_closed, never_opened
        gc.collect()
    assert not [w for w in caught if "RoktClient" in str(w.message)]


async def test_use_from_another_event_loop_raises_typed_error() -> None:
    """A client opened on one loop refuses calls from another, saying how to fix it."""
    async with make_client() as client:
        outcome: list[BaseException] = []

        def other_thread() -> None:
            try:
                asyncio.run(client.any_placements(A_PLACEMENTS))
            except BaseException as exc:  # noqa: BLE001  (report it to the test)
                outcome.append(exc)

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert len(outcome) == 1
    assert isinstance(outcome[0], EventLoopMismatchError)
    assert "one client per event loop" in str(outcome[0])


async def test_use_after_fork_raises_typed_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a fork the child's calls fail with ForkedProcessError, not a hang."""
    async with make_client() as client:
        monkeypatch.setattr(
            shared_module, "_fork_generation", shared_module._fork_generation + 1
        )
        with pytest.raises(ForkedProcessError, match="new client in the child"):
            await client.any_placements(A_PLACEMENTS)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
async def test_real_fork_bumps_the_generation_in_the_child() -> None:
    """os.fork really marks the child, so a client from the parent is refused there."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads
        pid = os.fork()
    if pid == 0:  # child: report whether the generation moved, then leave at once
        os.write(write_end, b"1" if shared_module._fork_generation else b"0")
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)  # noqa: ASYNC222  (the child exits at once)
    assert os.read(read_end, 1) == b"1"
    os.close(read_end)


async def test_with_options_view_shares_the_pool_and_changes_defaults() -> None:
    """A view uses the same session with its own locale; its close is a no-op."""
    async with make_client() as client:
        view = client.with_options(locale="de-DE", timeout=0.5)
        assert view._shared is client._shared
        with aioresponses() as mocked:
            mocked.post(PLACEMENTS_URL, payload={"result": True})
            assert await view.any_placements(A_PLACEMENTS)
        (call,) = next(iter(mocked.requests.values()))
        assert call.kwargs["headers"]["Accept-Language"] == "de-DE"
        assert call.kwargs["timeout"].total == pytest.approx(0.5, abs=0.05)
        await view.close()
        assert not client.is_closed
        assert "view" in repr(view)


async def test_thousands_of_views_leak_nothing() -> None:
    """Views hold no resources of their own: all are collected and none warns."""
    async with make_client() as client:
        refs = [weakref.ref(client.with_options(locale="en")) for _ in range(5000)]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gc.collect()
        assert all(ref() is None for ref in refs)
        assert caught == []


def test_repr_never_shows_the_key(canary_key: str) -> None:
    """repr and str of a client show URL and tag, never the key."""
    client = RoktClient(api_key=canary_key, tag_id="tag")
    assert canary_key not in repr(client)
    assert canary_key not in str(client)
    assert canary_key not in repr(client._headers)


def test_use_from_a_later_loop_on_the_same_thread_raises_typed_error() -> None:
    """Opened in one loop, called from the next loop on the same thread: refused."""
    client = make_client()
    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(client.open())
        second = asyncio.new_event_loop()
        try:
            with pytest.raises(EventLoopMismatchError, match="one client per event"):
                second.run_until_complete(client.any_placements(A_PLACEMENTS))
        finally:
            second.close()
        first.run_until_complete(client.close())
    finally:
        first.close()
