"""The plugin on loops other than the test's own: rokt_client_factory and its errors."""

from __future__ import annotations

import pytest

from tests.emulator.test_emu_plugin import PartnerRun, run_partner_suite_now

#: A partner's module whose tests run on a module-scoped loop (one on its own).
LOOP_TESTS = """
import pytest
import pytest_asyncio

from rokt_async import EventLoopMismatchError, PlacementsRequest

pytestmark = pytest.mark.asyncio(loop_scope="module")
PAGE = PlacementsRequest(cart_id="c", page_identifier="checkout")
MADE = {}


@pytest_asyncio.fixture(loop_scope="module")
async def app_client(rokt_client_factory):
    client = await rokt_client_factory()
    yield client
    await client.any_placements(PAGE)  # still open in the fixture's own teardown
    MADE["fixture"] = client


async def test_factory_client_works_on_module_loop(rokt_client_factory, rokt_emulator):
    MADE["module"] = client = await rokt_client_factory()
    await client.any_placements(PAGE)
    assert len(rokt_emulator.requests("placements")) == 1


@pytest.mark.asyncio(loop_scope="function")
async def test_factory_client_works_on_function_loop(rokt_client_factory):
    MADE["function"] = client = await rokt_client_factory()
    await client.any_placements(PAGE)


async def test_fixture_client_works_on_module_loop(app_client, rokt_emulator):
    await app_client.any_placements(PAGE)
    assert len(rokt_emulator.requests("placements")) == 1


async def test_factory_closed_every_client_after_its_test():
    assert sorted(MADE) == ["fixture", "function", "module"]
    assert [name for name, client in MADE.items() if not client.is_closed] == []


async def test_rokt_client_on_module_loop_names_fixture(rokt_client):
    with pytest.raises(EventLoopMismatchError) as caught:
        await rokt_client.any_placements(PAGE)
    message = str(caught.value)
    assert "rokt_client fixture of test_partner.py::test_rokt_client_on_mod" in message
    assert "rokt_client_factory" in message
    assert "(idle) in thread 'MainThread', but is used from " in message
    assert "(running) in the same thread" in message
"""


@pytest.fixture(scope="module")
def loop_run(tmp_path_factory: pytest.TempPathFactory) -> PartnerRun:
    """The partner's module-loop suite, run once in strict mode."""
    return run_partner_suite_now(
        tmp_path_factory.mktemp("loops"), LOOP_TESTS, "asyncio_mode = strict"
    )


def test_factory_opens_client_on_module_loop_when_test_runs_there(
    loop_run: PartnerRun,
) -> None:
    """A test on a module-scoped loop gets a working client from the factory."""
    assert loop_run.outcomes("test_factory_client_works_on_module_loop") == {
        "PASSED"
    }, loop_run.report


def test_factory_opens_client_on_function_loop_when_test_runs_there(
    loop_run: PartnerRun,
) -> None:
    """A test on its own loop gets a client it can use, closed without an error."""
    assert loop_run.outcomes("test_factory_client_works_on_function_loop") == {
        "PASSED"
    }, loop_run.report


def test_factory_client_stays_open_when_fixture_that_made_it_tears_down(
    loop_run: PartnerRun,
) -> None:
    """A module-loop fixture's client works in the test and in its own teardown."""
    assert loop_run.outcomes("test_fixture_client_works_on_module_loop") == {
        "PASSED"
    }, loop_run.report


def test_factory_closes_every_client_when_its_test_ends(loop_run: PartnerRun) -> None:
    """Clients from the factory, in tests or fixtures, are closed after the test."""
    assert loop_run.outcomes("test_factory_closed_every_client_after_its_test") == {
        "PASSED"
    }, loop_run.report


def test_loop_mismatch_error_names_rokt_client_fixture_when_loop_is_module_scoped(
    loop_run: PartnerRun,
) -> None:
    """rokt_client on a module loop fails naming the fixture, the test and the loops."""
    assert loop_run.outcomes("test_rokt_client_on_module_loop_names_fixture") == {
        "PASSED"
    }, loop_run.report
