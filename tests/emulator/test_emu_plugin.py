"""The opt-in pytest plugin: rokt_emulator and rokt_client, in any asyncio mode."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from tests.emulator._helpers import child_env, confirm_quantity, reserve_request

if TYPE_CHECKING:
    from pathlib import Path

    from rokt_async import RoktClient
    from rokt_async.emulator import Emulator

#: A partner's test module, run in a separate pytest process.
PARTNER_TESTS = """
import pytest

from rokt_async import ConfirmItem, ConfirmRequest, ReserveItem, ReserveRequest


def test_sync_test_dirties_emulator(rokt_emulator):
    rokt_emulator.faults.fail_next("reserve", "500")
    rokt_emulator.advance_clock(60)
    assert rokt_emulator.url.startswith("http://127.0.0.1:")


def test_next_test_sees_reset_emulator(rokt_emulator):
    assert rokt_emulator.faults.pending("reserve") == 0
    assert rokt_emulator.requests() == []


@pytest.mark.asyncio
async def test_client_reaches_emulator(rokt_client, rokt_emulator):
    request = ReserveRequest(
        cart_id="c", items=(ReserveItem(cart_item_id="i", quantity=1),)
    )
    assert (await rokt_client.reserve_cart(request)).items
    assert len(rokt_emulator.requests("reserve")) == 1


@pytest.mark.asyncio
async def test_client_retries_without_buying_twice(rokt_client, rokt_emulator):
    rokt_emulator.faults.fail_next("confirm", "504_after")
    request = ConfirmRequest(
        cart_id="c", order_id="o", items=(ConfirmItem(cart_item_id="i", quantity=1),)
    )
    assert (await rokt_client.confirm_cart(request)).is_complete
    assert len(rokt_emulator.requests("confirm")) == 2
    assert rokt_emulator.ledger().confirmations("c", "i") == 1
"""


async def test_rokt_client_fixture_talks_to_rokt_emulator(
    rokt_client: RoktClient, rokt_emulator: Emulator
) -> None:
    """The plugin's client reaches the plugin's emulator and retries without waits."""
    rokt_emulator.faults.fail_next("confirm", "504_before")
    response = await rokt_client.confirm_cart(confirm_quantity("c", "o", i=1))
    assert response.is_complete
    assert len(rokt_emulator.requests("confirm")) == 2
    assert (await rokt_client.reserve_cart(reserve_request())).items


def test_rokt_emulator_fixture_is_synchronous(rokt_emulator: Emulator) -> None:
    """A plain sync test gets a serving, freshly reset emulator."""
    assert rokt_emulator.is_serving
    assert rokt_emulator.requests() == []
    assert not rokt_emulator.faults.is_armed


@pytest.mark.parametrize("mode", ["strict", "auto"])
async def test_plugin_works_for_partners_when_asyncio_mode_is(
    tmp_path: Path, mode: str
) -> None:
    """A partner suite opting in with pytest_plugins passes in strict and auto mode."""
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["rokt_async.testing"]\n')
    (tmp_path / "test_partner.py").write_text(textwrap.dedent(PARTNER_TESTS))
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\n"
        f"asyncio_mode = {mode}\n"
        "asyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(tmp_path),
        str(tmp_path),
        cwd=tmp_path,
        env=child_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=50)
    report = out.decode()
    assert process.returncode == 0, report
    assert "4 passed" in report
