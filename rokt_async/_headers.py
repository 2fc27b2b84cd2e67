"""The headers every call carries: fixed ones, the secret key, session ids."""

from __future__ import annotations

import random
from typing import Final

from ._config import check_header_value
from ._errors import RequestValidationError
from ._session import USER_AGENT

_getrandbits: Final = random.getrandbits  # tracking ids, not secrets


class Secret(str):
    """A str that never shows itself in a repr."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


def fixed_headers(key: Secret | None, tag_id: str | None) -> dict[str, str]:
    """The headers that are the same on every call of one client (an events-only
    client has no ``rokt-api-key`` and ``rokt-tag-id``)."""
    cart = (
        {}
        if key is None or tag_id is None
        else {
            "rokt-api-key": key,
            "rokt-tag-id": tag_id,
        }
    )
    return {
        **cart,
        "Content-Type": "application/json",
        "Accept": "application/json",
        # Rokt's answers are a few hundred bytes: compression would save nothing
        # and cost CPU on both sides. Compressed answers are still read (a proxy
        # may compress anyway), capped by their inflated size.
        "Accept-Encoding": "identity",
        "User-Agent": USER_AGENT,
    }


_UUID4_VERSION: Final = 0x4000 << 64  # version nibble 4
_UUID4_VARIANT: Final = 0x8000 << 48  # RFC 4122 variant bits 10
_UUID4_CLEAR: Final = ~((0xF000 << 64) | (0xC000 << 48))


def session_id_header(given: str | None) -> str:
    """The caller's session id (checked), or a fresh UUID4 string.

    Session ids are for tracking, not secrets: ``random`` (reseeded in forked
    children) makes one in a third of ``uuid.uuid4()``'s time.
    """
    if given is not None:
        return check_header_value("session_id", given, RequestValidationError)
    bits = _getrandbits(128) & _UUID4_CLEAR | _UUID4_VERSION | _UUID4_VARIANT
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
