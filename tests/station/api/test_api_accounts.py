"""Accounts through the API (issue 22): an expired token is refused with its own reason, also while the API holds
it in its cache of verified tokens; `station user disable|enable|delete`, run as an operator would while the
station serves, ends a supervisor's open session at once and makes their login fail exactly like a wrong password.
"""

from typing import Any

import pytest
from apikit import ADMIN, PASSWORD, Api
from benchkit import FakeClock

from station.api.context import ApiContext
from station.auth import ApiRole, create_token
from station.cli import main

HEALTH = "/api/v1/health"
ME = "/api/v1/auth/me"
LOGIN = "/api/v1/auth/login"


def _ctx(api: Api) -> ApiContext:
    ctx: ApiContext = api.station.api.state.ctx
    return ctx


def test_an_expired_token_is_refused_with_its_reason(api: Api) -> None:
    store = api.station.store
    _, secret = create_token(store, ApiRole.SUPERVISOR, "t-old", ADMIN, expires_at_ms=store.wall_ms() - 1)
    headers = {"Authorization": f"Bearer {secret}"}
    response = api.client.get(HEALTH, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "token_expired"
    assert response.json()["detail"] == "This token has expired; make a new one with `station token create`"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    chinese = api.client.get(HEALTH, headers={**headers, "Accept-Language": "zh-CN,zh;q=0.9"})
    assert chinese.json()["detail"] == "此令牌已过期，请用 station token create 创建新令牌"


def test_a_token_that_expires_while_cached_is_refused_on_the_next_request(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = api.station.store
    clock = FakeClock(store.wall_ms())
    monkeypatch.setattr(store, "wall_ms", clock)
    token_id, secret = create_token(store, ApiRole.PDA, "t-pda-expiring", ADMIN, expires_at_ms=clock.ms + 60_000)
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/api/v1/queue", headers=headers).status_code == 200
    cached = [hit[0] for hit in _ctx(api).token_cache.values() if hit[0].token_id == token_id]
    assert len(cached) == 1, "the token should now be in the cache of verified tokens"
    clock.ms += 60_000  # within TOKEN_CACHE_S of the last check: the cache alone would still say yes
    response = api.client.get("/api/v1/queue", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_a_token_with_an_expiry_ahead_works_and_is_cached(api: Api) -> None:
    store = api.station.store
    token_id, secret = create_token(store, ApiRole.HUB, "t-hub", ADMIN, expires_at_ms=store.wall_ms() + 3_600_000)
    me = api.client.get(ME, headers={"Authorization": f"Bearer {secret}"})
    assert me.json() == {"role": "hub", "name": "t-hub", "bench_id": None}
    assert any(hit[0].token_id == token_id for hit in _ctx(api).token_cache.values())


def _cli(api: Api, monkeypatch: pytest.MonkeyPatch, *argv: str) -> None:
    # The verb in its own store connection on the same file, as `station user …` in another shell would run it.
    monkeypatch.setenv("STATION_DATA", str(api.station.settings.station.data_dir))
    monkeypatch.delenv("STATION_CONFIG", raising=False)
    assert main(list(argv)) == 0


def _login(api: Api, password: str = PASSWORD) -> Any:
    return api.client.post(LOGIN, json={"username": "zhao", "password": password})


def _refusal(response: Any) -> tuple[int, Any]:
    return response.status_code, response.json()


def test_disable_ends_the_open_session_at_once_and_login_fails_like_a_wrong_password(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _login(api).status_code == 204
    assert api.client.get(ME).status_code == 200
    wrong_password = _refusal(_login(api, "not the password"))
    assert wrong_password[0] == 401
    _cli(api, monkeypatch, "user", "disable", "zhao")
    refused = api.client.get(ME)  # the same cookie, the very next request
    assert (refused.status_code, refused.json()["code"]) == (401, "unauthenticated")
    assert _refusal(_login(api)) == wrong_password  # the right password: nothing tells it was right
    _cli(api, monkeypatch, "user", "enable", "zhao")
    assert api.client.get(ME).status_code == 401  # the old session stays ended
    assert _login(api).status_code == 204
    assert api.client.get(ME).json()["name"] == "zhao"


def test_delete_ends_the_open_session_and_login_fails_like_a_wrong_password(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _login(api).status_code == 204
    wrong_password = _refusal(_login(api, "not the password"))
    _cli(api, monkeypatch, "user", "delete", "zhao")
    assert api.client.get(ME).status_code == 401
    assert _refusal(_login(api)) == wrong_password
    types = [e["type"] for e in api.station.store.events_from(1) if e["type"].startswith("user.")]
    assert types[-1] == "user.deleted"
