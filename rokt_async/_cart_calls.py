"""The cart, confirmation and placements calls of ``RoktClient``.

Each method names its endpoint and hands the call to ``RoktClient._post``, the
one path (checks, encoding, retries) behind every endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from . import _endpoints
from ._many import ResultHook, run_bounded

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterable

    from ._errors import RoktError
    from ._models import (
        CancelRequest,
        ConfirmRequest,
        ConfirmResponse,
        PlacementsRequest,
        ReleaseRequest,
        ReleaseResponse,
        ReserveRequest,
        ReserveResponse,
        _Request,
    )

T = TypeVar("T")

__all__ = ["CartCalls"]


class CartCalls:
    """Reserve, confirm, release, cancel, placements, and the bounded fan-outs."""

    __slots__ = ()

    if TYPE_CHECKING:

        def _post(
            self,
            endpoint: _endpoints.Endpoint[T],
            request: _Request,
            session_id: str | None,
            locale: str | None,
            timeout: float | None,
        ) -> Coroutine[Any, Any, T]: ...

    async def reserve_cart(
        self,
        request: ReserveRequest,
        *,
        session_id: str | None = None,
        locale: str | None = None,
        timeout: float | None = None,
    ) -> ReserveResponse:
        """Hold stock and lock prices until the reservation expires.

        Not retried after an ambiguous failure unless the policy allows it: a
        duplicate reserve holds stock until it expires.

        Raises:
            APIError: Rokt refused (see ``.status`` and ``.body.errors``).
            TransportError: no usable answer.
            ResponseDecodeError: a 2xx whose body is not a reserve answer.
        """
        return await self._post(
            _endpoints.RESERVE, request, session_id, locale, timeout
        )

    async def confirm_cart(
        self,
        request: ConfirmRequest,
        *,
        session_id: str | None = None,
        locale: str | None = None,
        timeout: float | None = None,
    ) -> ConfirmResponse:
        """Confirm a completed purchase. Retries resend byte-identical bodies.

        A 200 can carry failed items: check ``response.failed_items``.

        Raises:
            APIError: Rokt refused (see ``.status`` and ``.body.errors``).
            OutcomeUnknownError: retries ran out after an ambiguous failure; send the
                same request again to reconcile.
            TransportError: no usable answer.
            ResponseDecodeError: a 2xx whose body is not a confirm answer.
        """
        return await self._post(
            _endpoints.CONFIRM, request, session_id, locale, timeout
        )

    async def release_cart(
        self,
        request: ReleaseRequest,
        *,
        session_id: str | None = None,
        locale: str | None = None,
        timeout: float | None = None,
    ) -> ReleaseResponse:
        """Give reserved items back before their reservation expires.

        Raises:
            APIError: Rokt refused (see ``.status`` and ``.body.errors``).
            OutcomeUnknownError: retries ran out after an ambiguous failure.
            TransportError: no usable answer.
            ResponseDecodeError: a 2xx whose body is not a release answer.
        """
        return await self._post(
            _endpoints.RELEASE, request, session_id, locale, timeout
        )

    async def cancel_confirmation(
        self,
        request: CancelRequest,
        *,
        session_id: str | None = None,
        locale: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Cancel one confirmed item; returns when Rokt accepted the cancellation.

        Raises:
            APIError: Rokt refused (see ``.status`` and ``.body.errors``).
            OutcomeUnknownError: retries ran out after an ambiguous failure.
            TransportError: no usable answer.
        """
        await self._post(_endpoints.CANCEL, request, session_id, locale, timeout)

    async def any_placements(
        self,
        request: PlacementsRequest,
        *,
        session_id: str | None = None,
        locale: str | None = None,
        timeout: float | None = None,
    ) -> bool:
        """True when Rokt has any placement worth showing for this page and locale.

        Its deadline is short by default (1.5 s): treat any error as "no upsell".

        Raises:
            APIError: Rokt refused (see ``.status`` and ``.body.errors``).
            TransportError: no usable answer.
            ResponseDecodeError: a 2xx whose body is not a placements answer.
        """
        response = await self._post(
            _endpoints.PLACEMENTS, request, session_id, locale, timeout
        )
        return bool(response.result)

    # --- bounded fan-out ------------------------------------------------------------

    async def confirm_many(
        self,
        requests: Iterable[ConfirmRequest | tuple[ConfirmRequest, str]],
        *,
        concurrency: int = 64,
        timeout: float | None = None,
        on_result: ResultHook[ConfirmResponse] | None = None,
    ) -> list[ConfirmResponse | RoktError]:
        """Confirm many carts with at most ``concurrency`` calls in flight.

        Args:
            requests: confirms, or ``(confirm, session_id)`` pairs to send each one
                with its shopper's ``rokt-session-id``.
            concurrency: calls in flight at most.
            timeout: each call's deadline (None: the policy's).
            on_result: called as ``on_result(index, outcome)`` the moment each
                call ends, so what finished is known even if the fan-out is
                cancelled part-way. An exception it raises cancels the rest.

        Returns:
            One entry per request, in input order: the response, or the ``RoktError``
            that request ended in. One failure never cancels the others; cancelling
            the caller cancels every call still running.
        """
        return await run_bounded(
            lambda request, sid: self.confirm_cart(
                request, session_id=sid, timeout=timeout
            ),
            requests,
            concurrency,
            on_result,
        )

    async def release_many(
        self,
        requests: Iterable[ReleaseRequest | tuple[ReleaseRequest, str]],
        *,
        concurrency: int = 64,
        timeout: float | None = None,
        on_result: ResultHook[ReleaseResponse] | None = None,
    ) -> list[ReleaseResponse | RoktError]:
        """Release many carts with at most ``concurrency`` calls in flight.

        Takes the same arguments as ``confirm_many``.

        Returns:
            One entry per request, in input order: the response or its ``RoktError``.
        """
        return await run_bounded(
            lambda request, sid: self.release_cart(
                request, session_id=sid, timeout=timeout
            ),
            requests,
            concurrency,
            on_result,
        )
