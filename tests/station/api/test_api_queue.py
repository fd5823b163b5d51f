"""The PDA queue over HTTP: top with ETag/304, long-poll, claims between PDAs, priority overrides, breaker."""

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

from apikit import ADMIN, Api

from cloud_sync.ports import Command
from station.api import queue_watch
from station.api.queue_watch import QueueWatch
from station.auth import ApiRole, create_token
from station.orders.actions import perform_action
from station.orders.intake import intake_order
from station.orders.lifecycle import Action

TOP = "/api/v1/queue/top"


class FixedSync:
    """A clock-sync state the test sets (the real one asks the kernel)."""

    def __init__(self, synced: bool) -> None:
        self.synced = synced

    def is_synced(self) -> bool:
        return self.synced


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
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["order"]["order_id"] == "SO20260205-9001"
    # Without the commit's wake-up the route would only see the change at its periodic re-check
    # (RECHECK_S after the request began); answering well before that proves the notification worked.
    assert 0.5 <= elapsed < queue_watch.RECHECK_S - 1.5


def test_top_says_when_the_clock_is_not_synchronised_and_the_etag_follows(api: Api) -> None:
    sync = FixedSync(False)
    api.station.store.sync_state = sync  # type: ignore[assignment]
    unsynced = api.client.get(TOP, headers=api.headers("pda"))
    assert unsynced.status_code == 200
    assert unsynced.json()["clock_synced"] is False
    assert api.client.get("/api/v1/queue", headers=api.headers("pda")).json()["clock_synced"] is False
    etag = unsynced.headers["etag"]
    assert api.client.get(TOP, headers=api.headers("pda", **{"If-None-Match": etag})).status_code == 304
    sync.synced = True  # same top order, but the countdown is now trustworthy: not a 304
    synced = api.client.get(TOP, headers=api.headers("pda", **{"If-None-Match": etag}))
    assert synced.status_code == 200
    assert synced.json()["clock_synced"] is True
    assert synced.json()["order"]["order_id"] == unsynced.json()["order"]["order_id"]
    assert synced.headers["etag"] != etag


def test_empty_top_etag_follows_clock_sync(api: Api) -> None:
    perform_action(api.station.store, "SO20260205-8821", Action.HOLD, ADMIN, reason="check")
    sync = FixedSync(True)
    api.station.store.sync_state = sync  # type: ignore[assignment]
    empty = api.client.get(TOP, headers=api.headers("pda"))
    assert empty.json()["order"] is None
    sync.synced = False
    after = api.client.get(TOP, headers=api.headers("pda", **{"If-None-Match": empty.headers["etag"]}))
    assert after.status_code == 200
    assert after.json() == {"order": None, "now": after.json()["now"], "clock_synced": False}


def test_top_gives_deadline_and_seconds_left_from_the_station_clock(api: Api) -> None:
    deadline = (datetime.now(UTC) + timedelta(minutes=90)).replace(microsecond=0)
    _order(api, "SO20260205-9004", ship_by=deadline.astimezone(timezone(timedelta(hours=8))).isoformat())
    body = api.client.get(TOP, headers=api.headers("pda")).json()
    top = body["order"]
    assert top["order_id"] == "SO20260205-9004"  # a deadline comes before none at the same level
    assert top["deadline"] == deadline.isoformat()
    now = datetime.fromisoformat(body["now"])
    # `now` is cut to whole seconds, so the countdown is the difference or one second less.
    assert int((deadline - now).total_seconds()) - top["seconds_left"] in (0, 1)
    assert 85 * 60 < top["seconds_left"] <= 90 * 60
    assert top["sla"] == "red"
    assert top["why"][1].startswith("deadline in 1 h")
    assert top["why"][1].endswith("(red)")
    far = api.client.get("/api/v1/queue?sla=none", headers=api.headers("pda")).json()["orders"][0]
    assert (far["order_id"], far["deadline"], far["seconds_left"], far["sla"]) == (
        "SO20260205-8821",
        None,
        None,
        "none",
    )


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


def test_queue_status_filter_and_paging(api: Api) -> None:
    for i in range(5):
        _order(api, f"SO20260205-96{i}", ship_by=f"2030-01-0{1 + i}T10:00:00+08:00")
    perform_action(api.station.store, "SO20260205-962", Action.HOLD, ADMIN, reason="damaged box")
    sv = api.headers("supervisor")
    held = api.client.get("/api/v1/queue?status=on_hold", headers=sv).json()
    assert [o["order_id"] for o in held["orders"]] == ["SO20260205-962"]
    assert held["orders"][0]["status"] == "on_hold"
    assert held["total"] == 1
    pending = api.client.get("/api/v1/queue", headers=sv).json()
    ids = [o["order_id"] for o in pending["orders"]]
    assert ids == ["SO20260205-960", "SO20260205-961", "SO20260205-963", "SO20260205-964", "SO20260205-8821"]
    assert pending["total"] == 5
    assert api.client.get("/api/v1/queue?status=packing", headers=sv).json()["total"] == 0
    pages = [api.client.get(f"/api/v1/queue?limit=2&offset={o}", headers=sv).json() for o in (0, 2, 4, 6)]
    assert [(p["limit"], p["offset"], p["total"]) for p in pages] == [(2, 0, 5), (2, 2, 5), (2, 4, 5), (2, 6, 5)]
    assert [o["order_id"] for p in pages for o in p["orders"]] == ids
    assert pages[-1]["orders"] == []
    assert api.client.get("/api/v1/queue?limit=0", headers=sv).status_code == 422
    assert api.client.get("/api/v1/queue?offset=-1", headers=sv).status_code == 422
    # every status is a queue, the final ones too (they are empty here); a status that does not exist is not
    for final in ("handed_over", "cancelled"):
        assert api.client.get(f"/api/v1/queue?status={final}", headers=sv).json()["total"] == 0
    assert api.client.get("/api/v1/queue?status=shipped", headers=sv).status_code == 422


def test_order_update_from_the_hub_moves_it_in_the_queue(api: Api) -> None:
    _order(api, "SO20260205-9005", ship_by="2030-01-02T10:00:00+08:00")
    _order(api, "SO20260205-9006", ship_by="2030-01-03T10:00:00+08:00")
    first = api.client.get(TOP, headers=api.headers("pda"))
    assert first.json()["order"]["order_id"] == "SO20260205-9005"
    update = {
        "order_id": "SO20260205-9006",
        "version": 2,
        "ship_by": "2030-01-03T10:00:00+08:00",
        "notes": "请加急",
        "lines": [{"line_no": 1, "sku": "X", "name": "x", "barcodes": ["X-1"], "qty": 1}],
    }
    outcome = api.station.commands.apply_command(Command("c1", 1, "order.upsert", update))
    assert outcome.applied, outcome
    moved = api.client.get(TOP, headers=api.headers("pda", **{"If-None-Match": first.headers["etag"]}))
    assert moved.status_code == 200
    assert (moved.json()["order"]["order_id"], moved.json()["order"]["level"]) == ("SO20260205-9006", "A")
    assert moved.json()["order"]["rule"] == "urgent_note"
    changed = [
        e["data"] for e in api.station.store.events_for_order("SO20260205-9006") if e["type"] == "priority.changed"
    ]
    assert changed == [{"from": None, "to": "C", "rule": "default"}, {"from": "C", "to": "A", "rule": "urgent_note"}]


def test_hub_config_set_replaces_the_rules_and_reevaluates_open_orders(api: Api) -> None:
    _order(api, "SO20260205-9007", ship_by="2030-01-02T10:00:00+08:00", channel="tmall")
    _order(api, "SO20260205-9008", ship_by="2030-01-01T10:00:00+08:00", notes="加急")
    first = api.client.get(TOP, headers=api.headers("pda"))
    assert first.json()["order"]["order_id"] == "SO20260205-9008"
    rules = [{"name": "tmall_first", "level": "S", "channel_in": ["tmall"]}]
    outcome = api.station.commands.apply_command(
        Command("c-rules", 1, "config.set", {"key": "priority.rules", "value": rules})
    )
    assert outcome.applied, outcome
    top = api.client.get(TOP, headers=api.headers("pda", **{"If-None-Match": first.headers["etag"]}))
    assert top.status_code == 200
    assert (top.json()["order"]["order_id"], top.json()["order"]["level"]) == ("SO20260205-9007", "S")
    assert top.json()["order"]["rule"] == "tmall_first"
    events = {
        order_id: [
            (e["data"], e["actor"]["id"])
            for e in api.station.store.events_for_order(order_id)
            if e["type"] == "priority.changed"
        ][-1]
        for order_id in ("SO20260205-9007", "SO20260205-9008")
    }
    assert events["SO20260205-9007"] == ({"from": "C", "to": "S", "rule": "tmall_first"}, "config.set")
    assert events["SO20260205-9008"] == ({"from": "A", "to": "C", "rule": "default"}, "config.set")
    # New orders follow the new rules too.
    _order(api, "SO20260205-9009", notes="加急")
    level = api.client.get("/api/v1/queue?level=C", headers=api.headers("pda")).json()["orders"]
    assert "SO20260205-9009" in [o["order_id"] for o in level]


def test_a_change_while_the_top_was_computed_is_not_slept_through() -> None:
    async def scenario() -> None:
        watch = QueueWatch()
        watch.bind(asyncio.get_running_loop())
        seen = watch.generation  # a long-poll starts computing its answer here...
        watch.notify([{"type": "config.changed"}])  # (not a queue change)
        watch.notify([{"type": "order.updated"}])  # ...a commit lands meanwhile, on the database thread
        await asyncio.sleep(0.05)
        assert watch.generation == seen + 1
        started = time.monotonic()
        await asyncio.wait_for(watch.wait_for_change(30, seen), 5)  # returns at once, not after 30 s
        assert time.monotonic() - started < 1
        await watch.wait_for_change(0.05, watch.generation)  # up to date: it waits (and times out)

    asyncio.run(scenario())
