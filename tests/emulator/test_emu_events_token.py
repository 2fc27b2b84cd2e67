"""The emulator's OAuth 2.0 token endpoint, its answer styles, and the Event API
credentials: configuration, runtime changes, revocation and reset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import pytest

from rokt_async.emulator import TOKEN_DOCS, TOKEN_NO_EXPIRY, Emulator
from tests.emulator._helpers import T0
from tests.emulator.test_emu_events import (
    ACCEPTED,
    APP_AUTH,
    FORM,
    V2_AUTH,
    basic,
    batch,
    call,
    get_token,
    send_v2,
    v1_headers,
)

if TYPE_CHECKING:
    import aiohttp

GRANT: Final = b"grant_type=client_credentials"


async def ask_token(
    http: aiohttp.ClientSession,
    emulator: Emulator,
    body: bytes = GRANT,
    **headers: str | None,
) -> tuple[int, Any]:
    """POST /auth/oauth2/token with the default app unless told otherwise."""
    sent: dict[str, str | None] = {"Authorization": APP_AUTH, "Content-Type": FORM}
    sent.update(headers)
    present = {k: v for k, v in sent.items() if v is not None}
    return await call(http, emulator.url + "/auth/oauth2/token", body, present)


async def v1_status(http: aiohttp.ClientSession, emulator: Emulator, token: str) -> int:
    """The status /v1/events answers a one-event batch sent with ``token``."""
    headers = v1_headers(token, key=f"k-{token[:12]}-{emulator.now()}")
    return (await call(http, emulator.url + "/v1/events", batch(), headers))[0]


# --- the endpoint -----------------------------------------------------------------


async def test_token_answers_standard_oauth_body_when_app_is_known(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """200 with access_token, token_type Bearer and expires_in 3600, in that
    order; the token opens /v1/events."""
    status, answer = await ask_token(http, emulator)
    assert status == 200
    assert list(answer) == ["access_token", "token_type", "expires_in"]
    assert (answer["token_type"], answer["expires_in"]) == ("Bearer", 3600)
    assert await v1_status(http, emulator, answer["access_token"]) == 200


async def test_token_is_new_on_every_request(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """Two requests get two different tokens, both valid."""
    first, second = await get_token(http, emulator), await get_token(http, emulator)
    assert first != second
    assert [await v1_status(http, emulator, t) for t in (first, second)] == [200, 200]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        basic("test-app", "wrong"),
        basic("other-app", "test-app-secret"),
        V2_AUTH,
        "Bearer test-app-secret",
    ],
    ids=["missing", "wrong-secret", "unknown-app", "event-key-pair", "bearer"],
)
async def test_token_gets_401_invalid_client_when_app_is_wrong(
    emulator: Emulator, http: aiohttp.ClientSession, authorization: str | None
) -> None:
    """Anything but a configured app's Basic pair is 401 invalid_client with a
    Basic challenge, and no token is issued."""
    url = emulator.url + "/auth/oauth2/token"
    headers = {"Content-Type": FORM}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with http.post(url, data=GRANT, headers=headers) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")
        assert await response.json() == {"error": "invalid_client"}
    assert emulator.ledger().tokens_issued == 0


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (GRANT, "application/json", "invalid_request"),
        (GRANT, None, "invalid_request"),
        (b"", FORM, "invalid_request"),
        (b"scope=x", FORM, "invalid_request"),
        (GRANT + b"&" + GRANT, FORM, "invalid_request"),
        (b"grant_type=password", FORM, "unsupported_grant_type"),
        (b"grant_type=", FORM, "unsupported_grant_type"),
    ],
    ids=["json", "no-type", "empty", "no-grant", "two-grants", "password", "blank"],
)
async def test_token_gets_400_when_form_or_grant_is_wrong(
    emulator: Emulator,
    http: aiohttp.ClientSession,
    body: bytes,
    content_type: str | None,
    error: str,
) -> None:
    """A body that is not one client_credentials grant in a form is 400."""
    status, answer = await ask_token(
        http, emulator, body, **{"Content-Type": content_type}
    )
    assert (status, answer) == (400, {"error": error})
    assert emulator.ledger().tokens_issued == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (GRANT, "application/X-www-form-urlencoded"),
        (GRANT, FORM + "; charset=utf-8"),
        (GRANT + b"&scope=events", FORM),
    ],
    ids=["docs-casing", "charset", "scope"],
)
async def test_token_is_issued_when_form_varies_harmlessly(
    emulator: Emulator, http: aiohttp.ClientSession, body: bytes, content_type: str
) -> None:
    """The docs' capital X, a charset and extra form fields are all accepted."""
    status, _ = await ask_token(http, emulator, body, **{"Content-Type": content_type})
    assert status == 200


async def test_token_gets_405_when_method_is_not_post(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """GET on the token path is 405 invalid_request."""
    url = emulator.url + "/auth/oauth2/token"
    async with http.get(url, headers={"Authorization": APP_AUTH}) as response:
        assert (response.status, response.headers["Allow"]) == (405, "POST")
        assert await response.json() == {"error": "invalid_request"}


async def test_ledger_counts_every_token_request_and_each_token_issued(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """token_requests counts refused ones too; tokens_issued only successes."""
    await ask_token(http, emulator)
    await ask_token(http, emulator, Authorization=None)
    await ask_token(http, emulator, b"grant_type=password")
    ledger = emulator.ledger()
    assert (ledger.token_requests, ledger.tokens_issued) == (3, 1)


async def test_token_request_is_recorded_with_headers_and_body(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """Token requests are recorded under endpoint ``token``."""
    await ask_token(http, emulator)
    (recorded,) = emulator.requests("token")
    assert (recorded.path, recorded.body) == ("/auth/oauth2/token", GRANT)
    assert recorded.headers["authorization"] == APP_AUTH
    assert recorded.headers["content-type"] == FORM
    assert emulator.requests("events") == []


# --- answer styles and lifetime -----------------------------------------------------


@pytest.mark.parametrize(
    ("style", "keys"),
    [(TOKEN_DOCS, ["Access_token"]), (TOKEN_NO_EXPIRY, ["access_token", "token_type"])],
)
async def test_token_answer_follows_style_and_token_still_works(
    http: aiohttp.ClientSession, style: str, keys: list[str]
) -> None:
    """The docs' spelling and the no-expiry shape carry a usable token."""
    async with Emulator(clock=lambda: T0, token_response=style) as emu:
        status, answer = await ask_token(http, emu)
        assert (status, list(answer)) == (200, keys)
        assert await v1_status(http, emu, answer[keys[0]]) == 200


async def test_token_style_and_ttl_change_at_runtime_until_reset(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """set_token_options changes the next answers; reset() restores the built ones."""
    emulator.set_token_options(ttl=90.5, response=TOKEN_DOCS)
    assert (emulator.token_ttl, emulator.token_response) == (90.5, TOKEN_DOCS)
    assert list((await ask_token(http, emulator))[1]) == ["Access_token"]
    emulator.set_token_options(response="standard")
    assert (await ask_token(http, emulator))[1]["expires_in"] == 90
    emulator.reset()
    assert (emulator.token_ttl, emulator.token_response) == (3600.0, "standard")


async def test_token_lifetime_follows_token_ttl(http: aiohttp.ClientSession) -> None:
    """expires_in is the TTL in whole seconds, and the token lapses exactly then."""
    async with Emulator(clock=lambda: T0, token_ttl=60.0) as emu:
        status, answer = await ask_token(http, emu)
        assert (status, answer["expires_in"]) == (200, 60)
        emu.advance_clock(59.9)
        assert await v1_status(http, emu, answer["access_token"]) == 200
        emu.advance_clock(0.1)
        assert await v1_status(http, emu, answer["access_token"]) == 401


# --- credentials at runtime -----------------------------------------------------------


async def test_revoke_tokens_ends_every_token_issued_so_far(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """After revoke_tokens an old token is 401, and a new one works."""
    old = await get_token(http, emulator)
    assert emulator.revoke_tokens() == 1
    assert await v1_status(http, emulator, old) == 401
    assert await v1_status(http, emulator, await get_token(http, emulator)) == 200


async def test_event_credentials_change_at_runtime_until_reset(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """New pairs replace the old ones for both endpoints; reset() restores them;
    a token issued before the change keeps working until it expires."""
    before = await get_token(http, emulator)
    emulator.set_event_credentials(
        event_keys={"rpub-new": "rsec-new"}, oauth_apps={"app-new": "s:with:colons"}
    )
    assert dict(emulator.event_keys) == {"rpub-new": "rsec-new"}
    assert dict(emulator.oauth_apps) == {"app-new": "s:with:colons"}
    assert (await send_v2(http, emulator, batch()))[0] == 401
    new_pair = basic("rpub-new", "rsec-new")
    assert await send_v2(http, emulator, batch(), Authorization=new_pair) == (
        200,
        ACCEPTED,
    )
    assert (await ask_token(http, emulator))[0] == 401
    assert (
        await ask_token(http, emulator, Authorization=basic("app-new", "s:with:colons"))
    )[0] == 200
    assert await v1_status(http, emulator, before) == 200
    emulator.reset()
    assert dict(emulator.event_keys) == {"rpub-test": "rsec-test"}
    assert (await send_v2(http, emulator, batch()))[0] == 200
    assert await v1_status(http, emulator, before) == 401  # reset forgot tokens


async def test_set_event_credentials_keeps_what_is_not_given(
    emulator: Emulator,
) -> None:
    """Leaving a mapping out (None) keeps its pairs."""
    emulator.set_event_credentials(event_keys={"rpub-2": "rsec-2"})
    assert dict(emulator.oauth_apps) == {"test-app": "test-app-secret"}


def test_credential_views_are_read_only() -> None:
    """The properties are views: tests change credentials through the setters."""
    emu = Emulator()
    with pytest.raises(TypeError):
        emu.event_keys["rpub-x"] = "rsec-x"  # type: ignore[index]
    with pytest.raises(TypeError):
        emu.oauth_apps["app"] = "secret"  # type: ignore[index]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"event_keys": {"rpub": ""}}, ValueError),
        ({"event_keys": {"": "rsec"}}, ValueError),
        ({"oauth_apps": {"app:x": "secret"}}, ValueError),
        ({"oauth_apps": {"app": "sec\nret"}}, ValueError),
        ({"token_ttl": 0.0}, ValueError),
        ({"token_ttl": float("inf")}, ValueError),
        ({"token_response": "Docs"}, ValueError),
        ({"refused_event_types": "conversion"}, TypeError),
    ],
)
def test_emulator_refuses_event_options_when_out_of_range(
    options: dict[str, Any], error: type[Exception]
) -> None:
    """Unusable credentials, TTLs, styles and a bare string of types are refused."""
    with pytest.raises(error):
        Emulator(**options)


def test_setters_refuse_values_and_change_nothing_when_out_of_range() -> None:
    """A refused change leaves the settings as they were."""
    emu = Emulator()
    with pytest.raises(ValueError, match="token_ttl"):
        emu.set_token_options(ttl=-1.0)
    with pytest.raises(ValueError, match="':'"):
        emu.set_event_credentials(event_keys={"a:b": "c"})
    assert (emu.token_ttl, dict(emu.event_keys)) == (3600.0, {"rpub-test": "rsec-test"})


def test_repr_never_shows_event_secrets() -> None:
    """The emulator's repr shows no Event API secret."""
    emu = Emulator(event_keys={"rpub-x": "rsec-CANARY"}, oauth_apps={"a": "app-CANARY"})
    assert "CANARY" not in repr(emu)
