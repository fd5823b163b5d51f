"""Scans, orders, timelines, actions with If-Match, alerts, health, metrics and problem documents."""

from typing import Any

from apikit import ADMIN, Api
from apikit import ORDER as ORDER_DOC

from station.events import Actor
from station.orders.intake import cancel_order, intake_order

HUB = Actor(role="hub", id="hub")

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


def _etag(api: Api) -> str:
    return str(api.client.get(ORDER, headers=api.headers("supervisor")).headers["etag"])


def _cancel(api: Api, etag: str, body: dict[str, str] | None, who: str = "supervisor") -> Any:
    return api.client.post(ORDER + "/actions/cancel", json=body, headers=api.headers(who, **{"If-Match": etag}))


def test_a_supervisor_cancels_with_a_reason_and_the_bench_is_intercepted_as_by_the_hub(api: Api) -> None:
    # Two benches in the same state: the hub cancels the order on B02, a supervisor the one on B01.
    second = {**ORDER_DOC, "order_id": "SO20260205-8822", "waybill_no": "SF1234567890124"}
    assert intake_order(api.station.store, second, ADMIN).ok
    for bench, who, order_id in (("B01", "bench", "SO20260205-8821"), ("B02", "other_bench", "SO20260205-8822")):
        for code in ("OP-001", order_id, "FOOD-2KG-BAG"):
            posted = api.client.post(f"/api/v1/benches/{bench}/scans", json={"code": code}, headers=api.headers(who))
            assert posted.json()["outcome"] == "accepted", posted.text
    assert cancel_order(api.station.store, "SO20260205-8822", "客户取消 / customer cancelled", HUB).ok
    response = _cancel(api, _etag(api), {"reason": "客户取消 / customer cancelled"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.headers["etag"] == f'"{response.json()["version"]}"'

    def outcome(order_id: str, bench: str, who: str) -> tuple[Any, ...]:
        change = api.station.store.events_for_order(order_id)[-1]
        assert change["type"] == "order.status_changed"
        data = {**change["data"], "bench": "*"}
        screen = api.client.get(f"/api/v1/benches/{bench}/screen", headers=api.headers(who)).json()
        shown = screen["order"] and screen["order"]["order_id"] == order_id
        item = api.client.post(
            f"/api/v1/benches/{bench}/scans", json={"code": "FOOD-2KG-BAG", "device": "s9"}, headers=api.headers(who)
        ).json()
        return change["data"]["bench"] == bench, data, shown, item["reason"], item["feedback"]

    by_supervisor = outcome("SO20260205-8821", "B01", "bench")
    assert by_supervisor == outcome("SO20260205-8822", "B02", "other_bench")
    assert by_supervisor[1] == {
        "from": "packing",
        "to": "cancelled",
        "action": "cancel",
        "version": response.json()["version"],
        "interception": True,
        "bench": "*",
        "verified": {"1": 1},
        "reason_text": "客户取消 / customer cancelled",
    }
    changes = [e for e in api.station.store.events_for_order("SO20260205-8821") if e["type"] == "order.status_changed"]
    assert changes[-1]["actor"]["role"] == "supervisor"
    again = _scan(api, "SO20260205-8821")
    assert (again["outcome"], again["reason"], again["feedback"]) == ("refused", "order_cancelled", "blocked")


def test_a_cancel_without_a_reason_or_against_an_old_version_is_refused_and_recorded(api: Api) -> None:
    etag = _etag(api)
    for body in (None, {"reason": "   "}):
        refused = _cancel(api, etag, body)
        assert refused.status_code == 409
        assert refused.json()["code"] == "reason_required"
        assert refused.json()["detail"] == "A reason is required"
    held = api.client.post(
        ORDER + "/actions/hold", json={"reason": "address"}, headers=api.headers("supervisor", **{"If-Match": etag})
    )
    stale = _cancel(api, etag, {"reason": "customer"})
    assert stale.status_code == 409
    assert stale.json()["code"] == "version_conflict"
    assert stale.headers["etag"] == held.headers["etag"]
    timeline = api.client.get(ORDER + "/timeline", headers=api.headers("supervisor")).json()["events"]
    refusals = [e["data"]["reason"] for e in timeline if e["type"] == "action.refused"]
    assert refusals == ["reason_required", "reason_required", "version_conflict"]
    assert api.client.get(ORDER, headers=api.headers("supervisor")).json()["status"] == "on_hold"
    cancelled = _cancel(api, held.headers["etag"], {"reason": "customer"})  # from on hold, with the new version
    assert cancelled.status_code == 200
    assert _cancel(api, cancelled.headers["etag"], {"reason": "again"}).json()["code"] == "order_cancelled"


def test_only_a_supervisor_cancels_over_http(api: Api) -> None:
    etag = _etag(api)
    for who in ("hub", "bench", "pda"):
        assert _cancel(api, etag, {"reason": "x"}, who).status_code == 403
    assert (
        api.client.post(ORDER + "/actions/cancel", json={"reason": "x"}, headers=api.headers("supervisor")).status_code
        == 422
    )
    unknown = api.client.post(
        "/api/v1/orders/SO20990101-1/actions/cancel",
        json={"reason": "x"},
        headers=api.headers("supervisor", **{"If-Match": '"1"'}),
    )
    assert unknown.status_code == 404
