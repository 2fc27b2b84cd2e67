"""A session the partner passes in carries every documented header (#10)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import pytest

from rokt_async import (
    NO_WAIT_RETRY,
    RoktClient,
    UnprocessableEntityError,
)
from tests.emulator._helpers import confirm_reserved, reserve_request

if TYPE_CHECKING:
    from rokt_async.emulator import Emulator


async def test_own_session_sends_credentials_and_content_type(
    emulator: Emulator,
) -> None:
    """Through ``session=``, reserve and confirm succeed and the emulator saw the
    key, tag, JSON content type, Accept, identity encoding and our User-Agent."""
    async with aiohttp.ClientSession() as session:
        rokt = RoktClient(
            api_key=emulator.api_key,
            tag_id=emulator.tag_id,
            base_url=emulator.url,
            session=session,
            retry=NO_WAIT_RETRY,
        )
        async with rokt:
            reserved = await rokt.reserve_cart(reserve_request("own"))
            rid = reserved.items[0].item_reservation_id
            confirmed = await rokt.confirm_cart(
                confirm_reserved("own", "o", ("parking", rid))
            )
        assert not session.closed  # the client never closes a session it was given
    assert confirmed.is_complete
    seen = emulator.requests("reserve")[0].headers
    assert seen["rokt-api-key"] == emulator.api_key
    assert seen["rokt-tag-id"] == emulator.tag_id
    assert seen["content-type"] == "application/json"
    assert seen["accept"] == "application/json"
    assert seen["accept-encoding"] == "identity"
    assert seen["user-agent"].startswith("rokt-async/")


async def test_own_session_raising_for_status_still_gets_typed_errors(
    emulator: Emulator,
) -> None:
    """A partner session built with raise_for_status=True still yields Rokt's
    typed error (422 UnknownCart), not an aiohttp exception."""
    async with aiohttp.ClientSession(raise_for_status=True) as session:
        rokt = RoktClient(
            api_key=emulator.api_key,
            tag_id=emulator.tag_id,
            base_url=emulator.url,
            session=session,
        )
        async with rokt:
            with pytest.raises(UnprocessableEntityError) as caught:
                await rokt.confirm_cart(confirm_reserved("ghost", "o", ("p", "r")))
    assert caught.value.body is not None
    assert caught.value.body.errors[0].code == "UnknownCart"
