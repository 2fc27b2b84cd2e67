"""Codec cost on our payloads: msgspec (our real codec) vs pydantic v2 vs stdlib json.

Operations, each on 1 and 20 items:

- encode a confirm request: ``rokt_async._codec.ENCODER.encode(ConfirmRequest)``,
  pydantic's ``model_dump_json(by_alias=True, exclude_none=True).encode()``, and
  ``json.dumps(dict).encode()``;
- decode a confirm answer and a reserve answer (prices, an ISO datetime):
  our typed decoders ``_codec.CONFIRM`` / ``_codec.RESERVE`` into frozen Structs,
  pydantic's ``model_validate_json`` into models, and ``json.loads`` into dicts
  (untyped and unchecked: it does less work than the other two).

Each is timed with ``timeit`` (best of several repeats, nanoseconds per
operation); ratios are to msgspec. Run: ``python -m benchmarks.bench_codec``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import timeit
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rokt_async._codec import CONFIRM, ENCODER, RESERVE

from ._payloads import (
    confirm_request,
    confirm_request_dict,
    confirm_response_bytes,
    reserve_response_bytes,
)

if TYPE_CHECKING:
    from collections.abc import Callable

SIZES = (1, 20)


def _ns_per_op(call: Callable[[], object], repeats: int, budget: float) -> float:
    """Best-of-``repeats`` nanoseconds per call, each repeat about ``budget`` s."""
    timer = timeit.Timer(call)
    number, taken = timer.autorange()
    number = max(1, int(number * budget / max(taken, 1e-9)))
    return min(timer.repeat(repeats, number)) / number * 1e9


def _cases(
    items: int, with_pydantic: bool
) -> dict[str, dict[str, Callable[[], object]]]:
    request = confirm_request(items)
    request_dict = confirm_request_dict(items)
    confirm_body = confirm_response_bytes(items)
    reserve_body = reserve_response_bytes(items)
    cases: dict[str, dict[str, Callable[[], object]]] = {
        "encode confirm request": {
            "msgspec": lambda: ENCODER.encode(request),
            "json": lambda: json.dumps(request_dict).encode(),
        },
        "decode confirm answer": {
            "msgspec": lambda: CONFIRM.decode(confirm_body),
            "json": lambda: json.loads(confirm_body),
        },
        "decode reserve answer": {
            "msgspec": lambda: RESERVE.decode(reserve_body),
            "json": lambda: json.loads(reserve_body),
        },
    }
    if with_pydantic:
        from ._rivals import (
            ConfirmRequestModel,
            ConfirmResponseModel,
            ReserveResponseModel,
        )

        model = ConfirmRequestModel.model_validate(request_dict)
        if ConfirmRequestModel.model_validate_json(ENCODER.encode(request)) != model:
            raise RuntimeError("the pydantic model does not match our wire format")
        cases["encode confirm request"]["pydantic"] = lambda: model.model_dump_json(
            by_alias=True, exclude_none=True
        ).encode()
        cases["decode confirm answer"]["pydantic"] = lambda: (
            ConfirmResponseModel.model_validate_json(confirm_body)
        )
        cases["decode reserve answer"]["pydantic"] = lambda: (
            ReserveResponseModel.model_validate_json(reserve_body)
        )
    return cases


def main(argv: list[str] | None = None) -> int:
    """Time every case and print ns/op and ratios to msgspec."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_codec")
    parser.add_argument("--quick", action="store_true", help="shorter timings")
    parser.add_argument("--json", dest="json_path", help="write the numbers as JSON")
    args = parser.parse_args(argv)
    repeats, budget = (3, 0.03) if args.quick else (5, 0.1)
    with_pydantic = importlib.util.find_spec("pydantic") is not None
    if not with_pydantic:
        print("(pydantic skipped: pip install -r requirements-bench.txt)")
    libraries = (
        ("msgspec", "pydantic", "json") if with_pydantic else ("msgspec", "json")
    )
    print(
        f"{'operation':<24}{'items':>6}"
        + "".join(f"{name + ' ns':>13}" for name in libraries)
        + "".join(f"{name + '/msgspec':>18}" for name in libraries[1:])
    )
    rows: list[dict[str, Any]] = []
    for items in SIZES:
        for operation, calls in _cases(items, with_pydantic).items():
            ns = {name: _ns_per_op(calls[name], repeats, budget) for name in libraries}
            ratios = {name: ns[name] / ns["msgspec"] for name in libraries[1:]}
            rows.append(
                {"operation": operation, "items": items, "ns": ns, "ratios": ratios}
            )
            print(
                f"{operation:<24}{items:>6}"
                + "".join(f"{ns[name]:>13,.0f}" for name in libraries)
                + "".join(f"{ratios[name]:>17.1f}x" for name in libraries[1:])
            )
    if args.json_path:
        Path(args.json_path).write_text(json.dumps({"results": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
