"""What the Event API side of an emulator is configured with, checked once.

``EventSettings`` holds the credentials the emulator accepts (Basic key pairs for
``/v2/events``, OAuth apps for ``/auth/oauth2/token``), how long a token lives on
the emulator's clock, how the token answer is spelt, and the ``eventType`` values
it answers as unprocessed records. It is immutable: a change at run time builds a
new one (``dataclasses.replace``), so a ``reset()`` can go back to the first.

Token answer styles (``token_response``):

- ``standard`` (default): ``{"access_token", "token_type": "Bearer",
  "expires_in": <whole seconds>}``, what OAuth 2.0 clients expect.
- ``docs``: only ``{"Access_token"}``, spelt and shaped as the sample response
  on Rokt's "Authentication" page (no ``token_type``, no ``expires_in``).
- ``no_expiry``: ``{"access_token", "token_type": "Bearer"}``, no ``expires_in``.

Whatever the style, a token stops working ``token_ttl`` seconds after it was
issued, by the emulator's clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

__all__ = [
    "DEFAULT_EVENT_KEYS",
    "DEFAULT_OAUTH_APPS",
    "DEFAULT_TOKEN_TTL",
    "TOKEN_DOCS",
    "TOKEN_NO_EXPIRY",
    "TOKEN_RESPONSES",
    "TOKEN_STANDARD",
    "EventSettings",
    "credentials",
    "event_types",
]

# Style names, not secrets (ruff's S105 reads "TOKEN" as one).
TOKEN_STANDARD: Final = "standard"  # noqa: S105
TOKEN_DOCS: Final = "docs"  # noqa: S105
TOKEN_NO_EXPIRY: Final = "no_expiry"  # noqa: S105
TOKEN_RESPONSES: Final = (TOKEN_STANDARD, TOKEN_DOCS, TOKEN_NO_EXPIRY)

#: Public test values, accepted unless told otherwise (``--help`` shows them).
DEFAULT_EVENT_KEYS: Final[Mapping[str, str]] = MappingProxyType(
    {"rpub-test": "rsec-test"}
)
DEFAULT_OAUTH_APPS: Final[Mapping[str, str]] = MappingProxyType(
    {"test-app": "test-app-secret"}
)
DEFAULT_TOKEN_TTL: Final = 3600.0


def _is_printable(text: str) -> bool:
    return all(" " <= char != "\x7f" for char in text)


def credentials(pairs: Mapping[str, str], what: str) -> Mapping[str, str]:
    """A read-only copy of ``id -> secret`` pairs fit for Basic authentication.

    Raises:
        ValueError: an id or secret is empty or holds a control character, or an
            id holds ``:`` (Basic's separator; a secret may hold one).
    """
    checked: dict[str, str] = {}
    for name, secret in pairs.items():
        if not name or not secret:
            raise ValueError(f"{what}: ids and secrets must not be empty")
        if ":" in name:
            raise ValueError(f"{what}: an id must not contain ':'")
        if not (_is_printable(name) and _is_printable(secret)):
            raise ValueError(f"{what}: ids and secrets must hold no control characters")
        checked[name] = secret
    return MappingProxyType(checked)


def event_types(values: Collection[str]) -> frozenset[str]:
    """The ``eventType`` values as a set.

    Raises:
        TypeError: ``values`` is a single string (a set of letters, by mistake).
    """
    if isinstance(values, str):
        raise TypeError("refused_event_types must be a collection of strings")
    return frozenset(values)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventSettings:
    """The Event API configuration; see ``Emulator`` for each field.

    Raises:
        ValueError: a credential, the TTL or the token style is out of range.
        TypeError: ``refused_event_types`` is a single string.
    """

    event_keys: Mapping[str, str] = field(repr=False)  # secrets stay out of reprs
    oauth_apps: Mapping[str, str] = field(repr=False)
    token_ttl: float
    token_response: str
    refused_event_types: frozenset[str]

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "event_keys", credentials(self.event_keys, "event_keys")
        )
        object.__setattr__(
            self, "oauth_apps", credentials(self.oauth_apps, "oauth_apps")
        )
        object.__setattr__(
            self, "refused_event_types", event_types(self.refused_event_types)
        )
        if not (self.token_ttl > 0 and math.isfinite(self.token_ttl)):
            raise ValueError("token_ttl must be a finite number of seconds > 0")
        if self.token_response not in TOKEN_RESPONSES:
            raise ValueError(
                f"token_response must be one of {TOKEN_RESPONSES}, "
                f"got {self.token_response!r}"
            )

    @property
    def expires_in(self) -> int:
        """``expires_in`` as answered: whole seconds, rounded down.

        Rounding down keeps a client from believing a token lives longer than it
        does (a TTL under a second answers 0).
        """
        return int(self.token_ttl)
