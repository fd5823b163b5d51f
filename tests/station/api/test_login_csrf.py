"""A request that changes something with the supervisor's session cookie alone must show it comes from the
station's own pages: a JSON body, the pages' `X-Requested-With`, or an `Origin` of this very host. The cookie is
SameSite=Strict, but "site" ignores the port: a page on another port of the station's host is same-site, and its
body-less POST would carry the cookie. Bearer tokens are not affected."""

import pytest
from apikit import PASSWORD, Api

ORDER = "/api/v1/orders/SO20260205-8821"
BODYLESS = [ORDER + "/clip", "/api/v1/priority/breaker/lift"]  # what the pages POST without a body, and one more


@pytest.fixture
def logged_in(api: Api) -> Api:
    response = api.client.post("/api/v1/auth/login", json={"username": "zhao", "password": PASSWORD})
    assert response.status_code == 204
    return api


@pytest.mark.parametrize("path", BODYLESS)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Content-Type": "text/plain"}, {"Origin": "http://testserver:9999"}, {"Origin": "null"}],
    ids=["nothing", "text-plain", "another-port", "null-origin"],
)
def test_a_cookie_post_without_proof_is_refused(logged_in: Api, path: str, headers: dict[str, str]) -> None:
    response = logged_in.client.post(path, headers=headers)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "cross_site_request"
    zh = logged_in.client.post(path, headers={**headers, "Accept-Language": "zh-CN"})
    assert zh.json()["detail"] == "请求未通过同源检查，请从工作站页面操作"


@pytest.mark.parametrize("path", BODYLESS)
@pytest.mark.parametrize(
    "headers",
    [{"X-Requested-With": "fetch"}, {"Origin": "http://testserver"}, {"Content-Type": "application/json"}],
    ids=["pages-helper", "same-origin", "json"],
)
def test_a_cookie_post_with_proof_goes_through(logged_in: Api, path: str, headers: dict[str, str]) -> None:
    response = logged_in.client.post(path, headers=headers)
    assert response.status_code not in (401, 403), response.text


def test_a_cookie_post_with_a_json_body_goes_through(logged_in: Api) -> None:
    response = logged_in.client.post(ORDER + "/actions/hold", json={"reason": "check"}, headers={"If-Match": '"1"'})
    assert response.status_code not in (401, 403), response.text


def test_bearer_tokens_are_not_affected(api: Api) -> None:
    response = api.client.post(ORDER + "/clip", headers=api.headers("supervisor"))
    assert response.status_code not in (401, 403), response.text


def test_a_cross_site_logout_leaves_the_session(logged_in: Api) -> None:
    assert logged_in.client.post("/api/v1/auth/logout").json()["code"] == "cross_site_request"
    assert logged_in.client.get("/api/v1/auth/me").status_code == 200
    assert logged_in.client.post("/api/v1/auth/logout", headers={"Origin": "http://testserver"}).status_code == 204
