"""The plugin's ROKT_* environment: set before collection, restored at the end."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Final, NamedTuple

import pytest

from tests.emulator.test_emu_plugin import PartnerRun, run_partner_suite_now

if TYPE_CHECKING:
    from pathlib import Path

#: A partner's app module: its client is built from the environment on import.
APP = """
from rokt_async import NO_WAIT_RETRY, RoktClient

rokt = RoktClient.from_env(retry=NO_WAIT_RETRY)
"""

#: A conftest that records the environment once pytest is done with it.
RECORDING = """
import os
from pathlib import Path


def pytest_unconfigure(config):
    names = ("ROKT_API_KEY", "ROKT_TAG_ID", "ROKT_BASE_URL")
    Path("env-after.txt").write_text(repr([os.environ.get(n) for n in names]))
"""
#: The plugin from pytest_plugins; the app is imported by the test module.
CONFTEST = 'pytest_plugins = ["rokt_async.testing"]\n' + RECORDING
#: No pytest_plugins (``-p`` loads the plugin); the conftest imports the app itself.
EARLY_CONFTEST = "import partner_app\n" + RECORDING

ENV_TESTS = """
import os

import pytest

import partner_app
from rokt_async import PlacementsRequest


@pytest.mark.asyncio
async def test_app_client(rokt_emulator):
    async with partner_app.rokt as client:
        await client.any_placements(PlacementsRequest(cart_id="c", page_identifier="p"))
    assert len(rokt_emulator.requests("placements")) == 1


def test_environment(rokt_emulator_session):
    assert os.environ["ROKT_BASE_URL"] == rokt_emulator_session.url
    assert os.environ["ROKT_API_KEY"] == rokt_emulator_session.api_key
    assert os.environ["ROKT_TAG_ID"] == rokt_emulator_session.tag_id
"""

OPTED_OUT_TESTS = """
import os


def test_environment_untouched(rokt_emulator):
    assert os.environ.get("ROKT_BASE_URL") == "http://before.invalid"
    assert "ROKT_API_KEY" not in os.environ
"""

#: What the partner's shell had before pytest: one unset, two set elsewhere.
BEFORE: Final = {
    "ROKT_API_KEY": None,
    "ROKT_TAG_ID": "before-tag",
    "ROKT_BASE_URL": "http://before.invalid",
}


class EnvRun(NamedTuple):
    """A partner run and the ROKT_* values its conftest saw at unconfigure."""

    run: PartnerRun
    after: list[str | None] | None


def run_with_env(root: Path, tests: str, conftest: str, *ini_lines: str) -> EnvRun:
    """Run ``tests`` with BEFORE as the environment; what was left after."""
    run = run_partner_suite_now(
        root,
        tests,
        "asyncio_mode = strict",
        *ini_lines,
        files={"conftest.py": conftest, "partner_app.py": APP},
        env=BEFORE,
    )
    recorded = root / "env-after.txt"
    after = ast.literal_eval(recorded.read_text()) if recorded.exists() else None
    return EnvRun(run, after)


@pytest.fixture(scope="module")
def plugins_run(tmp_path_factory: pytest.TempPathFactory) -> EnvRun:
    """ENV_TESTS with the plugin in the conftest's pytest_plugins."""
    return run_with_env(tmp_path_factory.mktemp("env"), ENV_TESTS, CONFTEST)


def test_module_level_client_reaches_emulator_when_plugin_is_in_pytest_plugins(
    plugins_run: EnvRun,
) -> None:
    """A client a test module's import built with from_env() talks to the emulator."""
    run = plugins_run.run
    assert run.outcomes("test_app_client") == {"PASSED"}, run.report


def test_environment_names_session_emulator_when_tests_run(
    plugins_run: EnvRun,
) -> None:
    """During the session ROKT_API_KEY, ROKT_TAG_ID and ROKT_BASE_URL are its."""
    run = plugins_run.run
    assert run.outcomes("test_environment") == {"PASSED"}, run.report


def test_environment_is_restored_when_session_ends(plugins_run: EnvRun) -> None:
    """After the session, each ROKT_* variable is as before, unset ones unset."""
    assert plugins_run.after == list(BEFORE.values()), plugins_run.run.report


def test_conftest_may_import_app_when_plugin_is_loaded_with_p(
    tmp_path: Path,
) -> None:
    """With ``-p rokt_async.testing``, a conftest's app import already sees ROKT_*."""
    env_run = run_with_env(
        tmp_path, ENV_TESTS, EARLY_CONFTEST, "addopts = -p rokt_async.testing"
    )
    assert env_run.run.code == 0, env_run.run.report
    assert env_run.run.outcomes("test_app_client") == {"PASSED"}
    assert env_run.after == list(BEFORE.values())


def test_environment_is_left_alone_when_rokt_emulator_env_is_false(
    tmp_path: Path,
) -> None:
    """``rokt_emulator_env = false`` keeps the partner's ROKT_* as they were."""
    env_run = run_with_env(
        tmp_path, OPTED_OUT_TESTS, CONFTEST, "rokt_emulator_env = false"
    )
    assert env_run.run.outcomes("test_environment_untouched") == {"PASSED"}, (
        env_run.run.report
    )
    assert env_run.after == list(BEFORE.values())
