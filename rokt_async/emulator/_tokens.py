"""OAuth 2.0 client credentials: ``POST /auth/oauth2/token`` and the tokens it issues.

The token endpoint checks, in this order (``rokt-api.md`` section a):

1. method: anything but POST → 405 ``{"error": "invalid_request"}``.
2. ``Authorization: Basic base64(app_id:app_secret)`` naming a configured app
   (scheme in any case) → else 401 ``{"error": "invalid_client"}`` with
   ``WWW-Authenticate: Basic realm="rokt-emulator"``.
3. ``Content-Type: application/x-www-form-urlencoded`` (any case, as the docs
   write ``application/X-www-form-urlencoded``) and a form body holding exactly
   one ``grant_type`` → else 400 ``{"error": "invalid_request"}``; other form
   fields (``scope``...) are ignored.
4. ``grant_type`` other than ``client_credentials`` → 400
   ``{"error": "unsupported_grant_type"}``.
5. 200 with a new token in the configured style (``_event_settings``).

Tokens are opaque: 48 hex digits from ``random.Random`` seeded by the emulator's
seed (separately from the cart identifiers, so issuing tokens changes no cart
id), valid until ``token_ttl`` seconds of emulator time have passed. Nothing in
an answer or a log echoes a secret.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import random
import urllib.parse
from typing import TYPE_CHECKING, Final

from aiohttp import web

from ._event_schema import (
    ENCODER,
    DocsToken,
    NoExpiryToken,
    OAuthError,
    StandardToken,
)
from ._event_settings import TOKEN_DOCS, TOKEN_NO_EXPIRY

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aiohttp.web_request import BaseRequest

    from ._event_settings import EventSettings

__all__ = [
    "FORM",
    "TokenStore",
    "answer_token",
    "basic_credentials",
    "oauth_error",
    "secret_matches",
]

JSON: Final = "application/json"
FORM: Final = "application/x-www-form-urlencoded"
GRANT: Final = "client_credentials"
BEARER: Final = "Bearer"
#: Tokens kept before expired ones are swept out.
_SWEEP_AT: Final = 1024


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``(user, password)`` of an ``Authorization: Basic ...`` value, or None.

    None for a missing header, another scheme, bad base64, bytes that are not
    UTF-8 or a decoded value without ``:``.
    """
    if header is None:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def secret_matches(
    pairs: Mapping[str, str], credentials: tuple[str, str] | None
) -> bool:
    """True when ``credentials`` name a known id and its secret, compared in
    constant time."""
    if credentials is None:
        return False
    user, password = credentials
    secret = pairs.get(user)
    return secret is not None and hmac.compare_digest(
        password.encode("utf-8"), secret.encode("utf-8")
    )


def oauth_error(
    status: int, code: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """``status`` with ``{"error": code}``."""
    body = ENCODER.encode(OAuthError(error=code))
    return web.Response(status=status, body=body, content_type=JSON, headers=headers)


class TokenStore:
    """The tokens issued, each with its expiry in emulator time. Not thread-safe:
    the caller holds a lock."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._rng = random.Random(f"rokt-emulator-tokens/{seed}")
        self._expiry: dict[str, float] = {}

    def issue(self, now: float, ttl: float) -> str:
        """A new token, valid until ``now + ttl``."""
        if len(self._expiry) >= _SWEEP_AT:
            self._expiry = {t: at for t, at in self._expiry.items() if at > now}
        token = self._rng.randbytes(24).hex()
        self._expiry[token] = now + ttl
        return token

    def is_live(self, token: str, now: float) -> bool:
        """True when ``token`` was issued here and has not expired by ``now``."""
        expires_at = self._expiry.get(token)
        return expires_at is not None and now < expires_at

    def revoke(self) -> int:
        """Make every token issued so far invalid; returns how many were live."""
        revoked = len(self._expiry)
        self._expiry.clear()
        return revoked

    def reset(self) -> None:
        """No tokens, and the generator back at its seed."""
        self._expiry.clear()
        self._rng = random.Random(f"rokt-emulator-tokens/{self._seed}")


def _grant_type(request: BaseRequest, body: bytes) -> str | None:
    """The form's one ``grant_type``, or None when the request is malformed."""
    if request.content_type.lower() != FORM:
        return None
    try:
        text = body.decode("ascii")
        form = urllib.parse.parse_qs(text, keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    grants = form.get("grant_type", [])
    return grants[0] if len(grants) == 1 else None


def token_body(settings: EventSettings, token: str) -> bytes:
    """The 200 body for ``token`` in the configured style."""
    style = settings.token_response
    if style == TOKEN_DOCS:
        return ENCODER.encode(DocsToken(access_token=token))
    if style == TOKEN_NO_EXPIRY:
        return ENCODER.encode(NoExpiryToken(access_token=token, token_type=BEARER))
    return ENCODER.encode(
        StandardToken(
            access_token=token, token_type=BEARER, expires_in=settings.expires_in
        )
    )


def answer_token(
    settings: EventSettings,
    store: TokenStore,
    request: BaseRequest,
    body: bytes,
    now: float,
) -> tuple[web.Response, bool]:
    """Answer one token request; the bool says whether a token was issued.

    The caller holds the lock that guards ``store``.
    """
    if request.method != "POST":
        return oauth_error(405, "invalid_request", {"Allow": "POST"}), False
    presented = basic_credentials(request.headers.get("Authorization"))
    if not secret_matches(settings.oauth_apps, presented):
        challenge = {"WWW-Authenticate": 'Basic realm="rokt-emulator"'}
        return oauth_error(401, "invalid_client", challenge), False
    grant = _grant_type(request, body)
    if grant is None:
        return oauth_error(400, "invalid_request"), False
    if grant != GRANT:
        return oauth_error(400, "unsupported_grant_type"), False
    token = store.issue(now, settings.token_ttl)
    answer = web.Response(
        status=200,
        body=token_body(settings, token),
        content_type=JSON,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
    return answer, True
