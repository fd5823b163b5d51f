"""Scans, orders, timelines, actions with If-Match, alerts, health, metrics and problem documents."""

from apikit import Api

ORDER = "/api/v1/orders/SO20260205-8821"


def _scan(api: Api, code: str) -> dict[str, object]:
    response = api.client.post("/api/v1/benches/B01/scans", json={"code": code}, headers=api.headers("bench"))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_scans_through_the_api(api: Api) -> None:
    assert _scan(api, "OP-001")["outcome"] == "accepted"
    opened = _scan(api, "SO20260205-8821")
    assert (opened["outcome"], opened["status"]) == ("accepted", "packing")
    wrong = _scan(api, "6920000000005")
    assert (wrong["outcome"], wrong["reason"], wrong["feedback"]) == ("refused", "wrong_item", "wrong_item")
    assert wrong["message"] == {"zh-CN": "商品不属于此订单", "en": "Item is not on this order"}
    junk = _scan(api, "\x00\x07 junk")
    assert junk["outcome"] == "refused"
    assert isinstance(junk["seq"], int)


def test_order_with_etag_and_lines(api: Api) -> None:
    response = api.client.get(ORDER, headers=api.headers("supervisor"))
    assert response.status_code == 200
    body = response.json()
    assert response.headers["etag"] == f'"{body["version"]}"'
    assert body["lines"][0] == {
        "line_no": 1,
        "sku": "FOOD",
        "name": "猫粮",
        "qty": 2,
        "verified": 0,
        "serialized": False,
        "gift_for": None,
    }
    assert body["status_label"] == {"zh-CN": "待打包", "en": "Pending"}


def test_unknown_order_is_a_problem_in_the_callers_language(api: Api) -> None:
    zh = api.client.get("/api/v1/orders/NOPE-1", headers=api.headers("supervisor", **{"Accept-Language": "zh-CN,zh"}))
    assert zh.status_code == 404
    assert zh.json()["code"] == "order_not_found"
    assert zh.json()["detail"] == "订单不存在"
    en = api.client.get("/api/v1/orders/NOPE-1", headers=api.headers("supervisor", **{"Accept-Language": "en-US"}))
    assert en.json()["detail"] == "Order not found"


def test_if_match_conflict_gives_409_and_loses_nothing(api: Api) -> None:
    etag = api.client.get(ORDER, headers=api.headers("supervisor")).headers["etag"]
    first = api.client.post(
        ORDER + "/actions/hold",
        json={"reason": "address check"},
        headers=api.headers("supervisor", **{"If-Match": etag}),
    )
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "on_hold"
    second = api.client.post(  # another supervisor, who read the same version
        ORDER + "/actions/abort", json={"reason": "x"}, headers=api.headers("hub", **{"If-Match": etag})
    )
    assert second.status_code == 409
    assert second.json()["code"] == "version_conflict"
    assert second.headers["etag"] == first.headers["etag"]
    timeline = api.client.get(ORDER + "/timeline", headers=api.headers("supervisor")).json()["events"]
    kinds = [(e["type"], e["data"].get("to") or e["data"].get("reason")) for e in timeline]
    assert ("order.status_changed", "on_hold") in kinds
    assert ("action.refused", "version_conflict") in kinds
    state = api.client.get(ORDER, headers=api.headers("supervisor")).json()
    assert state["status"] == "on_hold"


def test_action_needs_if_match(api: Api) -> None:
    response = api.client.post(ORDER + "/actions/hold", json={"reason": "r"}, headers=api.headers("supervisor"))
    assert response.status_code == 422
    assert any(e.startswith("header.if-match") for e in response.json()["errors"])


def test_refused_action_is_a_409_with_its_reason(api: Api) -> None:
    etag = api.client.get(ORDER, headers=api.headers("supervisor")).headers["etag"]
    response = api.client.post(ORDER + "/actions/release", headers=api.headers("supervisor", **{"If-Match": etag}))
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


def test_validation_errors_name_the_field(api: Api) -> None:
    response = api.client.post("/api/v1/benches/B01/scans", json={"device": "x"}, headers=api.headers("bench"))
    assert response.status_code == 422
    assert any(e.startswith("body.code") for e in response.json()["errors"])


def test_health(api: Api) -> None:
    body = api.client.get("/api/v1/health", headers=api.headers("bench")).json()
    assert body["status"] == "ok"
    assert body["last_seq"] > 0
    assert body["stream_epoch"] == api.station.store.stream_epoch


def test_metrics_count_what_the_station_stopped(api: Api) -> None:
    _scan(api, "OP-001")
    _scan(api, "SO20260205-8821")
    _scan(api, "6920000000005")
    _scan(api, "CMD:QTY:2")
    _scan(api, "FOOD-2KG-BAG")  # both bags at once: auto-complete → packed
    text = api.client.get("/metrics", headers=api.headers("hub")).text
    assert 'station_scans_total{outcome="refused",reason="wrong_item"} 1.0' in text
    assert 'station_transitions_total{to="packed"} 1.0' in text
    assert "station_errors_stopped_per_1000_orders 1000.0" in text
    assert "station_outbox_backlog" in text
    assert 'station_http_request_duration_seconds_count{method="POST",route="/api/v1/benches/{bench}/scans"' in text


def test_unknown_path_is_a_problem_document(api: Api) -> None:
    response = api.client.get("/api/v1/nothing-here", headers=api.headers("supervisor"))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
