"""Hedged placements: a quick answer needs no hedge, and a failed copy does not win.

Written for the mutants ``make mutate`` left alive in ``_hedge.py`` (issue #11).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from aioresponses import CallbackResult, aioresponses
from yarl import URL

from rokt_async import NO_WAIT_RETRY
from tests.conftest import A_PLACEMENTS, FAKE_BASE, make_client

PLACEMENTS_URL = f"{FAKE_BASE}/v1/placements/any"


async def test_answer_before_the_hedge_delay_is_returned() -> None:
    """An answer inside the hedge delay is returned, and no second copy is sent."""
    policy = replace(NO_WAIT_RETRY, hedge_placements_after=5.0)
    async with make_client(retry=policy) as client:
        with aioresponses() as mocked:
            mocked.post(PLACEMENTS_URL, payload={"result": True})
            assert await client.any_placements(A_PLACEMENTS) is True
    assert len(mocked.requests[("POST", URL(PLACEMENTS_URL))]) == 1


async def test_copy_that_fails_first_does_not_beat_one_that_succeeds() -> None:
    """When the first copy fails before the hedge answers, the hedge's success is
    the call's answer."""

    calls = 0

    async def first_fails_soon_hedge_succeeds_later(
        url: URL, **kwargs: Any
    ) -> CallbackResult:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(0.05)
            return CallbackResult(status=400, payload={"description": "no"})
        await asyncio.sleep(0.2)
        return CallbackResult(payload={"result": True})

    policy = replace(NO_WAIT_RETRY, max_attempts=1, hedge_placements_after=0.01)
    async with make_client(retry=policy) as client:
        with aioresponses() as mocked:
            mocked.post(
                PLACEMENTS_URL,
                callback=first_fails_soon_hedge_succeeds_later,
                repeat=True,
            )
            assert await client.any_placements(A_PLACEMENTS) is True
