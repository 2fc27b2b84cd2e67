"""The fan-out's concurrency bound: 1 is the least, and below it is refused.

Written for the mutants ``make mutate`` left alive in ``_many.py`` (issue #11).
"""

from __future__ import annotations

import pytest
from aioresponses import aioresponses

from rokt_async import ConfigurationError, ConfirmResponse
from tests.conftest import A_CONFIRM, FAKE_BASE, make_client

CONFIRM_URL = f"{FAKE_BASE}/v1/cart/confirm"


async def test_concurrency_of_one_sends_every_call() -> None:
    """``concurrency=1`` is accepted and still confirms every request."""
    async with make_client() as client:
        with aioresponses() as mocked:
            mocked.post(
                CONFIRM_URL,
                payload={"cartId": "cart-1", "orderId": "order-1"},
                repeat=True,
            )
            results = await client.confirm_many([A_CONFIRM] * 3, concurrency=1)
    assert [type(r) for r in results] == [ConfirmResponse] * 3


async def test_concurrency_below_one_is_refused_saying_so() -> None:
    """``concurrency=0`` is a ConfigurationError with the bound in its message."""
    async with make_client() as client:
        with pytest.raises(ConfigurationError) as caught:
            await client.confirm_many([A_CONFIRM], concurrency=0)
    assert str(caught.value) == "concurrency must be >= 1"
