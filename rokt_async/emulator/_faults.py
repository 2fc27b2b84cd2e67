"""Fault injection: the seeded per-endpoint plan, and carrying a fault out.

A fault is picked for every API request as it arrives (after it is recorded,
before authentication). Scripted faults (``fail_next``) come first, in the order
they were added, the endpoint's own before those scripted for ``"*"``; otherwise
one seeded draw (``random.Random(seed)``) against the endpoint's rates and then
the ``"*"`` rates, cumulatively (rates adding past 1 starve the later kinds).

Kinds, and what the client sees:

- ``504_before``: 504 with Rokt's error body; nothing took effect.
- ``504_after``: the request takes effect, then 504 with Rokt's error body (the
  reply is lost).
- ``500``: 500 with Rokt's error body; nothing took effect.
- ``502_html``: 502 with a proxy's ``text/html`` page; nothing took effect.
- ``503_retry_after``: 503 with Rokt's error body and ``Retry-After:
  <retry_after>`` (whole seconds, default 1); nothing took effect.
- ``reset_before`` / ``reset_after``: the TCP connection is aborted with a reset
  (``SO_LINGER`` 0) and no response, before / after the request takes effect.
- ``delay``: the request takes effect, then the answer waits ``ms`` milliseconds,
  or a seeded random time up to ``max_ms``.
- ``truncate``: the request takes effect; the status line and headers announce a
  ``Content-Length`` larger than the body, half the body is sent, then the
  connection closes.
- ``idle_close``: the request takes effect and is answered in full as keep-alive
  (no ``Connection: close``), then the server closes the connection, at once or
  ``ms`` milliseconds after the answer (whatever is in flight on it by then): a
  client that reuses the pooled connection races the close, and one that sends
  its next request straight away loses (aiohttp raises ServerDisconnectedError
  and the emulator never sees that request). The server-wide
  ``keepalive_timeout`` closes every connection idle for that long.
- ``unprocessed`` (``events`` only, not in ``FAULT_KINDS``): the batch is
  checked as usual, then answered 200 with every event in ``unprocessedRecords``
  (``ValidationError``, "Invalid content") and none applied.

Every kind applies to every endpoint name in ``ENDPOINTS``, ``events`` and
``token`` included, and ``"*"`` covers them all. Fault answers use the
endpoint's own error shape: Rokt's ``{"description", "errors"}`` on the cart,
confirmation and placements endpoints, ``{"data": {"code", "message"}}`` on
``events`` (``InternalServerError``, ``ServiceUnavailableError``,
``GatewayTimeoutError``) and OAuth 2.0's ``{"error": "server_error"}`` (or
``"temporarily_unavailable"`` for 503) on ``token``. A fault after the effect
on ``events`` means the batch was applied (and a v1 ``Idempotency-Key``
remembered) before the answer was lost; on ``token``, that a token was issued.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypeAlias

from aiohttp import web

from ._responses import error

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from aiohttp.web_request import BaseRequest

    #: Builds a fault's error answer from ``(status, description, code)``.
    ErrorAnswer: TypeAlias = Callable[[int, str, str], web.Response]

__all__ = [
    "ALL_ENDPOINTS",
    "BAD_GATEWAY_HTML",
    "BEFORE_EFFECT",
    "DELAY",
    "ENDPOINTS",
    "EVENT_FAULT_KINDS",
    "FAULT_KINDS",
    "GATEWAY_TIMEOUT_AFTER",
    "GATEWAY_TIMEOUT_BEFORE",
    "IDLE_CLOSE",
    "INTERNAL_ERROR",
    "RESET_AFTER",
    "RESET_BEFORE",
    "SERVICE_UNAVAILABLE",
    "TRUNCATE",
    "UNPROCESSED",
    "Fault",
    "FaultPlan",
    "answer_after",
    "answer_before",
]

GATEWAY_TIMEOUT_BEFORE: Final = "504_before"
GATEWAY_TIMEOUT_AFTER: Final = "504_after"
INTERNAL_ERROR: Final = "500"
BAD_GATEWAY_HTML: Final = "502_html"
SERVICE_UNAVAILABLE: Final = "503_retry_after"
RESET_BEFORE: Final = "reset_before"
RESET_AFTER: Final = "reset_after"
DELAY: Final = "delay"
TRUNCATE: Final = "truncate"
IDLE_CLOSE: Final = "idle_close"
UNPROCESSED: Final = "unprocessed"

FAULT_KINDS: Final = frozenset(
    {
        GATEWAY_TIMEOUT_BEFORE,
        GATEWAY_TIMEOUT_AFTER,
        INTERNAL_ERROR,
        BAD_GATEWAY_HTML,
        SERVICE_UNAVAILABLE,
        RESET_BEFORE,
        RESET_AFTER,
        DELAY,
        TRUNCATE,
        IDLE_CLOSE,
    }
)
#: Kinds carried out instead of the request: it never takes effect.
BEFORE_EFFECT: Final = frozenset(
    {
        GATEWAY_TIMEOUT_BEFORE,
        INTERNAL_ERROR,
        BAD_GATEWAY_HTML,
        SERVICE_UNAVAILABLE,
        RESET_BEFORE,
    }
)
#: Kinds that only the ``events`` endpoint takes.
EVENT_FAULT_KINDS: Final = frozenset({UNPROCESSED})
ENDPOINTS: Final = (
    "reserve",
    "confirm",
    "release",
    "cancel",
    "placements",
    "events",
    "token",
)
#: The endpoint name that stands for every endpoint.
ALL_ENDPOINTS: Final = "*"

_PARAMS: Final[Mapping[str, frozenset[str]]] = {
    SERVICE_UNAVAILABLE: frozenset({"retry_after"}),
    DELAY: frozenset({"ms", "max_ms"}),
    IDLE_CLOSE: frozenset({"ms"}),
}

_PROXY_HTML: Final = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault to carry out.

    Attributes:
        kind: one of ``FAULT_KINDS``.
        params: its parameters (``retry_after``, ``ms``, ``max_ms``).
        seconds: for ``delay`` and ``idle_close``, the wait, resolved when picked.
    """

    kind: str
    params: Mapping[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def _check(endpoint: str, kind: str, params: Mapping[str, float]) -> None:
    if endpoint != ALL_ENDPOINTS and endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; use one of {ENDPOINTS}")
    if kind in EVENT_FAULT_KINDS:
        if endpoint != "events":
            raise ValueError(f"fault {kind!r} applies to the events endpoint only")
    elif kind not in FAULT_KINDS:
        known = sorted(FAULT_KINDS | EVENT_FAULT_KINDS)
        raise ValueError(f"unknown fault kind {kind!r}; use one of {known}")
    unknown = set(params) - _PARAMS.get(kind, frozenset())
    if unknown:
        raise ValueError(f"fault {kind!r} takes no parameter {sorted(unknown)}")
    if any(not value >= 0 for value in params.values()):
        raise ValueError(f"fault {kind!r} parameters must be >= 0")


class _Scripted:
    __slots__ = ("fault", "remaining")

    def __init__(self, fault: Fault, remaining: int) -> None:
        self.fault = fault
        self.remaining = remaining


class FaultPlan:
    """Which faults the emulator injects, per endpoint. Safe to use from any thread.

    Endpoints are ``reserve``, ``confirm``, ``release``, ``cancel``, ``placements``,
    ``events``, ``token``, or ``"*"`` for all of them. See the module docstring for
    the kinds.
    """

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(seed)
        self._scripted: dict[str, deque[_Scripted]] = {}
        self._rates: dict[str, dict[str, tuple[float, Fault]]] = {}
        #: False when no fault is planned: the hot path then skips the lock.
        self.is_armed = False

    def fail_next(
        self, endpoint: str, kind: str, count: int = 1, **params: float
    ) -> None:
        """Inject ``kind`` into the next ``count`` requests to ``endpoint``.

        Raises:
            ValueError: unknown endpoint, kind or parameter, or ``count < 1``.
        """
        _check(endpoint, kind, params)
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            queue = self._scripted.setdefault(endpoint, deque())
            queue.append(_Scripted(Fault(kind, dict(params)), count))
            self.is_armed = True

    def set_rate(self, endpoint: str, kind: str, rate: float, **params: float) -> None:
        """Inject ``kind`` into a seeded random share ``rate`` of requests; 0 removes.

        Raises:
            ValueError: unknown endpoint, kind or parameter, or rate outside [0, 1].
        """
        _check(endpoint, kind, params)
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        with self._lock:
            rates = self._rates.setdefault(endpoint, {})
            if rate > 0:
                rates[kind] = (rate, Fault(kind, dict(params)))
            else:
                rates.pop(kind, None)
            self._rearm()

    def clear(self, endpoint: str | None = None) -> None:
        """Forget every planned fault, or those of one endpoint (``"*"`` included)."""
        with self._lock:
            if endpoint is None:
                self._scripted.clear()
                self._rates.clear()
            else:
                self._scripted.pop(endpoint, None)
                self._rates.pop(endpoint, None)
            self._rearm()

    def reset(self) -> None:
        """Forget every fault and reseed, as a new plan with the same seed."""
        with self._lock:
            self._scripted.clear()
            self._rates.clear()
            self._rng = random.Random(self._seed)
            self.is_armed = False

    def pending(self, endpoint: str) -> int:
        """Scripted faults not yet used for ``endpoint`` (``"*"`` not included)."""
        with self._lock:
            return sum(s.remaining for s in self._scripted.get(endpoint, ()))

    def pick(self, endpoint: str) -> Fault | None:
        """The fault for one request to ``endpoint``, or None; consumes scripts."""
        if not self.is_armed:
            return None
        with self._lock:
            fault = self._pick_scripted(endpoint) or self._pick_rated(endpoint)
            self._rearm()
            if fault is None or fault.kind not in (DELAY, IDLE_CLOSE):
                return fault
            params = fault.params
            if "max_ms" in params:
                seconds = self._rng.uniform(0.0, params["max_ms"]) / 1000.0
            else:
                seconds = params.get("ms", 0.0) / 1000.0
            return Fault(fault.kind, params, seconds)

    def _pick_scripted(self, endpoint: str) -> Fault | None:
        for key in (endpoint, ALL_ENDPOINTS):
            queue = self._scripted.get(key)
            if queue:
                head = queue[0]
                head.remaining -= 1
                if head.remaining == 0:
                    queue.popleft()
                return head.fault
        return None

    def _pick_rated(self, endpoint: str) -> Fault | None:
        own = self._rates.get(endpoint)
        shared = self._rates.get(ALL_ENDPOINTS)
        if not own and not shared:
            return None
        draw = self._rng.random()
        total = 0.0
        for rates in (own, shared):
            for rate, fault in (rates or {}).values():
                total += rate
                if draw < total:
                    return fault
        return None

    def _rearm(self) -> None:
        self.is_armed = any(self._scripted.values()) or any(self._rates.values())


# --- carrying faults out --------------------------------------------------------------


def _json(status: int, description: str, code: str) -> web.Response:
    return error(status, description, code, description)


def _reset(request: BaseRequest) -> None:
    """Abort the connection with a TCP reset and no response."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already gone: abort is all that is left
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
    transport.abort()


async def answer_before(
    fault: Fault, request: BaseRequest, errors: ErrorAnswer | None = None
) -> web.StreamResponse:
    """Carry out a ``BEFORE_EFFECT`` fault instead of handling the request.

    ``errors`` builds the JSON error answers in the endpoint's own shape; None
    means Rokt's ``{"description", "errors"}``.
    """
    errors = errors or _json
    kind = fault.kind
    if kind == GATEWAY_TIMEOUT_BEFORE:
        return errors(504, "Gateway Timeout", "GatewayTimeout")
    if kind == INTERNAL_ERROR:
        return errors(500, "Internal Server Error", "InternalServerError")
    if kind == BAD_GATEWAY_HTML:
        return web.Response(status=502, body=_PROXY_HTML, content_type="text/html")
    if kind == SERVICE_UNAVAILABLE:
        response = errors(503, "Service Unavailable", "ServiceUnavailable")
        response.headers["Retry-After"] = str(int(fault.params.get("retry_after", 1)))
        return response
    _reset(request)  # RESET_BEFORE
    return web.Response(status=500)  # never sent: the transport is gone


async def answer_after(
    fault: Fault,
    request: BaseRequest,
    response: web.Response,
    errors: ErrorAnswer | None = None,
) -> web.StreamResponse:
    """Carry out a fault on the answer to a request that already took effect."""
    errors = errors or _json
    kind = fault.kind
    if kind == GATEWAY_TIMEOUT_AFTER:
        return errors(504, "Gateway Timeout", "GatewayTimeout")
    if kind == RESET_AFTER:
        _reset(request)
        return response  # never sent: the transport is gone
    if kind == DELAY:
        await asyncio.sleep(fault.seconds)
        return response
    if kind == TRUNCATE:
        return await _truncated(request, response)
    if kind == IDLE_CLOSE:
        await response.prepare(request)
        await response.write_eof()
        transport = request.transport
        if transport is not None:
            if fault.seconds > 0:
                asyncio.get_running_loop().call_later(fault.seconds, transport.close)
            else:
                transport.close()
        return response
    raise ValueError(f"{kind!r} is not carried out after the effect")


async def _truncated(
    request: BaseRequest, response: web.Response
) -> web.StreamResponse:
    body = response.body if isinstance(response.body, bytes) else b""
    partial = web.StreamResponse(status=response.status)
    partial.content_type = response.content_type
    partial.content_length = len(body) + 64
    await partial.prepare(request)
    await partial.write(body[: len(body) // 2])
    transport = request.transport
    if transport is not None:
        transport.close()  # flushes what was written, then FIN
    return partial
