"""The Event API half of ``Emulator``'s controls: credentials, token options,
refused event types and token revocation, all safe to call from any thread.

Every change lasts until ``reset()``, which goes back to what the emulator was
built with. The secrets are never part of a repr or an admin answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from ._app import App

__all__ = ["EventControls"]


class EventControls:
    """Mixed into ``Emulator``: reads and changes its Event API settings."""

    _app: App

    @property
    def event_keys(self) -> Mapping[str, str]:
        """Basic ``public -> secret`` pairs ``/v2/events`` accepts now (read-only)."""
        return self._app.events.settings.event_keys

    @property
    def oauth_apps(self) -> Mapping[str, str]:
        """``app_id -> app_secret`` pairs the token endpoint accepts (read-only)."""
        return self._app.events.settings.oauth_apps

    @property
    def token_ttl(self) -> float:
        """Seconds of emulator time a token issued now will live."""
        return self._app.events.settings.token_ttl

    @property
    def token_response(self) -> str:
        """How the token answer is spelt now; one of ``TOKEN_RESPONSES``."""
        return self._app.events.settings.token_response

    @property
    def refused_event_types(self) -> frozenset[str]:
        """``eventType`` values answered as unprocessed records."""
        return self._app.events.settings.refused_event_types

    def set_event_credentials(
        self,
        *,
        event_keys: Mapping[str, str] | None = None,
        oauth_apps: Mapping[str, str] | None = None,
    ) -> None:
        """Replace the accepted Basic key pairs and/or OAuth apps (None keeps them).

        Tokens already issued stay valid until they expire; ``revoke_tokens()``
        ends them at once.

        Raises:
            ValueError: an id or secret is empty, holds a control character, or an
                id holds ``:``; nothing changes then.
        """
        self._app.events.configure(event_keys=event_keys, oauth_apps=oauth_apps)

    def set_token_options(
        self, *, ttl: float | None = None, response: str | None = None
    ) -> None:
        """Change the lifetime of tokens issued from now on and/or the answer's
        style (``"standard"``, ``"docs"``, ``"no_expiry"``); None keeps it.

        Raises:
            ValueError: ``ttl`` is not a finite number > 0 or ``response`` is not
                one of ``TOKEN_RESPONSES``.
        """
        self._app.events.configure(token_ttl=ttl, token_response=response)

    def set_refused_event_types(self, event_types: Collection[str]) -> None:
        """Answer events of these ``eventType`` values as unprocessed records.

        Raises:
            TypeError: ``event_types`` is a single string.
        """
        self._app.events.configure(refused_event_types=event_types)

    def revoke_tokens(self) -> int:
        """End every token issued so far (the next events call with one gets 401);
        returns how many there were."""
        return self._app.events.revoke_tokens()
