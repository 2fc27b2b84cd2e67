"""README promise (#11): the bench exits non-zero when its ledger check fails."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING, Final

from rokt_async import NO_RETRY, ConfirmItem, ConfirmRequest
from rokt_async.emulator import Emulator
from tests.conftest import emulator_client
from tests.emulator._helpers import child_env

if TYPE_CHECKING:
    from pathlib import Path

#: Hang guards only: a bench child starts (imports, probe, ledger read) and runs
#: its half second of measured load far inside these.
START_POLLS: Final = 3000  # of 10 ms
RUN_GUARD: Final = 60.0


def _rogue_purchase(order: str) -> ConfirmRequest:
    """A quantity-only confirm of the cart line ``rogue/p``, under its own order."""
    return ConfirmRequest(
        cart_id="rogue",
        order_id=order,
        items=(ConfirmItem(cart_item_id="p", quantity=1),),
    )


async def test_bench_exits_ledger_failed_when_a_cart_line_is_bought_twice_mid_run(
    tmp_path: Path,
) -> None:
    """While a bench child drives an emulator, another client buys one cart line
    twice on it: every bench call succeeds, but its ledger check finds the double
    purchase, and the child exits 1 (ledger_failed) and says why in its JSON."""
    out = tmp_path / "bench.json"
    with Emulator() as emulator:
        env = {
            **child_env(),
            "ROKT_API_KEY": emulator.api_key,
            "ROKT_TAG_ID": emulator.tag_id,
        }
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "rokt_async",
            "bench",
            "--base-url",
            emulator.url,
            "--duration",
            "0.5",
            "--warmup-seconds",
            "0",
            "--concurrency",
            "2",
            "--quiet",
            "--json",
            str(out),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            for _ in range(START_POLLS):  # until the run has begun (bounded)
                if emulator.requests():
                    break
                await asyncio.sleep(0.01)
            assert emulator.requests(), "the bench sent nothing"
            # The bench read its "before" ledger ahead of its first flow: this
            # double purchase lands inside the run it checks.
            async with emulator_client(emulator, retry=NO_RETRY) as rogue:
                for order in ("rogue-1", "rogue-2"):
                    assert (
                        await rogue.confirm_cart(_rogue_purchase(order))
                    ).is_complete
            async with asyncio.timeout(RUN_GUARD):
                stdout, stderr = await child.communicate()
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
    assert child.returncode == 1, (stdout + stderr).decode()
    report = json.loads(out.read_text())
    assert (report["passed"], report["exit_code"], report["verdict"]) == (
        False,
        1,
        "ledger_failed",
    )
    assert report["unexplained_errors"] == {}  # the calls themselves all went through
    ledger = report["ledger"]
    assert (ledger["checked"], ledger["passed"]) == (True, False)
    assert ledger["duplicate_keys"] == ["confirm rogue/p"]
    assert "1 cart lines were confirmed more than once" in report["problems"]
