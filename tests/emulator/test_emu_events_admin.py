"""The Event API's admin endpoints and CLI flags."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import pytest

from rokt_async.emulator import UNPROCESSED
from rokt_async.emulator.__main__ import build, parse_args
from tests.emulator._helpers import admin
from tests.emulator.test_emu_events import (
    ACCEPTED,
    basic,
    batch,
    call,
    event,
    get_token,
    send_v2,
    v1_headers,
)

if TYPE_CHECKING:
    import aiohttp

    from rokt_async.emulator import Emulator


# --- admin endpoints ------------------------------------------------------------------


async def test_event_credentials_endpoint_changes_pairs_and_never_shows_secrets(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """POST replaces pairs like set_event_credentials; answers list only ids."""
    assert await admin(http, emulator, "event-credentials") == (
        200,
        {"event_keys": ["rpub-test"], "oauth_apps": ["test-app"]},
    )
    command = {"event_keys": {"rpub-b": "rsec-b", "rpub-a": "rsec-a"}}
    answer = await admin(http, emulator, "event-credentials", command)
    assert answer == (
        200,
        {"event_keys": ["rpub-a", "rpub-b"], "oauth_apps": ["test-app"]},
    )
    assert "rsec" not in str(answer)
    pair = basic("rpub-a", "rsec-a")
    assert (await send_v2(http, emulator, batch(), Authorization=pair))[0] == 200
    assert (await send_v2(http, emulator, batch()))[0] == 401


async def test_event_settings_endpoint_changes_ttl_style_and_refused_types(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """POST changes any of the three; GET answers them all."""
    command = {"token_ttl": 30, "refused_event_types": ["b", "a"]}
    expected = {
        "token_ttl": 30.0,
        "token_response": "standard",
        "refused_event_types": ["a", "b"],
    }
    assert await admin(http, emulator, "event-settings", command) == (200, expected)
    assert await admin(
        http, emulator, "event-settings", {"token_response": "docs"}
    ) == (
        200,
        {**expected, "token_response": "docs"},
    )
    assert emulator.token_ttl == 30.0
    assert emulator.refused_event_types == frozenset({"a", "b"})


async def test_revoke_tokens_endpoint_ends_tokens(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """POST /_emulator/revoke-tokens answers how many tokens it ended."""
    token = await get_token(http, emulator)
    assert await admin(http, emulator, "revoke-tokens", b"") == (200, {"revoked": 1})
    url = emulator.url + "/v1/events"
    assert (await call(http, url, batch(), v1_headers(token)))[0] == 401


async def test_faults_endpoint_scripts_unprocessed_for_events(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """The fault kind ``unprocessed`` can be planned over HTTP too."""
    command = {"action": "fail_next", "endpoint": "events", "kind": UNPROCESSED}
    assert await admin(http, emulator, "faults", command) == (200, {})
    status, answer = await send_v2(http, emulator, batch())
    assert (status, len(answer["data"]["unprocessedRecords"])) == (200, 1)


@pytest.mark.parametrize(
    ("path", "command", "code"),
    [
        ("event-credentials", {"event_keys": {"a:b": "c"}}, "InvalidValue"),
        ("event-credentials", {"event_keys": ["rpub"]}, "ValidationError"),
        ("event-credentials", {"keys": {}}, "ValidationError"),
        ("event-settings", {"token_ttl": 0}, "InvalidValue"),
        ("event-settings", {"token_response": "Docs"}, "InvalidValue"),
        ("event-settings", b"{", "ValidationError"),
    ],
)
async def test_event_admin_endpoints_answer_400_when_command_is_wrong(
    emulator: Emulator, http: aiohttp.ClientSession, path: str, command: Any, code: str
) -> None:
    """Bad shapes and values are 400 and change nothing."""
    status, body = await admin(http, emulator, path, command)
    assert (status, body["errors"][0]["code"]) == (400, code)
    assert (dict(emulator.event_keys), emulator.token_ttl) == (
        {"rpub-test": "rsec-test"},
        3600.0,
    )


async def test_event_admin_paths_answer_405_when_method_is_wrong(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """revoke-tokens takes POST only."""
    assert (await admin(http, emulator, "revoke-tokens"))[0] == 405


# --- CLI flags ------------------------------------------------------------------------


def test_cli_flags_configure_the_event_api() -> None:
    """--event-key, --oauth-app, --token-ttl, --token-response and
    --refuse-event-type reach the emulator."""
    args = parse_args(
        [
            "--port=0",
            "--event-key=rpub-1:rsec-1",
            "--event-key=rpub-2:rsec:2",
            "--oauth-app=app-1:secret-1",
            "--token-ttl=60",
            "--token-response=no_expiry",
            "--refuse-event-type=signup",
            "--refuse-event-type=view",
            "--fail-next=events:unprocessed:1",
        ]
    )
    emu = build(args)
    assert dict(emu.event_keys) == {"rpub-1": "rsec-1", "rpub-2": "rsec:2"}
    assert dict(emu.oauth_apps) == {"app-1": "secret-1"}
    assert (emu.token_ttl, emu.token_response) == (60.0, "no_expiry")
    assert emu.refused_event_types == {"signup", "view"}
    assert emu.faults.pending("events") == 1


def test_cli_defaults_keep_the_public_test_credentials() -> None:
    """Without the flags the emulator accepts the documented test pairs."""
    emu = build(parse_args(["--port=0"]))
    assert dict(emu.event_keys) == {"rpub-test": "rsec-test"}
    assert dict(emu.oauth_apps) == {"test-app": "test-app-secret"}
    assert (emu.token_ttl, emu.token_response, emu.refused_event_types) == (
        3600.0,
        "standard",
        frozenset(),
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--event-key=rsec-CANARY"],
        ["--oauth-app=:app-CANARY"],
        ["--token-response=jwt"],
    ],
)
def test_cli_refuses_bad_event_flags_without_echoing_secrets(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed pair or style exits 2, and the usage message hides the secret."""
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    assert "CANARY" not in capsys.readouterr().err


def test_cli_build_refuses_bad_token_ttl() -> None:
    """A TTL of 0 is refused when the emulator is built (main exits 2)."""
    with pytest.raises(ValueError, match="token_ttl"):
        build(parse_args(["--token-ttl=0"]))


async def test_cli_flags_serve_the_configured_pair(http: aiohttp.ClientSession) -> None:
    """An emulator built from flags accepts its pair over a socket (on the real
    clock, so the event is stamped with the emulator's now)."""
    emu = build(parse_args(["--port=0", "--event-key=rpub-cli:rsec-cli"]))
    async with emu:
        now = datetime.datetime.fromtimestamp(emu.now(), tz=datetime.UTC)
        body = batch(event(eventTime=now.isoformat()))
        pair = basic("rpub-cli", "rsec-cli")
        assert await send_v2(http, emu, body, Authorization=pair) == (200, ACCEPTED)
        assert emu.requests() == []  # the CLI keeps no recorded requests
        assert emu.ledger().events_applied == 1
