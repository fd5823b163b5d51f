"""Request bodies have a ceiling: a client cannot make the station read megabytes into memory."""

import json
from collections.abc import Iterator

from apikit import Api

from station.api.limits import MAX_BODY_BYTES

SCANS = "/api/v1/benches/B01/scans"


def test_a_body_over_the_limit_is_refused_before_it_is_read(api: Api) -> None:
    before = api.station.store.last_seq()
    body = json.dumps({"code": "x" * MAX_BODY_BYTES}).encode()
    answer = api.client.post(SCANS, content=body, headers=api.headers("bench", **{"Content-Type": "application/json"}))
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "request_too_large"
    assert api.station.store.last_seq() == before  # nothing read, nothing recorded
    chinese = api.client.post(SCANS, content=body, headers=api.headers("bench", **{"Accept-Language": "zh-CN"}))
    assert chinese.json()["detail"].startswith("请求内容过大")
    assert api.client.post(SCANS, json={"code": "OP-001"}, headers=api.headers("bench")).status_code == 200


def test_a_chunked_body_is_counted_as_it_arrives(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"code": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    answer = api.client.post(
        SCANS, content=chunks(), headers=api.headers("bench", **{"Content-Type": "application/json"})
    )
    assert answer.status_code == 413
    assert answer.json()["code"] == "request_too_large"


def test_a_malformed_content_length_is_refused(api: Api) -> None:
    answer = api.client.post(SCANS, content=b"{}", headers=api.headers("bench", **{"Content-Length": "12abc"}))
    assert answer.status_code == 413
    assert answer.json()["code"] == "request_too_large"
