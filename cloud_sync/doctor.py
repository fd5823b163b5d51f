"""What `station doctor` asks of cloud_sync, without a running agent: is the broker reachable with these
settings (TCP, TLS, credentials), what do the retained hub state and this station's last status say, and how
big and how old is the outbox backlog.

`check_broker` connects under its own client id (`{site}-{station}-doctor`, clean session, no will), so it
never takes over the running agent's session or publishes anything.
"""

import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from cloud_sync.errors import LinkSetupError, MessageRejected
from cloud_sync.link import apply_credentials, close_leaked_sockets, release_client_sockets
from cloud_sync.ports import Outbox
from cloud_sync.settings import SyncSettings
from cloud_sync.wire import StationTopics, parse_state, parse_status


def outbox_summary(outbox: Outbox, now_s: float | None = None) -> dict[str, Any]:
    """Backlog, last seq and the age of the oldest event not yet acknowledged by the hub."""
    now = time.time() if now_s is None else now_s
    oldest = outbox.unacked(limit=1)
    age = None
    if oldest:
        at_ms = oldest[0].get("at", {}).get("ms")
        if isinstance(at_ms, int):
            age = round(max(0.0, now - at_ms / 1000), 3)
    return {
        "stream_epoch": outbox.stream_epoch,
        "last_seq": outbox.last_seq(),
        "backlog": outbox.backlog(),
        "oldest_unacked_age_s": age,
    }


class _BrokerCheck:
    """One probing connection; paho's callbacks only record what they see."""

    def __init__(self, settings: SyncSettings, topics: StationTopics, report: dict[str, Any]) -> None:
        self.topics = topics
        self.report = report
        self.connected = threading.Event()
        self.retained = threading.Event()
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{topics.client_id}-doctor", protocol=MQTTProtocolVersion.MQTTv5
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        with self.lock:
            self.report["connack"] = str(reason_code)
            self.report["receive_maximum"] = getattr(properties, "ReceiveMaximum", None)
        self.connected.set()
        if not reason_code.is_failure:
            client.subscribe([(self.topics.hub_state, 1), (self.topics.status, 1)])

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            try:
                if message.topic == self.topics.hub_state:
                    self.report["hub_state"] = parse_state(bytes(message.payload))
                else:
                    self.report["station_status"] = parse_status(bytes(message.payload))
            except MessageRejected as err:
                self.report["error"] = f"unreadable retained message on {message.topic}: {err.reason}"
            if self.report["hub_state"] is not None and self.report["station_status"] is not None:
                self.retained.set()


def check_broker(settings: SyncSettings, *, site: str, station_id: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """Try the broker once with the station's settings; never raises. Blocks up to about `timeout_s`."""
    report: dict[str, Any] = {
        "enabled": settings.enabled,
        "broker": f"{settings.broker}:{settings.effective_port}" if settings.enabled else None,
        "tls": settings.tls,
        "reachable": False,
        "connack": None,
        "receive_maximum": None,
        "hub_state": None,
        "station_status": None,
        "latency_ms": None,
        "error": None,
    }
    if settings.broker is None:
        report["error"] = "sync off: no broker configured"
        return report
    check = _BrokerCheck(settings, StationTopics(site, station_id), report)
    check.client.connect_timeout = timeout_s
    started = time.monotonic()
    try:
        apply_credentials(check.client, settings)
        check.client.connect(settings.broker, settings.effective_port, keepalive=max(5, int(timeout_s) + 5))
    except LinkSetupError as err:
        report["error"] = str(err)
        return report
    except (OSError, ValueError) as err:
        close_leaked_sockets(err)
        report["error"] = f"connect: {err}"
        return report
    check.client.loop_start()
    try:
        if not check.connected.wait(timeout_s):
            report["error"] = "no CONNACK"
            return report
        report["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
        with check.lock:
            connack = report["connack"]
        if connack != "Success":
            report["error"] = f"broker refused the connection: {connack}"
            return report
        report["reachable"] = True
        # Retained messages arrive right after SUBACK when they exist; absent ones simply never come.
        check.retained.wait(min(1.0, timeout_s))
        return report
    finally:
        check.client.disconnect()
        check.client.loop_stop()
        release_client_sockets(check.client)
