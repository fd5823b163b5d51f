"""The hub kit's MQTT consumer: ingest events through a shared subscription, ack after commit, send commands.

Threads: paho's network thread only enqueues (callbacks never block or raise). One worker thread does
everything else — decoding, the database transaction, acks, commands, hub state — and is the only thread that
calls paho after `start()`, so paho is never used from two threads at once.

Several instances with the same `group` split the stations' `evt` messages between them (`$share/{group}/...`)
and share one database; each acks what it committed, and the ack carries the database's high-water mark.
"""

import contextlib
import logging
import os
import queue
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from cloud_sync.errors import MessageRejected
from cloud_sync.events import Envelope
from cloud_sync.hub.store import HubStore, OutgoingCommand, StreamKey, StreamProgress
from cloud_sync.link import release_client_sockets
from cloud_sync.wire import (
    ROOT,
    Ack,
    decode_events,
    dumps,
    encode_command,
    hub_state_topic,
    parse_cmd_ack,
    parse_state,
    parse_station_topic,
    parse_status,
)

logger = logging.getLogger(__name__)

ReleaseListener = Callable[[StreamKey, list[dict[str, Any]]], None]


@dataclass
class HubConfig:
    """How a hub instance connects and behaves."""

    broker: str
    port: int = 1883
    sites: list[str] = field(default_factory=lambda: ["WH1"])
    instance: str = "hub-1"
    group: str = "ingest"
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = 30
    gap_grace_s: float = 2.0
    command_resend_s: float = 10.0
    state_refresh_s: float = 30.0
    max_batch_messages: int = 200


@dataclass
class HubFaults:
    """Fault knobs for tests (the hub's simulated twin): crash after a commit before acking, lose acks."""

    exit_after_commits: int | None = None
    drop_ack_every: int = 0


@dataclass
class HubStats:
    """Counters of one instance."""

    messages: int = 0
    events: int = 0
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    commits: int = 0
    acks_sent: int = 0
    acks_dropped: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    commands_sent: int = 0


def _properties(packet_type: int) -> Properties:
    return Properties(packet_type)  # type: ignore[no-untyped-call]  # paho leaves this constructor untyped


class HubConsumer:
    """One hub instance. `start()` connects and starts the worker; `stop()` says goodbye and joins."""

    def __init__(
        self,
        store: HubStore,
        config: HubConfig,
        *,
        on_release: ReleaseListener | None = None,
        faults: HubFaults | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.stats = HubStats()
        self._on_release = on_release
        self._faults = faults or HubFaults()
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._gap_since: dict[StreamKey, float] = {}
        self._gap_reported: dict[StreamKey, float] = {}
        self._acks_seen = 0
        self._next_commands_at = 0.0
        self._next_state_at = 0.0
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=config.instance,
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        client.reconnect_delay_set(1, 30)
        if config.username is not None:
            client.username_pw_set(config.username, config.password)
        if config.tls:
            client.tls_set(
                ca_certs=str(config.ca_file) if config.ca_file else None,
                certfile=str(config.cert_file) if config.cert_file else None,
                keyfile=str(config.key_file) if config.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.will_set(hub_state_topic(config.sites[0]), self._state_payload("offline"), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        self._client = client

    # -- lifecycle --------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect (blocking), then run paho's network thread and the worker."""
        props = _properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0  # a dead instance must not keep a share of the stream queued for itself
        self._client.connect(
            self.config.broker, self.config.port, keepalive=self.config.keepalive_s, clean_start=True, properties=props
        )
        self._client.loop_start()
        self._worker = threading.Thread(target=self._run, name=f"hub-worker-{self.config.instance}", daemon=True)
        self._worker.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Publish `offline` for the sites, disconnect, join the threads."""
        self._queue.put(("stop", None))
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout_s)
        try:
            if self._client.is_connected():
                for site in self.config.sites:
                    info = self._client.publish(
                        hub_state_topic(site), self._state_payload("offline"), qos=1, retain=True
                    )
                    info.wait_for_publish(1.0)
        except (RuntimeError, ValueError) as err:
            logger.warning("could not publish hub offline: %s", err)
        self._client.disconnect()
        self._client.loop_stop()
        release_client_sockets(self._client)

    def send_command(
        self, site: str, station: str, kind: str, data: dict[str, Any], cmd_id: str | None = None
    ) -> tuple[str, int]:
        """Store a command for a station (it gets the next cmd_seq); the worker sends and resends it."""
        result = self.store.enqueue_command(site, station, kind, data, cmd_id)
        self._queue.put(("commands", None))
        return result

    # -- paho callbacks (network thread): enqueue only --------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        try:
            sock = client.socket()
            if isinstance(sock, socket.socket):
                # Each ack is a small message the station waits for: without this, Nagle and the broker's
                # delayed ACK add ~40 ms per round trip (measured by tests/perf/bench_sync_fleet.py).
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._queue.put(("connected", not reason_code.is_failure))
        except Exception:
            logger.exception("hub on_connect failed")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        # A logging failure must not kill the network thread.
        with contextlib.suppress(Exception):
            logger.warning("hub %s disconnected: %s", self.config.instance, reason_code)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self._queue.put(("message", (message.topic, bytes(message.payload))))
        except Exception:
            logger.exception("hub on_message failed")

    # -- the worker -------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                items = self._take_batch()
                self._process(items)
                self._timers()
            except Exception:
                # Keep serving: the messages of a failed batch are not acked, so stations resend them.
                logger.exception("hub worker step failed")
                time.sleep(0.5)

    def _take_batch(self) -> list[tuple[str, Any]]:
        try:
            first = self._queue.get(timeout=0.25)
        except queue.Empty:
            return []
        items = [first]
        while len(items) < self.config.max_batch_messages:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _process(self, items: list[tuple[str, Any]]) -> None:
        evt_batch: list[tuple[str, str, list[Envelope]]] = []
        for kind, value in items:
            if kind == "connected":
                self._handle_connected(bool(value))
            elif kind == "commands":
                self._next_commands_at = 0.0
            elif kind == "message":
                topic, payload = value
                self._handle_message(topic, payload, evt_batch)
        if evt_batch:
            self._ingest(evt_batch)

    def _handle_connected(self, ok: bool) -> None:
        if not ok:
            logger.error("hub %s: broker refused the connection", self.config.instance)
            return
        group = self.config.group
        topics = [
            (f"$share/{group}/{ROOT}/+/+/evt", SubscribeOptions(qos=1)),
            (f"$share/{group}/{ROOT}/+/+/cmd_ack", SubscribeOptions(qos=1)),
            (f"$share/{group}/{ROOT}/+/+/status", SubscribeOptions(qos=1)),
        ]
        # Not shared: every instance watches the hub state so it can correct an `offline` left by a dead peer.
        topics += [(hub_state_topic(site), SubscribeOptions(qos=1, noLocal=True)) for site in self.config.sites]
        self._client.subscribe(topics)
        self._publish_state()
        logger.info("hub %s connected; ingesting through $share/%s", self.config.instance, group)

    def _handle_message(self, topic: str, payload: bytes, evt_batch: list[tuple[str, str, list[Envelope]]]) -> None:
        self.stats.messages += 1
        parsed = parse_station_topic(topic)
        try:
            if parsed is None:
                ours = topic in {hub_state_topic(s) for s in self.config.sites}
                if ours and parse_state(payload) == "offline" and not self._stop.is_set():
                    logger.info("hub state went offline (a peer left); announcing this instance")
                    self._publish_state()
                return
            site, station, kind = parsed
            if kind == "evt":
                envelopes = decode_events(payload)
                self.stats.events += len(envelopes)
                evt_batch.append((site, station, envelopes))
            elif kind == "cmd_ack":
                self.store.record_cmd_ack(site, station, parse_cmd_ack(payload))
            elif kind == "status":
                doc = parse_status(payload)
                self.store.record_status(site, station, doc)
                if doc.get("state") == "online":
                    self._next_commands_at = 0.0
        except MessageRejected as err:
            self.stats.rejected[err.reason] += 1
            logger.warning("hub refused a message on %s: %s", topic, err)

    def _ingest(self, evt_batch: list[tuple[str, str, list[Envelope]]]) -> None:
        progress = self.store.ingest(evt_batch, want_released=self._on_release is not None)
        self.stats.commits += 1
        exit_after = self._faults.exit_after_commits
        if exit_after is not None and self.stats.commits >= exit_after:
            logger.error("fault knob: exiting after commit %s, before acking", self.stats.commits)
            os._exit(137)
        now = time.monotonic()
        for p in progress:
            self.stats.stored += p.stored
            self.stats.duplicates += p.duplicates
            self.stats.conflicts += p.conflicts
            if self._on_release is not None and p.released:
                try:
                    self._on_release(p.key, p.released)
                except Exception:
                    logger.exception("release listener failed for %s", p.key)
            self._send_ack(p, now)

    def _send_ack(self, p: StreamProgress, now: float) -> None:
        missing: list[tuple[int, int]] = []
        if p.missing:
            # Another instance may still be committing the "missing" part: report only gaps that persist.
            since = self._gap_since.setdefault(p.key, now)
            if now - since >= self.config.gap_grace_s:
                missing = p.missing
                self._gap_reported[p.key] = now
        else:
            self._gap_since.pop(p.key, None)
            self._gap_reported.pop(p.key, None)
        self._acks_seen += 1
        every = self._faults.drop_ack_every
        if every and self._acks_seen % every == 0:
            self.stats.acks_dropped += 1
            return
        ack = Ack(p.key.stream_epoch, p.acked_through, tuple(missing), hub=self.config.instance)
        self._client.publish(f"{ROOT}/{p.key.site}/{p.key.station}/ack", ack.to_wire(), qos=1)
        self.stats.acks_sent += 1

    def _timers(self) -> None:
        now = time.monotonic()
        for key, since in list(self._gap_since.items()):
            last = self._gap_reported.get(key, since)
            if now - since >= self.config.gap_grace_s and now - last >= self.config.gap_grace_s:
                p = self.store.progress(key)
                if p is not None:
                    self._gap_reported[key] = now
                    self._send_ack(p, now)
        if now >= self._next_commands_at:
            self._next_commands_at = now + 1.0
            due = self.store.commands_due(int(self.config.command_resend_s * 1000))
            self._send_commands(due)
        if now >= self._next_state_at:
            self._publish_state()

    def _send_commands(self, due: list[OutgoingCommand]) -> None:
        if not due or not self._client.is_connected():
            return
        for c in due:
            payload = encode_command(c.cmd_id, c.cmd_seq, c.type, c.data, hub=self.config.instance)
            self._client.publish(f"{ROOT}/{c.site}/{c.station}/cmd", payload, qos=1)
        self.stats.commands_sent += len(due)
        self.store.mark_sent(due)

    def _publish_state(self) -> None:
        self._next_state_at = time.monotonic() + self.config.state_refresh_s
        for site in self.config.sites:
            self._client.publish(hub_state_topic(site), self._state_payload("online"), qos=1, retain=True)

    def _state_payload(self, state: str) -> bytes:
        return dumps({"state": state, "hub": self.config.instance, "at_ms": int(time.time() * 1000)})
