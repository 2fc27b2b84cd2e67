"""Starting and stopping: async mode, background-thread mode and the CLI."""

from __future__ import annotations

import asyncio
import http.client
import signal
import socket
import sys
from typing import TYPE_CHECKING

import aiohttp
import msgspec
import pytest

from rokt_async import NO_RETRY, RoktClient
from rokt_async.emulator import Emulator
from rokt_async.emulator.__main__ import build, parse_args
from tests.emulator._helpers import (
    KEY,
    TAG,
    child_env,
    confirm_quantity,
    reserve_request,
    rokt_headers,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

A_CONFIRM_BODY = (
    b'{"cartId":"c","orderId":"o","items":[{"cartItemId":"i","quantity":1}]}'
)


def sync_post(url: str, path: str, body: bytes) -> tuple[int, bytes]:
    """POST from synchronous code with the standard library; status and body."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", path, body=body, headers=rokt_headers())
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def port_is_closed(url: str) -> bool:
    """True when nothing accepts connections at ``url`` any more."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


# --- async mode -----------------------------------------------------------------------


async def test_async_mode_serves_until_block_exits() -> None:
    """``async with`` serves on the running loop and closes the port on exit."""
    async with Emulator(api_key=KEY, tag_id=TAG) as emu:
        url = emu.url
        async with RoktClient(
            api_key=KEY, tag_id=TAG, base_url=url, retry=NO_RETRY
        ) as client:
            assert (await client.reserve_cart(reserve_request())).items
    assert port_is_closed(url)
    with pytest.raises(RuntimeError, match="not serving"):
        _ = emu.url


async def test_start_refuses_emulator_when_started_before() -> None:
    """An emulator is started once; stop is idempotent."""
    emu = Emulator()
    async with emu:
        with pytest.raises(RuntimeError, match="started once"):
            await emu.start()
    await emu.stop()
    with pytest.raises(RuntimeError, match="started once"):
        await emu.start()


async def test_start_raises_os_error_when_port_is_taken() -> None:
    """Binding a port in use fails with OSError and leaves nothing serving."""
    async with Emulator() as first:
        port = int(first.url.rsplit(":", 1)[1])
        second = Emulator(port=port)
        with pytest.raises(OSError, match=str(port)):
            await second.start()
        assert not second.is_serving


def test_url_host_is_bracketed_when_ipv6() -> None:
    """An IPv6 loopback emulator's URL puts the address in brackets."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 support")
    try:
        with Emulator(host="::1") as emu:
            assert emu.url.startswith("http://[::1]:")
    except OSError:
        pytest.skip("cannot bind ::1 here")


@pytest.mark.parametrize(
    "options",
    [
        {"api_key": ""},
        {"tag_id": ""},
        {"reservation_ttl": 0.0},
        {"keepalive_timeout": -1.0},
        {"default_stock": -1},
    ],
)
def test_emulator_refuses_options_when_out_of_range(options: dict[str, object]) -> None:
    """Empty credentials and non-positive durations or negative stock are refused."""
    with pytest.raises(ValueError, match="must"):
        Emulator(**options)  # type: ignore[arg-type]


def test_repr_never_shows_api_key() -> None:
    """The repr names the tag id but not the key."""
    emu = Emulator(api_key="very-secret-key", tag_id="tag-x")
    assert "very-secret-key" not in repr(emu)
    assert "tag-x" in repr(emu)


# --- background-thread mode ---------------------------------------------------------


def test_thread_mode_serves_sync_code_while_controls_run() -> None:
    """``with`` serves from a thread; faults, ledger and reset work from this one."""
    with Emulator(api_key=KEY, tag_id=TAG) as emu:
        emu.faults.fail_next("confirm", "504_after")
        assert sync_post(emu.url, "/v1/cart/confirm", A_CONFIRM_BODY)[0] == 504
        assert sync_post(emu.url, "/v1/cart/confirm", A_CONFIRM_BODY)[0] == 200
        ledger = emu.ledger()
        assert ledger.confirmations("c", "i") == 1
        assert ledger.replays == {"confirm c/i": 1}
        emu.reset()
        assert emu.requests() == []
        url = emu.url
    assert port_is_closed(url)


async def test_thread_mode_serves_client_on_another_loop() -> None:
    """A thread-mode emulator serves a client running on the test's own loop."""
    with Emulator(api_key=KEY, tag_id=TAG) as emu:
        async with RoktClient(
            api_key=KEY, tag_id=TAG, base_url=emu.url, retry=NO_RETRY
        ) as client:
            response = await client.confirm_cart(confirm_quantity("c", "o", i=1))
        assert response.is_complete
        assert len(emu.requests("confirm")) == 1


async def test_thread_mode_controls_are_safe_while_requests_flow() -> None:
    """Controls called from another thread during a burst leave the books balanced."""
    with Emulator(api_key=KEY, tag_id=TAG) as emu:

        def poke() -> None:
            for _ in range(50):
                emu.faults.fail_next("placements", "500")
                ledger = emu.ledger()
                assert ledger.is_stock_conserved
                assert ledger.duplicates == ()
                emu.requests("confirm")
            emu.faults.clear()

        async with RoktClient(
            api_key=KEY, tag_id=TAG, base_url=emu.url, retry=NO_RETRY
        ) as client:
            poking = asyncio.create_task(asyncio.to_thread(poke))
            results = await asyncio.gather(
                *(
                    client.confirm_cart(confirm_quantity(f"cart-{n}", "o", i=1))
                    for n in range(200)
                )
            )
            await poking
        assert all(result.is_complete for result in results)
        ledger = emu.ledger()
        assert ledger.count("confirm") == 200
        assert ledger.stock["i"].confirmed == 200
        assert len(emu.requests("confirm")) == 200


def test_thread_mode_raises_os_error_when_port_is_taken() -> None:
    """A bind failure in the server thread is raised in the caller, thread gone."""
    with Emulator() as first:
        port = int(first.url.rsplit(":", 1)[1])
        second = Emulator(port=port)
        with pytest.raises(OSError, match=str(port)), second:
            pass
        assert not second.is_serving
        second.close()  # idempotent after a failed start


def test_thread_mode_refuses_emulator_when_started_before() -> None:
    """A thread-mode emulator cannot be entered twice."""
    with Emulator() as emu, pytest.raises(RuntimeError, match="started once"), emu:
        pass


# --- command line ------------------------------------------------------------------


async def start_cli(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    """Start ``python -m rokt_async.emulator --port 0 ...``; the process and URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rokt_async.emulator",
        "--port",
        "0",
        *args,
        env=child_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
    return process, line.decode().strip()


async def stop_cli(
    process: asyncio.subprocess.Process, signum: int
) -> tuple[int, bytes, bytes]:
    """Send ``signum``; the exit status and what was left on stdout and stderr."""
    process.send_signal(signum)
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, out, err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_cli_prints_url_and_exits_cleanly_when_signalled(signum: int) -> None:
    """The CLI prints one URL line, serves with its flags, and exits 0 on a signal."""
    process, url = await start_cli(
        "--api-key", "cli-secret-key", "--tag-id", "cli-tag", "--seed", "3"
    )
    try:
        assert url.startswith("http://127.0.0.1:")
        headers = rokt_headers(
            **{"rokt-api-key": "cli-secret-key", "rokt-tag-id": "cli-tag"}
        )
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                url + "/v1/cart/confirm", data=A_CONFIRM_BODY, headers=headers
            ) as response,
        ):
            assert response.status == 200
    finally:
        code, out, err = await stop_cli(process, signum)
    assert (code, out, err) == (0, b"", b"")


async def test_cli_applies_fault_flags_when_given() -> None:
    """``--fault ENDPOINT:KIND:RATE`` faults requests from the first one."""
    process, url = await start_cli("--fault", "confirm:504_before:1.0")
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                url + "/v1/cart/confirm",
                data=A_CONFIRM_BODY,
                headers=rokt_headers(
                    **{"rokt-api-key": "test-key", "rokt-tag-id": "test-tag"}
                ),
            ) as response,
        ):
            assert response.status == 504
    finally:
        code, _, _ = await stop_cli(process, signal.SIGTERM)
    assert code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "confirm:teapot:0.5"], b"unknown fault kind"),
        (["--fault", "confirm"], b"ENDPOINT:KIND:NUMBER"),
        (["--fail-next", "confirm:500:1.5"], b"whole"),
        (["--item", "parking"], b"ID=STOCK"),
    ],
)
async def test_cli_exits_with_usage_error_when_flags_are_wrong(
    args: Sequence[str], message: bytes
) -> None:
    """Wrong flags exit with status 2 and a message, without serving."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rokt_async.emulator",
        *args,
        env=child_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert (process.returncode, out) == (2, b"")
    assert message in err


def test_cli_flags_build_catalog_and_faults() -> None:
    """Catalog items, rates and scripted faults from flags reach the emulator."""
    emu = build(
        parse_args(
            [
                "--api-key",
                KEY,
                "--tag-id",
                TAG,
                "--item",
                "parking=3:5.5:EUR",
                "--item",
                "lounge=0",
                "--fail-next",
                "reserve:500:2",
                "--fault",
                "*:delay:0.5:max_ms=10",
                "--placements-result",
                "false",
            ]
        )
    )
    stock = emu.ledger().stock
    assert (stock["parking"].available, stock["lounge"].available) == (3, 0)
    assert emu.faults.pending("reserve") == 2
    emu.faults.clear()
    with emu:
        reserve = b'{"cartId":"c","items":[{"cartItemId":"parking","quantity":2}]}'
        status, body = sync_post(emu.url, "/v1/cart/reserve", reserve)
    assert status == 200
    (item,) = msgspec.json.decode(body)["items"]
    assert (item["unitPrice"], item["totalPrice"], item["currency"]) == (
        5.5,
        11.0,
        "EUR",
    )


async def test_cli_emulator_keeps_no_request_copies_but_counts_them() -> None:
    """A CLI emulator under load does not grow with every request it serves."""
    emu = build(parse_args(["--api-key", KEY, "--tag-id", TAG, "--port", "0"]))
    async with emu, RoktClient(api_key=KEY, tag_id=TAG, base_url=emu.url) as client:
        for n in range(3):
            await client.confirm_cart(confirm_quantity(f"c{n}", f"o{n}", parking=1))
        assert emu.requests() == []
        assert emu.ledger().requests == 3
