"""The opt-in pytest plugin: rokt_emulator and rokt_client, in any asyncio mode."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import textwrap
import threading
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, NamedTuple

import pytest

from rokt_async import EventLoopMismatchError, PlacementsRequest
from rokt_async.emulator import REJECT, REPLAY
from tests.emulator._helpers import child_env, confirm_reserved, reserve_request

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from rokt_async import RoktClient
    from rokt_async.emulator import Emulator
    from rokt_async.testing import RoktClientFactory

PLACEMENTS: Final = PlacementsRequest(cart_id="c", page_identifier="checkout")

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


@pytest.mark.asyncio
async def test_factory_client_reaches_emulator(rokt_client_factory, rokt_emulator):
    client = await rokt_client_factory()
    await client.reserve_cart(
        ReserveRequest(cart_id="c", items=(ReserveItem(cart_item_id="i", quantity=1),))
    )
    assert len(rokt_emulator.requests("reserve")) == 1
"""

#: The README's pyproject.toml, conftest.py and test module (less file-name comments).
README_PYPROJECT = """
[tool.pytest.ini_options]
asyncio_mode = "strict"  # pytest-asyncio's default; "auto" needs no marks
asyncio_default_fixture_loop_scope = "function"  # unset, pytest-asyncio warns
filterwarnings = ["error"]  # optional: the plugin's fixtures raise no warnings
"""
README_CONFTEST = """
pytest_plugins = ["rokt_async.testing"]
"""
README_TEST = """
import pytest

from rokt_async import ConfirmItem, ConfirmRequest, ReserveItem, ReserveRequest


@pytest.mark.asyncio  # strict mode runs only the async tests marked so
async def test_lost_confirm_reply_buys_once(rokt_emulator, rokt_client):
    cart = ReserveRequest(
        cart_id="c1", items=(ReserveItem(cart_item_id="spot", quantity=1),)
    )
    rid = (await rokt_client.reserve_cart(cart)).items[0].item_reservation_id
    rokt_emulator.faults.fail_next("confirm", "504_after")  # the reply is lost once
    item = ConfirmItem(cart_item_id="spot", item_reservation_id=rid)
    confirm = ConfirmRequest(cart_id="c1", order_id="o1", items=(item,))
    assert (await rokt_client.confirm_cart(confirm)).is_complete  # retried
    assert rokt_emulator.ledger().duplicates == ()  # and never bought twice
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


#: The ini lines every partner suite gets unless a test gives its own.
BASE_INI: Final = (
    "asyncio_default_fixture_loop_scope = function",
    "filterwarnings = error",
)


class PartnerRun(NamedTuple):
    """A partner suite's exit status and report (run with ``-rA``)."""

    code: int | None
    report: str

    def outcomes(self, test: str) -> set[str]:
        """Every outcome ``-rA`` reported for ``test`` (PASSED, ERROR...)."""
        pattern = rf"^([A-Z]+) \S*::{re.escape(test)}(?: - .*)?$"
        return {m[1] for m in re.finditer(pattern, self.report, re.MULTILINE)}


def write_partner_suite(
    root: Path,
    tests: str,
    ini_lines: Sequence[str],
    files: Mapping[str, str] = MappingProxyType({}),
) -> list[str]:
    """Write a partner's suite under ``root``; the command that runs it.

    ``files`` adds or replaces files (``conftest.py``, app modules...); an empty
    ``ini_lines`` writes no ``pytest.ini`` (the suite's ``pyproject.toml`` rules).
    """
    (root / "conftest.py").write_text('pytest_plugins = ["rokt_async.testing"]\n')
    (root / "test_partner.py").write_text(textwrap.dedent(tests))
    if ini_lines:
        lines = "".join(line + "\n" for line in ini_lines)
        (root / "pytest.ini").write_text("[pytest]\n" + lines)
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text))
    return [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rA",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(root),
        str(root),
    ]


def partner_env(**overrides: str | None) -> dict[str, str]:
    """This checkout importable, no ``ROKT_*`` from our own session; overrides on top.

    An override of None leaves that variable unset.
    """
    env = {k: v for k, v in child_env().items() if not k.startswith("ROKT_")}
    env.update({k: v for k, v in overrides.items() if v is not None})
    return env


async def run_partner_suite(
    tmp_path: Path,
    tests: str,
    *ini_lines: str,
    files: Mapping[str, str] = MappingProxyType({}),
    base: Sequence[str] = BASE_INI,
) -> PartnerRun:
    """Run ``tests`` with the plugin in a separate pytest; exit status and report."""
    command = write_partner_suite(tmp_path, tests, (*base, *ini_lines), files)
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=tmp_path,
        env=partner_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=50)
    return PartnerRun(process.returncode, out.decode())


def run_partner_suite_now(
    root: Path,
    tests: str,
    *ini_lines: str,
    files: Mapping[str, str] = MappingProxyType({}),
    env: Mapping[str, str | None] = MappingProxyType({}),
) -> PartnerRun:
    """``run_partner_suite`` for synchronous (module-scoped) fixtures."""
    command = write_partner_suite(root, tests, (*BASE_INI, *ini_lines), files)
    done = subprocess.run(  # noqa: S603 - this interpreter, a suite we wrote
        command,
        cwd=root,
        env=partner_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=50,
        check=False,
    )
    return PartnerRun(done.returncode, done.stdout)


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
    assert "5 passed" in report


async def test_readme_setup_passes_without_warnings_when_mode_is_strict(
    tmp_path: Path,
) -> None:
    """The README's pyproject, conftest and test pass in strict mode, warning-free."""
    run = await run_partner_suite(
        tmp_path,
        README_TEST,
        files={"pyproject.toml": README_PYPROJECT, "conftest.py": README_CONFTEST},
        base=(),
    )
    assert run.code == 0, run.report
    assert run.outcomes("test_lost_confirm_reply_buys_once") == {"PASSED"}
    assert "warning" not in run.report.lower(), run.report


async def test_plugin_fixtures_warn_nothing_when_fixture_loop_scope_is_unset(
    tmp_path: Path,
) -> None:
    """Unset, only pytest-asyncio's own deprecation (ignored here) is raised."""
    run = await run_partner_suite(
        tmp_path,
        PARTNER_TESTS,
        "asyncio_mode = strict",
        "filterwarnings =\n    error\n    ignore:The configuration option"
        ' "asyncio_default_fixture_loop_scope" is unset:'
        "pytest.PytestDeprecationWarning",
        base=(),
    )
    assert run.code == 0, run.report
    assert "5 passed" in run.report


async def test_factory_client_uses_overrides_when_given(
    rokt_client_factory: RoktClientFactory, rokt_emulator: Emulator
) -> None:
    """Keyword arguments win over the factory's defaults in what is sent."""
    client = await rokt_client_factory(locale="de-DE")
    await client.any_placements(PLACEMENTS)
    (recorded,) = rokt_emulator.requests("placements")
    assert recorded.headers["accept-language"] == "de-DE"


async def test_loop_mismatch_error_names_site_and_loops_when_factory_client_moves(
    rokt_client_factory: RoktClientFactory,
) -> None:
    """Used from another loop, a factory client's error names its line and loops."""
    site = f"{__file__}:{sys._getframe().f_lineno + 1}"
    client = await rokt_client_factory()
    asking: list[int] = []
    caught: list[EventLoopMismatchError] = []

    async def call_from_other_loop() -> None:
        asking.append(id(asyncio.get_running_loop()))
        await client.any_placements(PLACEMENTS)

    def other_thread() -> None:
        try:
            asyncio.run(call_from_other_loop())
        except EventLoopMismatchError as exc:
            caught.append(exc)

    thread = threading.Thread(target=other_thread, name="partner-worker")
    thread.start()
    thread.join()
    (error,) = caught
    opened = f"{id(asyncio.get_running_loop()):#x} (running) in thread 'MainThread'"
    assert f"RoktClient created at {site} was opened on " in str(error)
    assert opened in str(error)
    assert f"{asking[0]:#x} (running) in thread 'partner-worker'" in str(error)


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
