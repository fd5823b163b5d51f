"""Least privilege: every route × every role × no token × revoked token; sessions; login throttling; no secrets
in the logs."""

import logging

import pytest
from apikit import PASSWORD, Api

ORDER = "/api/v1/orders/SO20260205-8821"
ROUTES = [
    # method, path, body, roles allowed
    ("POST", "/api/v1/benches/B01/scans", {"code": "OP-001"}, {"bench"}),
    ("GET", ORDER, None, {"bench", "supervisor", "hub"}),
    ("GET", ORDER + "/timeline", None, {"supervisor", "hub"}),
    ("POST", ORDER + "/actions/hold", {"reason": "check"}, {"supervisor", "hub"}),
    ("GET", "/api/v1/alerts", None, {"supervisor", "hub"}),
    ("GET", "/api/v1/health", None, {"bench", "supervisor", "hub"}),
    ("GET", "/api/v1/auth/me", None, {"bench", "pda", "supervisor", "hub"}),
    ("GET", "/metrics", None, {"supervisor", "hub"}),
    ("GET", "/api/v1/queue", None, {"pda", "supervisor", "hub"}),
    ("GET", "/api/v1/queue/top", None, {"pda", "supervisor"}),
    ("POST", "/api/v1/queue/SO20260205-8821/claim", None, {"pda"}),
    ("POST", "/api/v1/queue/SO20260205-8821/release", None, {"pda"}),
    ("POST", ORDER + "/priority", {"level": "A"}, {"supervisor", "hub"}),
    ("POST", "/api/v1/priority/breaker/lift", None, {"supervisor"}),
    ("GET", ORDER + "/clip", None, {"supervisor", "hub"}),
    ("GET", ORDER + "/clip/markers", None, {"supervisor", "hub"}),
    ("GET", ORDER + "/photos/1", None, {"supervisor", "hub"}),
    ("GET", ORDER + "/evidence", None, {"supervisor", "hub"}),
    ("POST", ORDER + "/clip", None, {"supervisor", "hub"}),
    ("PUT", ORDER + "/dispute", {"disputed": True, "reason": "ticket 7"}, {"supervisor", "hub"}),
]
WHO = ["bench", "pda", "supervisor", "hub", None, "revoked"]


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ROUTES, ids=[r[1] + " " + r[0] for r in ROUTES])
@pytest.mark.parametrize("who", WHO, ids=[str(w) for w in WHO])
def test_auth_matrix(api: Api, method: str, path: str, body: object, allowed: set[str], who: str | None) -> None:
    response = api.client.request(method, path, json=body, headers=api.headers(who, **{"If-Match": '"1"'}))
    if who is None or who == "revoked":
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "unauthenticated"
    elif who in allowed:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "forbidden"


def test_bench_token_posts_only_for_its_own_bench(api: Api) -> None:
    response = api.client.post("/api/v1/benches/B01/scans", json={"code": "OP-001"}, headers=api.headers("other_bench"))
    assert response.status_code == 403
    assert response.json()["code"] == "wrong_bench"


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-token", "pst_abc"])
def test_malformed_credentials(api: Api, header: str) -> None:
    response = api.client.get("/api/v1/health", headers={"Authorization": header})
    assert response.status_code == 401


def test_supervisor_login_sets_a_strict_cookie_and_logout_ends_it(api: Api) -> None:
    response = api.client.post("/api/v1/auth/login", json={"username": "zhao", "password": PASSWORD})
    assert response.status_code == 204
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    me = api.client.get("/api/v1/auth/me")
    assert me.json() == {"role": "supervisor", "name": "zhao", "bench_id": None}
    assert api.client.get(ORDER + "/timeline").status_code == 200
    assert api.client.post("/api/v1/auth/logout").status_code == 204
    api.client.cookies.clear()
    assert api.client.get("/api/v1/auth/me").status_code == 401


def test_failed_logins_are_throttled(api: Api) -> None:
    for _ in range(5):
        bad = api.client.post("/api/v1/auth/login", json={"username": "zhao", "password": "wrong-password"})
        assert bad.status_code == 401
        assert bad.json()["code"] == "login_failed"
    blocked = api.client.post("/api/v1/auth/login", json={"username": "zhao", "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


def test_unknown_user_fails_like_a_wrong_password(api: Api) -> None:
    response = api.client.post("/api/v1/auth/login", json={"username": "nobody", "password": "whatever-it-is"})
    assert response.status_code == 401
    assert response.json()["code"] == "login_failed"


def test_no_secret_in_any_log_line(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api.client.post("/api/v1/auth/login", json={"username": "zhao", "password": PASSWORD})
    for who in ("bench", "supervisor", "revoked"):
        api.client.get("/api/v1/health", headers=api.headers(who))
    api.client.post("/api/v1/benches/B01/scans", json={"code": "OP-001"}, headers=api.headers("bench"))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert PASSWORD not in text
    for secret in api.tokens.values():
        assert secret not in text
        assert secret[4:20] not in text
