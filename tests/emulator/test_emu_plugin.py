"""The opt-in pytest plugin: rokt_emulator and rokt_client, in any asyncio mode."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from rokt_async.emulator import REJECT, REPLAY
from tests.emulator._helpers import child_env, confirm_reserved, reserve_request

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
    reserved = await rokt_client.reserve_cart(
        ReserveRequest(cart_id="c", items=(ReserveItem(cart_item_id="i", quantity=1),))
    )
    rokt_emulator.faults.fail_next("confirm", "504_after")
    request = ConfirmRequest(
        cart_id="c",
        order_id="o",
        items=(
            ConfirmItem(
                cart_item_id="i",
                item_reservation_id=reserved.items[0].item_reservation_id,
            ),
        ),
    )
    assert (await rokt_client.confirm_cart(request)).is_complete
    assert len(rokt_emulator.requests("confirm")) == 2
    assert rokt_emulator.ledger().confirmations("c", "i") == 1
"""

#: A partner's tests of the resend mode, run with ``rokt_emulator_resend = reject``.
RESEND_TESTS = """
import pytest

from rokt_async import ConfirmItem, ConfirmRequest


def test_ini_option_sets_session_default(rokt_emulator):
    assert rokt_emulator.resend == "reject"


@pytest.mark.rokt_resend("duplicate")
def test_marker_sets_mode_for_one_test(rokt_emulator):
    assert rokt_emulator.resend == "duplicate"
    rokt_emulator.set_resend("replay")


def test_next_test_is_back_to_ini_default(rokt_emulator):
    assert rokt_emulator.resend == "reject"


@pytest.mark.rokt_resend("duplicate")
@pytest.mark.asyncio
async def test_marker_applies_to_rokt_client_too(rokt_client, rokt_emulator):
    request = ConfirmRequest(
        cart_id="c", order_id="o", items=(ConfirmItem(cart_item_id="i", quantity=1),)
    )
    await rokt_client.confirm_cart(request)
    await rokt_client.confirm_cart(request)
    assert rokt_emulator.ledger().duplicates == ("confirm c/i",)
"""


async def run_partner_suite(
    tmp_path: Path, tests: str, *ini_lines: str
) -> tuple[int | None, str]:
    """Run ``tests`` with the plugin in a separate pytest; exit status and report."""
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["rokt_async.testing"]\n')
    (tmp_path / "test_partner.py").write_text(textwrap.dedent(tests))
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\n"
        "asyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n" + "".join(line + "\n" for line in ini_lines)
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
    return process.returncode, out.decode()


async def test_rokt_client_fixture_talks_to_rokt_emulator(
    rokt_client: RoktClient, rokt_emulator: Emulator
) -> None:
    """The plugin's client reaches the plugin's emulator and retries without waits."""
    reserved = await rokt_client.reserve_cart(reserve_request("c", i=1))
    rokt_emulator.faults.fail_next("confirm", "504_before")
    response = await rokt_client.confirm_cart(
        confirm_reserved("c", "o", ("i", reserved.items[0].item_reservation_id))
    )
    assert response.is_complete
    assert len(rokt_emulator.requests("confirm")) == 2


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
    code, report = await run_partner_suite(
        tmp_path, PARTNER_TESTS, f"asyncio_mode = {mode}"
    )
    assert code == 0, report
    assert "4 passed" in report


def test_rokt_emulator_fixture_replays_resends_when_test_is_unmarked(
    rokt_emulator: Emulator,
) -> None:
    """With no marker and no ini option, the plugin's emulator is in replay mode."""
    assert rokt_emulator.resend == REPLAY


@pytest.mark.rokt_resend("reject")
def test_rokt_emulator_fixture_takes_resend_mode_when_test_is_marked(
    rokt_emulator: Emulator,
) -> None:
    """``@pytest.mark.rokt_resend(mode)`` puts the plugin's emulator in that mode."""
    assert rokt_emulator.resend == REJECT


async def test_plugin_resend_ini_and_marker_work_when_config_is_strict(
    tmp_path: Path,
) -> None:
    """The ini option sets the default, a marker one test's, under strict config."""
    code, report = await run_partner_suite(
        tmp_path,
        RESEND_TESTS,
        "asyncio_mode = strict",
        "addopts = --strict-markers --strict-config",
        "rokt_emulator_resend = reject",
    )
    assert code == 0, report
    assert "4 passed" in report


@pytest.mark.parametrize(
    ("tests", "ini_line", "message"),
    [
        (
            "def test_x(rokt_emulator):\n    pass\n",
            "rokt_emulator_resend = twice",
            "rokt_emulator_resend must be one of replay, reject, duplicate",
        ),
        (
            "import pytest\n\n@pytest.mark.rokt_resend('twice')\n"
            "def test_x(rokt_emulator):\n    pass\n",
            "rokt_emulator_resend = replay",
            "rokt_resend takes one mode",
        ),
    ],
    ids=["ini", "marker"],
)
async def test_plugin_refuses_resend_mode_when_unknown(
    tmp_path: Path, tests: str, ini_line: str, message: str
) -> None:
    """An unknown mode in the ini option or a marker fails the run and says why."""
    code, report = await run_partner_suite(tmp_path, tests, ini_line)
    assert code != 0, report
    assert message in report
