"""The emulator's command line, in process: flag errors, the bind warning, exit codes.

``python -m rokt_async.emulator`` and ``rokt-async emulator`` both end in
``rokt_async.emulator.__main__.main``; calling it here measures the same code the
child-process tests run, without a process per flag.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest

from rokt_async.emulator.__main__ import main, parse_args

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

#: A --fail-next count that is refused after parsing, so main() never serves.
NOT_WHOLE = ("--fail-next", "confirm:500:1.5")
#: Were main() to serve after all, fail soon instead of at the suite's 60 s.
NOT_SERVING = pytest.mark.timeout(15)


def usage_error(
    capsys: pytest.CaptureFixture[str], args: Sequence[str]
) -> tuple[object, str]:
    """Parse ``args``, which must exit from argparse; the code and stderr."""
    with pytest.raises(SystemExit) as caught:
        parse_args(args)  # never main(): a flag wrongly accepted would serve
    return caught.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "confirm:504_before:often"], "'often' is not a number"),
        (["--fault", "*:delay:0.5:max_ms"], "expected NAME=VALUE, got 'max_ms'"),
        (["--fault", "*:delay:0.5:max_ms=lots"], "max_ms: not a number"),
        (["--item", "parking=lots"], "'parking=lots': invalid literal"),
        (["--item", "=3"], "expected ID=STOCK[:PRICE[:CURRENCY]], got '=3'"),
        (["--item", "parking=-1"], "'parking=-1': CatalogItem.stock must be >= 0"),
        (["--placements-result", "maybe"], "expected true or false, got 'maybe'"),
        (["--event-key", "rpub-only"], "expected ID:SECRET"),
        (["--oauth-app", ":app-s3cret"], "expected ID:SECRET"),
    ],
)
def test_cli_exits_2_naming_the_flag_when_a_value_is_malformed(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """A malformed flag value exits 2 with argparse's usage and a precise reason."""
    code, err = usage_error(capsys, args)
    assert code == 2
    assert f"argument {args[0]}: {message}" in err


def test_cli_never_echoes_a_malformed_credential_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A credential flag without an id is refused without printing its secret."""
    code, err = usage_error(capsys, ["--oauth-app", ":app-s3cret"])
    assert code == 2
    assert "app-s3cret" not in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("1", True),
        ("YES", True),
        ("false", False),
        ("0", False),
        ("No", False),
    ],
)
def test_cli_placements_flag_accepts_the_usual_spellings(
    text: str, expected: bool
) -> None:
    """``--placements-result`` reads true/1/yes and false/0/no, in any case."""
    assert parse_args(["--placements-result", text]).placements_result is expected


def test_cli_keeps_colons_in_a_credential_secret() -> None:
    """``ID:SECRET`` splits at the first colon: the secret may hold more of them."""
    args = parse_args(["--event-key", "rpub-1:rsec:with:colons"])
    assert args.event_key == [("rpub-1", "rsec:with:colons")]


@pytest.mark.parametrize(
    ("host", "warned"),
    [
        ("127.0.0.1", False),
        ("localhost", False),
        ("LocalHost", False),
        ("::1", False),
        ("0.0.0.0", True),  # noqa: S104 - the address the warning is about
        ("192.0.2.1", True),
        ("emulator.example", True),
    ],
)
@NOT_SERVING
def test_cli_warns_only_when_the_host_is_not_loopback(
    capsys: pytest.CaptureFixture[str], host: str, warned: bool
) -> None:
    """Binding anything but loopback is warned about on stderr before serving."""
    assert main(["--host", host, *NOT_WHOLE]) == 2
    err = capsys.readouterr().err
    warning = f"warning: serving on non-loopback address {host}\n"
    assert (warning in err) is warned
    assert err.endswith("error: --fail-next count must be whole, got 1.5\n")


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another socket is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@NOT_SERVING
def test_cli_exits_1_when_the_port_is_taken(
    capsys: pytest.CaptureFixture[str], busy_port: int
) -> None:
    """A port already in use ends the command with status 1 and the address."""
    assert main(["--port", str(busy_port)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: cannot serve on 127.0.0.1:{busy_port}: ")
