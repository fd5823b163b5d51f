"""The login limits on their own (a fake clock) and through the app (TestClient): a lockout per user and client that
decays, a rate per client and a global one, bounded tables, the client address taken from the socket (a forwarded
header only from a configured proxy), the `[api] trusted_proxies` setting, and the bounded password pool."""

import asyncio
import threading
from pathlib import Path

import pytest
from apikit import ADMIN, PASSWORD, Api
from fastapi.testclient import TestClient

import station.api.routes_ops as routes_ops
from station.api.client_address import UNVERIFIED_FORWARDED, parse_networks, resolve_client
from station.api.login_limits import LoginThrottle
from station.api.password_pool import PasswordPool, PoolBusy
from station.app import Station
from station.auth import add_user
from station.config import load_settings

LOGIN = "/api/v1/auth/login"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _throttle(clock: Clock, **limits: float) -> LoginThrottle:
    generous: dict[str, float] = {"client_burst": 1000, "global_burst": 1000, **limits}
    return LoginThrottle(clock=clock, **generous)  # type: ignore[arg-type]


def test_a_lockout_is_per_user_and_client_and_decays() -> None:
    clock = Clock()
    throttle = _throttle(clock)
    for _ in range(5):
        assert throttle.admit("zhao", "10.0.0.66") is None
        throttle.failed("zhao", "10.0.0.66")
    refusal = throttle.admit("ZHAO", "10.0.0.66")  # user names compare without case
    assert refusal is not None
    assert refusal.code == "too_many_attempts"
    assert 0 < refusal.retry_after_s <= 900
    assert throttle.admit("zhao", "10.0.0.7") is None  # the real supervisor at another desk is not locked out
    clock.now += 100
    assert throttle.admit("zhao", "10.0.0.66") is not None  # refusals while locked do not extend the lockout
    clock.now += refusal.retry_after_s - 100
    assert throttle.admit("zhao", "10.0.0.66") is None  # decayed on its own


def test_a_good_login_forgets_the_failures() -> None:
    throttle = _throttle(Clock())
    for _ in range(4):
        throttle.failed("zhao", "10.0.0.7")
    throttle.succeeded("zhao", "10.0.0.7")
    throttle.failed("zhao", "10.0.0.7")
    assert throttle.admit("zhao", "10.0.0.7") is None


def test_the_rate_per_client_counts_every_user_name_and_refills() -> None:
    clock = Clock()
    throttle = _throttle(clock, client_burst=3, client_per_s=0.5)
    for name in ("a", "b", "c"):
        assert throttle.admit(name, "10.0.0.66") is None
    refusal = throttle.admit("d", "10.0.0.66")
    assert refusal is not None
    assert (refusal.code, refusal.retry_after_s) == ("login_rate_limited", 2)
    assert throttle.admit("d", "10.0.0.7") is None  # another client has its own rate
    clock.now += 2
    assert throttle.admit("d", "10.0.0.66") is None


def test_the_global_rate_holds_whatever_the_number_of_clients() -> None:
    clock = Clock()
    throttle = _throttle(clock, global_burst=5, global_per_s=1.0)
    answers = [throttle.admit("x", f"10.1.{i // 250}.{i % 250}") for i in range(50)]
    assert sum(a is None for a in answers) == 5
    assert {a.code for a in answers if a is not None} == {"login_busy"}
    clock.now += 1
    assert throttle.admit("x", "10.9.9.9") is None


def test_the_tables_stay_bounded_under_a_spray() -> None:
    clock = Clock()
    throttle = _throttle(clock, max_tracked=64)
    for i in range(10_000):
        client = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
        throttle.admit(f"user-{i}", client)
        throttle.failed(f"user-{i}", client)
        clock.now += 0.01
    clients, pairs = throttle.tracked()
    assert clients <= 64
    assert pairs <= 64


@pytest.mark.parametrize(
    ("peer", "hops", "trusted", "expected"),
    [
        ("10.0.0.7", [], [], "10.0.0.7"),
        ("10.0.0.7", ["1.2.3.4"], [], "10.0.0.7"),  # nobody's header is believed by default
        # uvicorn (trusting loopback by default) already replaced the peer by a hop: the header chose it
        ("1.2.3.4", ["1.2.3.4"], [], UNVERIFIED_FORWARDED),
        ("10.0.0.5", ["1.2.3.4", "10.0.0.9"], ["10.0.0.5"], "10.0.0.9"),  # a proxy appends what it saw
        ("10.0.0.5", ["1.2.3.4", "10.0.0.9"], ["10.0.0.0/24"], "1.2.3.4"),  # skipping proxies of the list
        ("10.0.0.66", ["1.2.3.4"], ["10.0.0.5"], "10.0.0.66"),  # not a trusted proxy: its header means nothing
        ("10.0.0.5", [], ["10.0.0.5"], "10.0.0.5"),
    ],
)
def test_the_client_address(peer: str, hops: list[str], trusted: list[str], expected: str) -> None:
    assert resolve_client(peer, hops, parse_networks(trusted)) == expected


def test_trusted_proxies_is_a_documented_setting_of_addresses(tmp_path: Path) -> None:
    environ = {"STATION_DATA": str(tmp_path), "STATION_API__TRUSTED_PROXIES": '["10.0.0.5", "fd00::/8"]'}
    assert load_settings(None, environ=environ).api.trusted_proxies == ["10.0.0.5", "fd00::/8"]
    assert load_settings(None, environ={"STATION_DATA": str(tmp_path)}).api.trusted_proxies == []
    with pytest.raises(Exception, match="trusted_proxies"):
        load_settings(None, environ={**environ, "STATION_API__TRUSTED_PROXIES": '["proxy.lan"]'})
    example = (Path(__file__).parents[3] / "station.example.toml").read_text(encoding="utf-8")
    assert "trusted_proxies" in example


def test_the_pool_refuses_beyond_its_bound_and_gives_places_back() -> None:
    pool = PasswordPool(workers=1, max_waiting=1)
    gate = threading.Event()

    async def scenario() -> None:
        with pool.reserve() as first, pool.reserve() as second:
            running = [asyncio.ensure_future(first.run(gate.wait)), asyncio.ensure_future(second.run(gate.wait))]
            with pytest.raises(PoolBusy):
                pool.reserve()
            gate.set()
            await asyncio.gather(*running)
        assert pool.admitted == 0
        with pool.reserve():
            pass  # unused: given back on exit
        assert pool.admitted == 0

    try:
        asyncio.run(scenario())
    finally:
        gate.set()
        pool.shutdown()


def _login(client: TestClient, username: str, password: str, **headers: str) -> tuple[int, dict[str, str], str]:
    response = client.post(LOGIN, json={"username": username, "password": password}, headers=headers)
    code = response.json()["code"] if response.status_code != 204 else ""
    return response.status_code, dict(response.headers), code


def test_a_spray_of_user_names_from_one_client_is_refused_with_a_problem(api: Api) -> None:
    answers = [_login(api.client, f"nobody-{i}", "whatever-it-is") for i in range(11)]
    assert [status for status, _, _ in answers[:10]] == [401] * 10
    status, headers, code = answers[10]
    assert (status, code) == (429, "login_rate_limited")
    assert int(headers["retry-after"]) > 0
    assert headers["content-type"].startswith("application/problem+json")
    zh = api.client.post(LOGIN, json={"username": "zhao", "password": PASSWORD}, headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 429
    assert zh.json()["detail"] == "此设备登录尝试过于频繁，请稍后再试"


def test_a_full_pool_refuses_the_login_at_once(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    full = PasswordPool(workers=1, max_waiting=0)
    monkeypatch.setattr(routes_ops, "password_pool", lambda: full)
    with full.reserve():
        status, headers, code = _login(api.client, "zhao", PASSWORD)
        assert (status, code) == (429, "login_busy")
        assert headers["retry-after"] == "1"
    assert _login(api.client, "zhao", PASSWORD)[0] == 204
    full.shutdown()


@pytest.fixture
def station(tmp_path: Path) -> Station:
    settings = load_settings(
        None,
        environ={
            "STATION_DATA": str(tmp_path),
            "STATION_DEVICES__SCANNERS": "[]",
            "STATION_API__TRUSTED_PROXIES": '["10.0.0.5"]',
        },
    )
    built = Station.build(settings)
    add_user(built.store, "zhao", PASSWORD, ADMIN)
    return built


def test_forwarded_for_counts_only_from_a_trusted_proxy(station: Station) -> None:
    wrong = "wrong-password"
    with (
        TestClient(station.api, client=("10.0.0.66", 40000)) as direct,
        TestClient(station.api, client=("10.0.0.5", 40000)) as proxy,
    ):
        for i in range(5):  # a client on the LAN writing a new address each time: still one client
            assert _login(direct, "zhao", wrong, **{"X-Forwarded-For": f"192.0.2.{i}"})[0] == 401
        assert _login(direct, "zhao", PASSWORD, **{"X-Forwarded-For": "192.0.2.99"})[2] == "too_many_attempts"
        for _ in range(5):  # the trusted proxy: its clients count apart
            assert _login(proxy, "zhao", wrong, **{"X-Forwarded-For": "192.0.2.1"})[0] == 401
        assert _login(proxy, "zhao", PASSWORD, **{"X-Forwarded-For": "192.0.2.1"})[0] == 429
        assert _login(proxy, "zhao", PASSWORD, **{"X-Forwarded-For": "192.0.2.2"})[0] == 204
