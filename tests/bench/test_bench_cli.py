"""The bench's command line: options, limits and refusals (nothing is sent)."""

from __future__ import annotations

import pytest

from rokt_async.bench import main
from rokt_async.bench._cli import parse_args
from rokt_async.bench._runner import plan_workers


def test_defaults_run_ten_seconds_at_concurrency_64() -> None:
    """With no amount given, the bench runs 10 s, 64 flows in flight, 80/20 mix."""
    options = parse_args([])
    assert (options.flows, options.duration) == (None, 10.0)
    assert options.concurrency == 64
    assert options.mix == {"confirm": 0.8, "release": 0.2}
    assert options.warmup == 256
    assert options.warmup_seconds == 3.0
    assert options.base_url is None
    assert options.faults == ()


def test_flows_cap_the_warmup_at_a_fifth() -> None:
    """With --flows, warm-up is at most a fifth of the flows and has no minimum time."""
    options = parse_args(["--flows", "300"])
    assert options.warmup == 60
    assert options.warmup_seconds == 0.0


def test_mix_completes_a_single_share() -> None:
    """Giving only the release share sets the confirm share to the rest."""
    assert parse_args(["--mix", "release=0.3"]).mix == {
        "confirm": 0.7,
        "release": 0.3,
    }


@pytest.mark.parametrize(
    "mix", ["confirm=0.5,release=0.2", "cancel=1", "release=2", "confirm"]
)
def test_mix_refuses_shares_that_do_not_make_sense(
    mix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unknown flows, shares outside [0, 1] or not adding to 1 exit with status 2."""
    assert main(["--mix", mix]) == 2
    assert "--mix" in capsys.readouterr().err


def test_faults_apply_to_every_endpoint_unless_one_is_named() -> None:
    """A bare KIND=RATE targets every endpoint; ENDPOINT:KIND=RATE just one."""
    options = parse_args(["--faults", "504_before=0.02,confirm:reset_after=0.01"])
    assert [(f.endpoint, f.kind, f.rate) for f in options.faults] == [
        ("*", "504_before", 0.02),
        ("confirm", "reset_after", 0.01),
    ]
    assert options.fault_specs() == ["504_before=0.02", "confirm:reset_after=0.01"]


def test_delay_faults_get_a_bounded_wait() -> None:
    """The delay kind waits a random time up to 100 ms."""
    (fault,) = parse_args(["--faults", "delay=0.1"]).faults
    assert fault.params == {"max_ms": 100.0}
    assert fault.cli_spec() == "*:delay:0.1:max_ms=100.0"


@pytest.mark.parametrize(
    "faults",
    ["teapot=0.1", "504_before=1.5", "cancel:500=0.1", "500=0.6,confirm:502_html=0.5"],
)
def test_faults_refuse_unknown_kinds_endpoints_and_rates(faults: str) -> None:
    """Unknown kinds or endpoints, and rates past 1, exit with status 2."""
    assert main(["--faults", faults]) == 2


@pytest.mark.parametrize(
    "url",
    ["https://api.rokt.com", "http://10.0.0.8:8080", "https://api.stage.rokt.com"],
)
def test_base_url_refuses_non_loopback_hosts(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A base URL off this machine needs --i-know-this-is-production."""
    assert main(["--base-url", url, "--flows", "10"]) == 2
    assert "--i-know-this-is-production" in capsys.readouterr().err


_EVENT_ENV = (
    "ROKT_EVENT_APP_ID",
    "ROKT_EVENT_APP_SECRET",
    "ROKT_EVENT_PUBLIC_KEY",
    "ROKT_EVENT_SECRET_KEY",
)


@pytest.fixture
def no_event_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No event credentials in the environment."""
    for name in _EVENT_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_event_env")
def test_production_needs_credentials_and_refuses_faults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Even when allowed, production needs ROKT_API_KEY/ROKT_TAG_ID and no faults."""
    monkeypatch.delenv("ROKT_API_KEY", raising=False)
    monkeypatch.delenv("ROKT_TAG_ID", raising=False)
    prod = ["--base-url", "https://api.rokt.com", "--i-know-this-is-production"]
    assert main([*prod, "--flows", "10"]) == 2
    monkeypatch.setenv("ROKT_API_KEY", "k")
    monkeypatch.setenv("ROKT_TAG_ID", "t")
    assert main([*prod, "--flows", "10", "--faults", "500=0.1"]) == 2
    options = parse_args([*prod, "--flows", "10", "--events", "off"])
    assert (options.api_key, options.tag_id) == ("k", "t")
    assert "'k'" not in repr(options)


@pytest.mark.usefixtures("no_event_env")
def test_production_needs_the_event_credentials_of_the_chosen_mode(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Off loopback, --events oauth needs ROKT_EVENT_APP_ID/_SECRET; basic the keys."""
    monkeypatch.setenv("ROKT_API_KEY", "k")
    monkeypatch.setenv("ROKT_TAG_ID", "t")
    prod = ["--base-url", "https://api.rokt.com", "--i-know-this-is-production"]
    assert main([*prod, "--flows", "10"]) == 2
    assert "ROKT_EVENT_APP_ID and ROKT_EVENT_APP_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("ROKT_EVENT_APP_ID", "app-1")
    monkeypatch.setenv("ROKT_EVENT_APP_SECRET", "app-secret-1")
    options = parse_args([*prod, "--flows", "10"])
    assert (options.events, options.event_id, options.event_secret) == (
        "oauth",
        "app-1",
        "app-secret-1",
    )
    assert "app-secret-1" not in repr(options)
    assert main([*prod, "--flows", "10", "--events", "basic"]) == 2
    assert "ROKT_EVENT_PUBLIC_KEY and ROKT_EVENT_SECRET_KEY" in capsys.readouterr().err


def test_loopback_base_url_uses_emulator_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An emulator on loopback gets the emulator's default key and tag when unset."""
    monkeypatch.delenv("ROKT_API_KEY", raising=False)
    monkeypatch.delenv("ROKT_TAG_ID", raising=False)
    options = parse_args(["--base-url", "http://127.0.0.1:8080/"])
    assert (options.api_key, options.tag_id) == ("test-key", "test-tag")


@pytest.mark.usefixtures("no_event_env")
@pytest.mark.parametrize(
    ("mode", "login"),
    [("oauth", ("test-app", "test-app-secret")), ("basic", ("rpub-test", "rsec-test"))],
)
def test_loopback_base_url_sends_the_emulator_event_defaults(
    mode: str, login: tuple[str, str]
) -> None:
    """On loopback with no event variables set, the emulator's test values go."""
    options = parse_args(["--base-url", "http://127.0.0.1:8080", "--events", mode])
    assert (options.event_id, options.event_secret) == login


def test_events_default_to_oauth_for_account_12345() -> None:
    """By default every confirmed order sends a /v1 event for account 12345."""
    options = parse_args([])
    assert (options.events, options.account_id) == ("oauth", "12345")
    assert parse_args(["--events", "off", "--account-id", "a-9"]).account_id == "a-9"


@pytest.mark.parametrize(
    "argv",
    [
        ["--events", "bearer"],
        ["--account-id", ""],
        ["--account-id", "x" * 65],
        ["--faults", "unprocessed=0.1"],
        ["--faults", "confirm:unprocessed=0.1"],
        ["--faults", "cancel:unprocessed=0.1"],
    ],
)
def test_event_options_refuse_what_the_api_would(argv: list[str]) -> None:
    """Unknown modes, bad account ids and unprocessed off the events endpoint: 2."""
    assert main(argv) == 2


def test_faults_may_target_the_events_and_token_endpoints() -> None:
    """events: and token: faults parse, unprocessed on events included."""
    options = parse_args(
        ["--faults", "events:unprocessed=0.2,token:500=0.5,events:504_after=0.1"]
    )
    assert [(f.endpoint, f.kind, f.rate) for f in options.faults] == [
        ("events", "unprocessed", 0.2),
        ("token", "500", 0.5),
        ("events", "504_after", 0.1),
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["--flows", "10", "--duration", "5"],
        ["--duration", "400"],
        ["--concurrency", "0"],
        ["--concurrency", "8", "--processes", "9"],
        ["--flows", "2", "--processes", "3"],
        ["--max-seconds", "4000"],
        ["--warmup-seconds", "200", "--max-seconds", "100"],
    ],
)
def test_limits_refuse_unbounded_or_inconsistent_runs(argv: list[str]) -> None:
    """Runs past the caps, or contradicting themselves, exit with status 2."""
    assert main(argv) == 2


def test_leading_bench_word_is_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    """``rokt-async bench --help`` is the bench's help, exiting with status 0."""
    assert main(["bench", "--help"]) == 0
    assert "--i-know-this-is-production" in capsys.readouterr().out


def test_workers_share_flows_warmup_and_concurrency_evenly() -> None:
    """Three processes split 1,000 flows and 64 lanes as evenly as possible."""
    options = parse_args(["--flows", "1000", "--processes", "3"])
    plans = plan_workers(
        options, base_url="http://127.0.0.1:1", api_key="k", tag_id="t", run_id="r"
    )
    assert [p.flows for p in plans] == [334, 333, 333]
    assert [p.concurrency for p in plans] == [22, 21, 21]
    assert sum(p.warmup for p in plans) == options.warmup
    assert [p.index for p in plans] == [0, 1, 2]
    assert "'k'" not in repr(plans[0])


def test_workers_get_the_event_mode_account_and_credentials() -> None:
    """Each plan carries --events, --account-id and the login, its secret hidden."""
    options = parse_args(["--flows", "10", "--events", "basic", "--account-id", "77"])
    plans = plan_workers(
        options,
        base_url="http://127.0.0.1:1",
        api_key="k",
        tag_id="t",
        run_id="r",
        event_login=("rpub-x", "rsec-hidden"),
    )
    [plan] = plans
    assert (plan.events, plan.account_id, plan.event_id) == ("basic", "77", "rpub-x")
    assert plan.event_secret == "rsec-hidden"
    assert "rsec-hidden" not in repr(plan)
