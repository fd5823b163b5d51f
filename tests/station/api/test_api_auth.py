"""Least privilege: every route × every role × no token × revoked token; sessions; login throttling; no secrets
in the logs; the security schemes the OpenAPI document declares; revocation that takes effect at once."""

import logging
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from apikit import ADMIN, PASSWORD, Api

from station.api import API_PREFIX
from station.auth import ApiRole, create_token, revoke_token

ORDER = "/api/v1/orders/SO20260205-8821"
ROUTES = [
    # method, path, body, roles allowed
    ("POST", "/api/v1/benches/B01/scans", {"code": "OP-001"}, {"bench"}),
    ("GET", "/api/v1/benches/B01/screen", None, {"bench", "supervisor"}),
    ("GET", ORDER, None, {"bench", "supervisor", "hub"}),
    ("GET", ORDER + "/timeline", None, {"supervisor", "hub"}),
    ("POST", ORDER + "/actions/hold", {"reason": "check"}, {"supervisor", "hub"}),
    ("POST", ORDER + "/actions/cancel", {"reason": "customer called"}, {"supervisor"}),
    ("GET", "/api/v1/orders?q=SF1234567890123", None, {"supervisor", "hub"}),
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
    ("GET", ORDER + "/labels", None, {"supervisor", "hub"}),
    ("POST", ORDER + "/label/reprint", {"reason": "label torn"}, {"supervisor", "hub"}),
    (
        "POST",
        "/api/v1/print-jobs/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/resolve",
        {"printed": True, "reason": "seen"},
        {"supervisor", "hub"},
    ),
    ("GET", ORDER + "/label.png", None, {"supervisor", "hub"}),
]
PUBLIC = [("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/logout")]  # no credentials needed
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
    # The pages' fetch helper marks its requests (a body-less POST with the cookie alone is refused: test_login_csrf)
    assert api.client.post("/api/v1/auth/logout", headers={"X-Requested-With": "fetch"}).status_code == 204
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


def _openapi_operations(api: Api) -> dict[tuple[str, str], dict[str, Any]]:
    doc = api.client.get(f"{API_PREFIX}/openapi.json").json()
    return {
        (method.upper(), path): op
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in ("get", "put", "post", "delete", "patch")
    }


def _template_of(path: str, templates: list[str]) -> str:
    path = path.partition("?")[0]
    matches = [t for t in templates if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", t), path)]
    # A literal segment wins over a placeholder, as in the router (`actions/cancel` before `actions/{action}`).
    matches = [t for t in matches if t.count("{") == min(m.count("{") for m in matches)]
    assert len(matches) == 1, (path, matches)
    return matches[0]


def test_routes_cover_every_operation_of_the_openapi_document(api: Api) -> None:
    operations = _openapi_operations(api)
    templates = sorted({path for _, path in operations})
    listed = [(method, _template_of(path, templates)) for method, path, _, _ in ROUTES] + PUBLIC
    assert len(listed) == len(set(listed)), "an operation is listed twice"
    assert sorted(listed) == sorted(operations)


def test_every_protected_operation_declares_its_security(api: Api) -> None:
    doc = api.client.get(f"{API_PREFIX}/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerToken"]["type"] == "http"
    assert schemes["bearerToken"]["scheme"] == "bearer"
    assert schemes["supervisorSession"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "station_session",
        "description": schemes["supervisorSession"]["description"],
    }
    operations = _openapi_operations(api)
    templates = sorted({path for _, path in operations})
    for method, path, _, allowed in ROUTES:
        op = operations[(method, _template_of(path, templates))]
        declared = {name for requirement in op.get("security", []) for name in requirement}
        expected = {"bearerToken"} | ({"supervisorSession"} if "supervisor" in allowed else set())
        assert declared == expected, (method, path)
        assert "401" in op["responses"], (method, path)
    for key in PUBLIC:
        assert "security" not in operations[key], key


def test_revocation_in_process_takes_effect_on_the_very_next_request(api: Api) -> None:
    store = api.station.store
    token_id, secret = create_token(store, ApiRole.SUPERVISOR, "t-soon-revoked", ADMIN)
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/api/v1/health", headers=headers).status_code == 200  # now cached
    assert api.client.get("/api/v1/health", headers=headers).status_code == 200
    revoke_token(store, token_id, ADMIN)
    response = api.client.get("/api/v1/health", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_revocation_by_the_cli_in_another_process_takes_effect_at_once(api: Api) -> None:
    token_id, secret = create_token(api.station.store, ApiRole.PDA, "t-pda-07", ADMIN)
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/api/v1/queue", headers=headers).status_code == 200  # now cached
    env = dict(os.environ, STATION_DATA=str(api.station.settings.station.data_dir))
    env.pop("STATION_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "station.cli", "token", "revoke", token_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert api.client.get("/api/v1/queue", headers=headers).status_code == 401
