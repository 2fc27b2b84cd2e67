"""What a 2xx body that does not decode is said to be: wrong shape, not JSON, or
nested too deeply, with msgspec's reason where it has one.

Written for the mutants ``make mutate`` left alive in ``_codec.py`` (issue #11).
"""

from __future__ import annotations

import pytest
from aioresponses import aioresponses

from rokt_async import NO_RETRY, ResponseDecodeError
from tests.conftest import A_PLACEMENTS, FAKE_BASE, make_client

PLACEMENTS_URL = f"{FAKE_BASE}/v1/placements/any"
DEEP = b'{"x":' + b"[" * 2_000 + b"]" * 2_000 + b',"result":true}'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"result":[1]}',
            "HTTP 200 body has the wrong shape: Expected `bool`, got `array`"
            " - at `$.result`",
        ),
        (b"<html>", "HTTP 200 body is not JSON (6 bytes)"),
        (DEEP, f"HTTP 200 body is nested too deeply ({len(DEEP)} bytes)"),
    ],
    ids=["wrong-shape", "not-json", "too-deep"],
)
async def test_undecodable_2xx_body_says_what_is_wrong(
    body: bytes, message: str
) -> None:
    """Each way a 2xx body fails to decode has its own ResponseDecodeError message."""
    async with make_client(retry=NO_RETRY) as client:
        with aioresponses() as mocked:
            mocked.post(PLACEMENTS_URL, body=body)
            with pytest.raises(ResponseDecodeError) as caught:
                await client.any_placements(A_PLACEMENTS)
    assert str(caught.value) == message
