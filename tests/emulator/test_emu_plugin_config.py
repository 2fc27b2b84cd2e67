"""The plugin's configuration: ini options for the session, markers for one test."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.emulator.test_emu_plugin import (
    PartnerRun,
    run_partner_suite,
    run_partner_suite_now,
)

if TYPE_CHECKING:
    from pathlib import Path

#: Session-wide settings every test of CONFIG_TESTS runs under.
CONFIG_INI = (
    "asyncio_mode = strict",
    "addopts = --strict-markers --strict-config",
    "rokt_emulator_api_key = partner-key",
    "rokt_emulator_tag_id = partner-tag",
    "rokt_emulator_reservation_ttl = 30",
    "rokt_emulator_default_stock = 1",
)

#: A partner's tests of what those settings and the rokt_emulator marker do.
CONFIG_TESTS = """
import pytest

from rokt_async import (
    AuthenticationError,
    PermissionDeniedError,
    ReserveItem,
    ReserveRequest,
    UnprocessableEntityError,
)
from rokt_async.emulator import CatalogItem


def reserve(cart, item="spot", quantity=1):
    return ReserveRequest(
        cart_id=cart, items=(ReserveItem(cart_item_id=item, quantity=quantity),)
    )


@pytest.mark.asyncio
async def test_ini_api_key(rokt_client, rokt_client_factory, rokt_emulator):
    await rokt_client.reserve_cart(reserve("c1"))
    (sent,) = rokt_emulator.requests("reserve")
    assert sent.headers["rokt-api-key"] == "partner-key"
    default = await rokt_client_factory(api_key="test-key")
    with pytest.raises(AuthenticationError):
        await default.reserve_cart(reserve("c2"))


@pytest.mark.asyncio
async def test_ini_tag_id(rokt_client, rokt_client_factory, rokt_emulator):
    await rokt_client.reserve_cart(reserve("c1"))
    (sent,) = rokt_emulator.requests("reserve")
    assert sent.headers["rokt-tag-id"] == "partner-tag"
    default = await rokt_client_factory(tag_id="test-tag")
    with pytest.raises(PermissionDeniedError):
        await default.reserve_cart(reserve("c2"))


@pytest.mark.asyncio
async def test_ini_default_stock(rokt_client):
    await rokt_client.reserve_cart(reserve("c1"))
    with pytest.raises(UnprocessableEntityError) as caught:
        await rokt_client.reserve_cart(reserve("c2"))
    assert caught.value.status == 422
    assert caught.value.body.errors[0].code == "InsufficientStock"


@pytest.mark.asyncio
async def test_ini_reservation_ttl(rokt_client, rokt_emulator):
    await rokt_client.reserve_cart(reserve("c1"))
    rokt_emulator.advance_clock(29)
    with pytest.raises(UnprocessableEntityError):  # still held: no stock
        await rokt_client.reserve_cart(reserve("c2"))
    rokt_emulator.advance_clock(2)
    assert (await rokt_client.reserve_cart(reserve("c3"))).items  # expired: back


@pytest.mark.asyncio
@pytest.mark.rokt_emulator(catalog={"spot": CatalogItem(stock=2)})
async def test_marker_catalog(rokt_client, rokt_emulator, rokt_emulator_session):
    await rokt_client.reserve_cart(reserve("c1", quantity=2))
    with pytest.raises(UnprocessableEntityError):
        await rokt_client.reserve_cart(reserve("c2"))
    with pytest.raises(UnprocessableEntityError):  # the ini's stock still applies
        await rokt_client.reserve_cart(reserve("c3", item="other", quantity=2))
    assert rokt_emulator.url != rokt_emulator_session.url


@pytest.mark.rokt_emulator(api_key="marked-key", reservation_ttl=5)
class TestMarkedClass:
    @pytest.mark.asyncio
    @pytest.mark.rokt_emulator(default_stock=3, reservation_ttl=10)
    async def test_markers_merge(self, rokt_client, rokt_emulator):
        await rokt_client.reserve_cart(reserve("c1", quantity=3))
        assert rokt_emulator.requests()[0].headers["rokt-api-key"] == "marked-key"
        rokt_emulator.advance_clock(6)
        with pytest.raises(UnprocessableEntityError):  # the method's TTL won
            await rokt_client.reserve_cart(reserve("c2", quantity=3))
        rokt_emulator.advance_clock(5)
        assert (await rokt_client.reserve_cart(reserve("c3", quantity=3))).items


@pytest.mark.rokt_resend("duplicate")
@pytest.mark.rokt_emulator(default_stock=5)
def test_marker_and_resend(rokt_emulator, rokt_emulator_session):
    assert rokt_emulator is not rokt_emulator_session
    assert rokt_emulator.resend == "duplicate"


def test_unmarked_after_marked(rokt_emulator, rokt_emulator_session):
    assert rokt_emulator is rokt_emulator_session
    assert rokt_emulator.api_key == "partner-key"


@pytest.mark.rokt_emulator(stock=1)
def test_marker_unknown_option(rokt_emulator):
    pass
"""


@pytest.fixture(scope="module")
def config_run(tmp_path_factory: pytest.TempPathFactory) -> PartnerRun:
    """CONFIG_TESTS, run once under CONFIG_INI."""
    return run_partner_suite_now(
        tmp_path_factory.mktemp("config"), CONFIG_TESTS, *CONFIG_INI
    )


@pytest.mark.parametrize(
    "test",
    [
        pytest.param("test_ini_api_key", id="api_key"),
        pytest.param("test_ini_tag_id", id="tag_id"),
        pytest.param("test_ini_default_stock", id="default_stock"),
        pytest.param("test_ini_reservation_ttl", id="reservation_ttl"),
    ],
)
def test_ini_option_changes_session_emulator_when_set(
    config_run: PartnerRun, test: str
) -> None:
    """Each ini option changes what the emulator accepts, holds or expires."""
    assert config_run.outcomes(test) == {"PASSED"}, config_run.report


def test_marker_gives_test_own_emulator_when_catalog_is_given(
    config_run: PartnerRun,
) -> None:
    """A marked test's emulator has the marker's catalog over the ini settings."""
    assert config_run.outcomes("test_marker_catalog") == {"PASSED"}, config_run.report


def test_markers_merge_closest_first_when_class_and_method_are_marked(
    config_run: PartnerRun,
) -> None:
    """Class and method markers combine; the method's value wins for an option."""
    assert config_run.outcomes("TestMarkedClass::test_markers_merge") == {"PASSED"}, (
        config_run.report
    )


def test_resend_marker_applies_when_test_has_own_emulator(
    config_run: PartnerRun,
) -> None:
    """``rokt_resend`` sets the mode of a marked test's own emulator too."""
    assert config_run.outcomes("test_marker_and_resend") == {"PASSED"}, (
        config_run.report
    )


def test_rokt_emulator_is_session_emulator_when_test_is_unmarked(
    config_run: PartnerRun,
) -> None:
    """After a marked test, an unmarked one is back on the session's emulator."""
    assert config_run.outcomes("test_unmarked_after_marked") == {"PASSED"}, (
        config_run.report
    )


def test_marker_is_refused_when_option_is_unknown(config_run: PartnerRun) -> None:
    """A marker with an unknown option errors the test and names the options."""
    assert config_run.outcomes("test_marker_unknown_option") == {"ERROR"}
    assert "rokt_emulator takes keyword arguments among api_key" in config_run.report


@pytest.mark.parametrize(
    ("ini_line", "message"),
    [
        (
            "rokt_emulator_reservation_ttl = soon",
            "ERROR: rokt_emulator_reservation_ttl must be a float, got 'soon'",
        ),
        (
            "rokt_emulator_default_stock = -1",
            "rokt_emulator ini options: default_stock and max_recorded must be >= 0",
        ),
    ],
    ids=["not-a-number", "out-of-range"],
)
async def test_plugin_refuses_ini_option_when_value_is_unusable(
    tmp_path: Path, ini_line: str, message: str
) -> None:
    """An unusable ini value fails the run before any test and says why."""
    run = await run_partner_suite(
        tmp_path, "def test_x(rokt_emulator):\n    pass\n", ini_line
    )
    assert run.code != 0, run.report
    assert message in run.report
