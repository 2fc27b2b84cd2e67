"""The OAuth token for ``/v1/events``: fetched once, shared, renewed early.

One token request is in flight at a time, however many senders need a token:
they all await the same fetch (shielded, so one sender's cancellation does not
cancel it for the others). A token is renewed once most of its life has passed
(``expires_in`` less a margin), not on the first 401; a 401 from the events
endpoint drops the token it was sent with, so the next ``get`` fetches a new one.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from ._errors import ResponseDecodeError
from ._headers import Secret

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._event_models import TokenAnswer

__all__ = ["DEFAULT_TOKEN_LIFETIME", "TokenSource"]

#: Seconds a token lives when the answer has no ``expires_in`` (Rokt: one hour).
DEFAULT_TOKEN_LIFETIME: Final = 3600.0
#: Renew this share of a lifetime early, at most ``_MAX_MARGIN`` seconds.
_MARGIN_SHARE: Final = 0.1
_MAX_MARGIN: Final = 300.0


class TokenSource:
    """A Bearer token, fetched by ``fetch`` when there is none or it is due."""

    __slots__ = ("_clock", "_fetch", "_pending", "_renew_at", "_token")

    def __init__(
        self, fetch: Callable[[], Awaitable[TokenAnswer]], clock: Callable[[], float]
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._token: Secret | None = None
        self._renew_at = 0.0
        self._pending: asyncio.Future[Secret] | None = None

    async def get(self) -> Secret:
        """A token that is not due for renewal, fetching one if needed."""
        token = self._token
        if token is not None and self._clock() < self._renew_at:
            return token
        pending = self._pending
        if pending is None:
            pending = self._pending = asyncio.ensure_future(self._renew())
            pending.add_done_callback(self._settled)
        return await asyncio.shield(pending)

    def drop(self, token: str) -> None:
        """Forget ``token`` (Rokt refused it); a newer one is kept."""
        if self._token == token:
            self._token = None

    def _settled(self, done: asyncio.Future[Secret]) -> None:
        self._pending = None
        if not done.cancelled():
            done.exception()  # retrieved: waiters that went away can't all see it

    async def _renew(self) -> Secret:
        asked_at = self._clock()
        answer = await self._fetch()
        value = answer.access_token or answer.access_token_docs
        if not value:
            raise ResponseDecodeError(
                "the token answer has no access_token", status=200
            )
        lifetime = answer.expires_in
        if lifetime is None or not lifetime > 0:
            lifetime = DEFAULT_TOKEN_LIFETIME
        token = Secret(value)
        self._token = token
        self._renew_at = (
            asked_at + lifetime - min(_MAX_MARGIN, lifetime * _MARGIN_SHARE)
        )
        return token

    def close(self) -> None:
        """Cancel a fetch in flight (the client is closing)."""
        if self._pending is not None:
            self._pending.cancel()
