"""Event API credentials: a Basic key pair (``/v2/events``) or an OAuth app
(``/v1/events``). The secret halves never show in a repr, str or message."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TypeAlias

from ._config import check_header_value
from ._errors import ConfigurationError
from ._headers import Secret

__all__ = [
    "BasicCredentials",
    "EventCredentials",
    "OAuthCredentials",
    "basic_auth",
    "cart_key",
]


def basic_auth(user: str, secret: str) -> Secret:
    """``Basic base64(user:secret)``, as a value that hides itself in reprs."""
    pair = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
    return Secret(f"Basic {pair}")


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    """The ``rpub-…``/``rsec-…`` key pair from Rokt: events go to ``/v2/events``
    with ``Authorization: Basic``.

    Raises:
        ConfigurationError: a key is empty or has a control or non-ASCII character.
    """

    public_key: str
    secret_key: str = field(repr=False)

    def __post_init__(self) -> None:
        check_header_value("public_key", self.public_key, ConfigurationError)
        check_header_value("secret_key", self.secret_key, ConfigurationError)
        if ":" in self.public_key:
            raise ConfigurationError("public_key must not contain ':'")
        object.__setattr__(self, "secret_key", Secret(self.secret_key))


@dataclass(frozen=True, slots=True)
class OAuthCredentials:
    """An App ID and App Secret (One Platform's personal API credentials): events
    go to ``/v1/events`` with a Bearer token from ``/auth/oauth2/token``.

    Raises:
        ConfigurationError: a value is empty or has a control or non-ASCII character.
    """

    app_id: str
    app_secret: str = field(repr=False)

    def __post_init__(self) -> None:
        check_header_value("app_id", self.app_id, ConfigurationError)
        check_header_value("app_secret", self.app_secret, ConfigurationError)
        if ":" in self.app_id:
            raise ConfigurationError("app_id must not contain ':'")
        object.__setattr__(self, "app_secret", Secret(self.app_secret))


EventCredentials: TypeAlias = BasicCredentials | OAuthCredentials


def cart_key(
    api_key: str | None,
    tag_id: str | None,
    event_credentials: EventCredentials | None,
) -> Secret | None:
    """The checked api key; None for an events-only client."""
    if api_key is None and tag_id is None and event_credentials is not None:
        return None
    if api_key is None or tag_id is None:
        missing = " and ".join(
            name for name, v in (("api_key", api_key), ("tag_id", tag_id)) if v is None
        )
        raise ConfigurationError(
            f"{missing} missing: cart, confirmation and placements calls need"
            " api_key and tag_id (an events-only client gives neither, and"
            " event_credentials instead)"
        )
    check_header_value("tag_id", tag_id, ConfigurationError)
    return Secret(check_header_value("api_key", api_key, ConfigurationError))
