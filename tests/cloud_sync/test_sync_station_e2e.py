"""The whole station with sync on, through real Mosquitto and the hub kit: bench scans reach the hub exactly
once and in order; the hub's commands (a new order, a cancellation that intercepts it at the bench, a
config change) are applied and acknowledged; /health shows the link."""

from pathlib import Path

from fastapi.testclient import TestClient
from sync_harness import (
    SITE,
    STATION,
    Broker,
    HubThread,
    assert_clean,
    counting_report,
    free_port,
    hub_has_all,
    wait_until,
)

from station.app import Station
from station.auth import ApiRole, create_token
from station.config import load_settings
from station.events import Actor
from station.orders.model import Role
from station.orders.operators import add_operator

ADMIN = Actor(role="system", id="test")
ORDER = {
    "order_id": "SO20261122-7777",
    "version": 1,
    "carrier": "SF",
    "waybill_no": "SF1400000000001",
    "lines": [{"line_no": 1, "sku": "TEA", "name": "龙井", "barcodes": ["6948000111224"], "qty": 2}],
}


def test_station_and_hub_over_mosquitto(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "broker").start()
    hub = HubThread(broker.port, tmp_path / "hub.db").start()
    environ = {
        "STATION_DATA": str(tmp_path / "station"),
        "STATION_DEVICES__SCANNERS": "[]",
        "STATION_DEVICES__CONTROLLER": "",
        "STATION_SYNC__BROKER": "127.0.0.1",
        "STATION_SYNC__PORT": str(broker.port),
        "STATION_SYNC__BACKOFF_MIN_S": "0.05",
        "STATION_SYNC__BACKOFF_MAX_S": "0.5",
        "STATION_SYNC__ACK_TIMEOUT_S": "2",
    }
    station = Station.build(load_settings(None, environ=environ))
    store = station.store
    add_operator(store, "OP-001", "李四", Role.PACKER, ADMIN)
    bench = {"Authorization": f"Bearer {create_token(store, ApiRole.BENCH, 'b', ADMIN, 'B01')[1]}"}
    supervisor = {"Authorization": f"Bearer {create_token(store, ApiRole.SUPERVISOR, 's', ADMIN)[1]}"}
    try:
        with TestClient(station.api) as client:
            assert hub.consumer is not None
            hub.consumer.send_command(SITE, STATION, "order.upsert", ORDER)
            wait_until(lambda: _status(station, ORDER["order_id"]) == "pending", 20, "the hub's order at the station")

            def scan(code: str) -> dict[str, object]:
                response = client.post("/api/v1/benches/B01/scans", json={"code": code}, headers=bench)
                body: dict[str, object] = response.json()
                return body

            assert scan("OP-001")["outcome"] == "accepted"
            assert scan(ORDER["order_id"])["status"] == "packing"
            assert scan("6948000111224")["outcome"] == "accepted"
            hub.consumer.send_command(SITE, STATION, "order.cancel", {"order_id": ORDER["order_id"], "reason": "fraud"})
            wait_until(lambda: _status(station, ORDER["order_id"]) == "cancelled", 20, "the cancellation")
            blocked = scan(ORDER["order_id"])
            assert (blocked["reason"], blocked["feedback"]) == ("order_cancelled", "blocked")
            hub.consumer.send_command(SITE, STATION, "config.set", {"key": "workflow.idle_lock_s", "value": 120})
            hub.consumer.send_command(SITE, STATION, "config.set", {"key": "workflow.idle_lock_s", "value": "soon"})
            hub.consumer.send_command(SITE, STATION, "config.set", {"key": "sync.broker", "value": "evil"})
            wait_until(lambda: station.commands.cmd_applied_through() >= 5, 20, "every command acknowledged")
            assert station.settings.workflow.idle_lock_s == 120
            assert station.workflow.settings.idle_lock_s == 120
            with store.reading() as repo:
                refused = [r["reason"] for r in repo.db.query("SELECT reason FROM hub_commands WHERE applied = 0")]
            assert len(refused) == 2
            assert all(r.startswith("invalid_config") for r in refused)
            wait_until(hub_has_all(tmp_path / "hub.db", store), 30, "the hub has every event")
            wait_until(lambda: store.backlog() == 0, 30, "the station saw the hub's ack")
            health = client.get("/api/v1/health", headers=supervisor).json()
            assert health["parts"]["sync"]["broker_connected"] is True
            assert health["parts"]["sync"]["ok"] is True
            assert health["backlog"] == 0
            report = counting_report("station e2e", store, tmp_path / "hub.db", hub.released)
            assert_clean(report)
            assert report["expected"] > 10
    finally:
        hub.stop()
        broker.stop()


def test_broker_down_is_an_alert_until_it_comes_back(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here yet: the broker is down from the start
    environ = {
        "STATION_DATA": str(tmp_path / "station"),
        "STATION_DEVICES__SCANNERS": "[]",
        "STATION_DEVICES__CONTROLLER": "",
        "STATION_SYNC__BROKER": "127.0.0.1",
        "STATION_SYNC__PORT": str(port),
        "STATION_SYNC__BACKOFF_MIN_S": "0.05",
        "STATION_SYNC__BACKOFF_MAX_S": "0.3",
        "STATION_PRIORITY__ALERT_TICK_S": "0.2",
        "STATION_PRIORITY__BROKER_DOWN_AFTER_S": "1",
    }
    station = Station.build(load_settings(None, environ=environ))
    supervisor = {"Authorization": f"Bearer {create_token(station.store, ApiRole.SUPERVISOR, 's', ADMIN)[1]}"}
    broker = Broker(tmp_path / "broker", port=port)

    def broker_alert(client: TestClient) -> list[dict[str, object]]:
        alerts = client.get("/api/v1/alerts", headers=supervisor).json()
        return [a for a in alerts if a["alert"] == "device_down" and a["subject"] == "broker"]

    try:
        with TestClient(station.api) as client:
            wait_until(lambda: broker_alert(client), 20, "device_down broker raised")
            assert broker_alert(client)[0]["data"]["detail"]  # the link's last error, for whoever is paged
            broker.start()
            wait_until(lambda: not broker_alert(client), 20, "the alert cleared once the broker is back")
            events = station.store.events_from(1)
        subjects = [(e["type"], e["data"].get("subject")) for e in events if e["type"].startswith("alert.")]
        assert subjects.count(("alert.raised", "broker")) == 1
        assert subjects.count(("alert.cleared", "broker")) == 1
    finally:
        broker.stop()


def _status(station: Station, order_id: str) -> str | None:
    with station.store.reading() as repo:
        order = repo.order(order_id)
    return order.status.value if order else None
