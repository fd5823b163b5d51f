"""The PDA queue over HTTP: top with ETag/304, long-poll, claims between PDAs, priority overrides, breaker."""

import threading
import time

from apikit import ADMIN, Api

from station.auth import ApiRole, create_token
from station.intake import intake_order

TOP = "/api/v1/queue/top"


def _order(api: Api, order_id: str, **extra: object) -> None:
    doc = {
        "order_id": order_id,
        "version": 1,
        "ship_by": "2030-01-01T10:00:00+08:00",
        "lines": [{"line_no": 1, "sku": "X", "name": "x", "barcodes": ["X-1"], "qty": 1}],
        **extra,
    }
    assert intake_order(api.station.store, doc, ADMIN, api.station.settings.priority).ok


def test_top_with_etag_and_304(api: Api) -> None:
    first = api.client.get(TOP, headers=api.headers("pda"))
    assert first.status_code == 200
    body = first.json()
    assert body["order"]["order_id"] == "SO20260205-8821"
    assert body["order"]["sla"] in ("red", "orange", "yellow", "green", "none")
    assert isinstance(body["clock_synced"], bool)
    assert body["order"]["why"]
    again = api.client.get(TOP, headers=api.headers("pda", **{"If-None-Match": first.headers["etag"]}))
    assert again.status_code == 304
    _order(api, "SO20260205-9000", notes="加急")
    changed = api.client.get(TOP, headers=api.headers("pda", **{"If-None-Match": first.headers["etag"]}))
    assert changed.status_code == 200
    assert changed.json()["order"]["order_id"] == "SO20260205-9000"
    assert changed.json()["order"]["level"] == "A"


def test_long_poll_wakes_on_change(api: Api) -> None:
    etag = api.client.get(TOP, headers=api.headers("pda")).headers["etag"]
    timer = threading.Timer(0.5, _order, args=(api, "SO20260205-9001"), kwargs={"notes": "urgent"})
    started = time.monotonic()
    timer.start()
    try:
        response = api.client.get(TOP + "?wait=20", headers=api.headers("pda", **{"If-None-Match": etag}))
    finally:
        timer.cancel()
    assert response.status_code == 200
    assert response.json()["order"]["order_id"] == "SO20260205-9001"
    assert time.monotonic() - started < 15  # woke on the change, not at the end of the wait


def test_long_poll_without_change_ends_in_304(api: Api) -> None:
    etag = api.client.get(TOP, headers=api.headers("pda")).headers["etag"]
    response = api.client.get(TOP + "?wait=1", headers=api.headers("pda", **{"If-None-Match": etag}))
    assert response.status_code == 304


def test_a_claimed_order_is_not_handed_to_a_second_pda(api: Api) -> None:
    _order(api, "SO20260205-9002")
    second_pda = create_token(api.station.store, ApiRole.PDA, "pda-2", ADMIN)[1]
    other = {"Authorization": f"Bearer {second_pda}"}
    top1 = api.client.get(TOP, headers=api.headers("pda")).json()["order"]["order_id"]
    claimed = api.client.post(f"/api/v1/queue/{top1}/claim", headers=api.headers("pda"))
    assert claimed.status_code == 200
    assert claimed.json()["expires_at"]
    top2 = api.client.get(TOP, headers=other).json()["order"]["order_id"]
    assert top2 != top1
    refused = api.client.post(f"/api/v1/queue/{top1}/claim", headers=other)
    assert refused.status_code == 409
    assert refused.json()["code"] == "claimed_by_other"
    assert api.client.post(f"/api/v1/queue/{top1}/release", headers=api.headers("pda")).status_code == 200
    assert api.client.get(TOP, headers=other).json()["order"]["order_id"] == top1


def test_queue_listing_filters(api: Api) -> None:
    _order(api, "SO20260205-9003", notes="加急")
    page = api.client.get("/api/v1/queue?level=A", headers=api.headers("supervisor")).json()
    assert [o["order_id"] for o in page["orders"]] == ["SO20260205-9003"]
    assert page["total"] == 1
    green = api.client.get("/api/v1/queue?sla=green", headers=api.headers("pda")).json()
    assert "SO20260205-9003" in [o["order_id"] for o in green["orders"]]
    none = api.client.get("/api/v1/queue?sla=none", headers=api.headers("pda")).json()
    assert [o["order_id"] for o in none["orders"]] == ["SO20260205-8821"]


def test_supervisor_sets_a_level_and_the_breaker_refuses_then_lifts(api: Api) -> None:
    order = "/api/v1/orders/SO20260205-8821"
    etag = api.client.get(order, headers=api.headers("supervisor")).headers["etag"]
    response = api.client.post(
        order + "/priority", json={"level": "B"}, headers=api.headers("supervisor", **{"If-Match": etag})
    )
    assert response.status_code == 200
    assert response.json()["level"] == "B"
    for i in range(4):
        _order(api, f"SO20260205-95{i}", customer={"vip_level": "S", "name": "x"}, amount="8000")
    api.station.alerts.tick()
    alerts = api.client.get("/api/v1/alerts", headers=api.headers("supervisor")).json()
    assert "s_overload" in [a["alert"] for a in alerts]
    etag = response.headers["etag"]
    refused = api.client.post(
        order + "/priority", json={"level": "S"}, headers=api.headers("supervisor", **{"If-Match": etag})
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "s_breaker_tripped"
    assert api.client.post("/api/v1/priority/breaker/lift", headers=api.headers("hub")).status_code == 403
    assert api.client.post("/api/v1/priority/breaker/lift", headers=api.headers("supervisor")).status_code == 204
    allowed = api.client.post(
        order + "/priority", json={"level": "S"}, headers=api.headers("supervisor", **{"If-Match": etag})
    )
    assert allowed.status_code == 200
    assert allowed.json()["level"] == "S"
