"""One MQTT 5 connection of the station agent, over paho-mqtt 2.x, and the reconnect backoff.

paho's network thread only runs our `_on_*` callbacks, which turn what happened into a `LinkEvent` and hand
it to `post` (the agent's thread-safe inbox). They never block and never raise: any error inside is logged
and counted, because an exception escaping a callback would kill paho's network thread. Every other call on
the client (publish, subscribe, close) comes from the agent's one thread, so paho is never used from two
threads at once. A link is used once: after a disconnect the agent builds a new one, which is how it keeps
control of reconnect timing (paho's own reconnect is off).
"""

import contextlib
import logging
import random
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from cloud_sync.errors import LinkSetupError
from cloud_sync.settings import SyncSettings

logger = logging.getLogger(__name__)

DEFAULT_RECEIVE_MAXIMUM = 65535  # MQTT 5: absent from CONNACK means no limit beyond this
WILL_DELAY_S = 5  # a quick reconnect (watchdog restart, session takeover) does not flap the status to offline


@dataclass(frozen=True, slots=True)
class Connected:
    """CONNACK arrived."""

    ok: bool
    reason: str
    session_present: bool
    receive_maximum: int
    maximum_packet_size: int | None


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection is gone."""

    reason: str


@dataclass(frozen=True, slots=True)
class PubAck:
    """The broker answered a QoS 1 publish; `ok` is False for failure reason codes (>= 0x80)."""

    mid: int
    ok: bool
    reason: str


@dataclass(frozen=True, slots=True)
class SubAck:
    """The broker answered a subscribe; `refused` lists failure reason codes."""

    refused: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message arrived on a subscribed topic."""

    topic: str
    payload: bytes


LinkEvent = Connected | Disconnected | PubAck | SubAck | Inbound


class Backoff:
    """Jittered exponential backoff: delay n is uniform in [d/2, d] with d = min(max, min * 2**n)."""

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self._min_s = min_s
        self._max_s = max_s
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.attempt = 0

    def next_delay(self) -> float:
        """The delay before the next attempt."""
        ceiling = min(self._max_s, self._min_s * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """A connection succeeded."""
        self.attempt = 0


def _properties(packet_type: int) -> Properties:
    return Properties(packet_type)  # type: ignore[no-untyped-call]  # paho leaves this constructor untyped


def close_leaked_sockets(err: BaseException) -> None:
    # paho 2.x does not close the TCP socket when the TLS handshake fails (the certificate is refused):
    # the socket lives on only in the traceback's frames. Close it there, or every refused attempt of a
    # misconfigured station leaks a file descriptor until garbage collection.
    tb = err.__traceback__
    while tb is not None:
        for value in list(tb.tb_frame.f_locals.values()):
            if isinstance(value, socket.socket) and value.fileno() != -1:
                with contextlib.suppress(OSError):
                    value.close()
        tb = tb.tb_next


def release_client_sockets(client: mqtt.Client) -> None:
    """Close what a paho client still holds after `loop_stop()`: its connection and the loopback socket pair
    that `loop_start()` opened to wake its network thread. Never raises."""
    # paho closes its socket only once DISCONNECT is written: when the network thread died, or stopped before
    # it could write (a half-open link that no longer drains), the socket would stay open. And it closes the
    # socket pair only in `Client.__del__`; a client is referenced from a cycle (its callbacks are bound
    # methods of the object that holds it), so it is freed late by the garbage collector, which finalises the
    # sockets first: two loopback sockets per link restart stay open until then and warn "unclosed".
    sock = client.socket()
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()
    with contextlib.suppress(OSError, AttributeError):  # paho has no public call for this
        client._reset_sockets(sockpair_only=True)


def _reason_text(reason_code: Any) -> str:
    if isinstance(reason_code, ReasonCode):
        return f"{reason_code.getName()} (0x{reason_code.value:02x})"
    return str(reason_code)


def _is_failure(reason_code: Any) -> bool:
    if isinstance(reason_code, ReasonCode):
        return bool(reason_code.is_failure)
    return bool(reason_code)


def apply_credentials(client: mqtt.Client, settings: SyncSettings) -> None:
    """Username/password and TLS (always verifying the broker) from the settings; LinkSetupError if unusable."""
    if settings.username is not None:
        password = settings.password.get_secret_value() if settings.password is not None else None
        client.username_pw_set(settings.username, password)
    if settings.tls:
        try:
            client.tls_set(
                ca_certs=str(settings.ca_file) if settings.ca_file else None,
                certfile=str(settings.cert_file) if settings.cert_file else None,
                keyfile=str(settings.key_file) if settings.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        except (OSError, ssl.SSLError, ValueError) as err:
            raise LinkSetupError(f"TLS setup failed: {err}") from err


class MqttLink:
    """A paho client configured from `SyncSettings`; `connect()` and `close()` block (run them in an executor)."""

    def __init__(
        self,
        settings: SyncSettings,
        *,
        client_id: str,
        will: tuple[str, bytes],
        post: Callable[[LinkEvent], None],
    ) -> None:
        if settings.broker is None:
            raise LinkSetupError("no broker configured")
        self._settings = settings
        self._host = settings.broker
        self._client_id = client_id
        self._post = post
        self._thread: threading.Thread | None = None
        self.callback_errors = 0
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            reconnect_on_failure=False,
        )
        client.connect_timeout = settings.connect_timeout_s
        # Our own window never exceeds this, so paho never queues a publish behind its own limit.
        client.max_inflight_messages_set(min(settings.max_inflight, 65535))
        apply_credentials(client, settings)
        will_props = _properties(PacketTypes.WILLMESSAGE)
        will_props.WillDelayInterval = min(WILL_DELAY_S, settings.session_expiry_s)
        will_props.ContentType = "application/json"
        client.will_set(will[0], will[1], qos=1, retain=True, properties=will_props)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._client = client
        self._publish_props = _properties(PacketTypes.PUBLISH)
        self._publish_props.ContentType = "application/json"

    @property
    def client(self) -> mqtt.Client:
        """The paho client (for tests that inject faults)."""
        return self._client

    # -- called from the agent (connect / close from an executor thread, the rest from the loop thread) ----------
    def connect(self) -> None:
        """Open the TCP/TLS connection, send CONNECT and start paho's network thread. Raises OSError and kin."""
        props = _properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self._settings.session_expiry_s
        # clean_start must be False explicitly: paho's default cleans the session on the first connect.
        try:
            self._client.connect(
                self._host,
                self._settings.effective_port,
                keepalive=self._settings.keepalive_s,
                clean_start=False,
                properties=props,
            )
        except (OSError, ValueError) as err:
            close_leaked_sockets(err)
            raise
        sock = self._client.socket()
        if isinstance(sock, socket.socket):
            # Small messages that each wait for an answer (PUBACK, ack) must not wait for Nagle's algorithm and
            # the peer's delayed ACK: that costs ~40 ms per round trip once the stream is not batched.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        before = set(threading.enumerate())
        self._client.loop_start()
        # paho keeps its thread private; find the one it just started so the watchdog can see if it dies.
        name = f"paho-mqtt-client-{self._client_id}"
        started = [t for t in threading.enumerate() if t not in before and t.name == name]
        self._thread = started[0] if started else None

    def thread_alive(self) -> bool:
        """False when paho's network thread has ended (it should not while the link is in use)."""
        return self._thread is not None and self._thread.is_alive()

    def subscribe(self, topics: list[str]) -> bool:
        """Subscribe at QoS 1; False if paho could not queue it."""
        rc, _mid = self._client.subscribe([(t, SubscribeOptions(qos=1)) for t in topics])
        return rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int | None:
        """Publish at QoS 1; the message id, or None if paho refused (not connected)."""
        info = self._client.publish(topic, payload, qos=1, retain=retain, properties=self._publish_props)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return None
        return int(info.mid)

    def close(self, final: tuple[str, bytes] | None = None, timeout_s: float = 2.0) -> None:
        """Publish `final` (retained) if still connected, disconnect, stop the network thread. Never raises."""
        alive = self.thread_alive()
        try:
            if final is not None and alive and self._client.is_connected():
                info = self._client.publish(final[0], final[1], qos=1, retain=True, properties=self._publish_props)
                info.wait_for_publish(timeout_s)
        except (RuntimeError, ValueError, OSError) as err:
            logger.warning("could not publish the final status: %s", err)
        try:
            self._client.disconnect()
        except (OSError, ValueError) as err:
            logger.debug("disconnect failed: %s", err)
        try:
            self._client.loop_stop()
        except (OSError, RuntimeError) as err:
            logger.debug("loop_stop failed: %s", err)
        # The network thread is gone: close its sockets now rather than at garbage collection.
        release_client_sockets(self._client)

    # -- paho callbacks: network thread, must not raise or block ----------------------------------------------
    def _safe_post(self, where: str, build: Callable[[], LinkEvent | None]) -> None:
        try:
            event = build()
            if event is not None:
                self._post(event)
        except Exception:
            self.callback_errors += 1
            logger.exception("MQTT callback %s failed (ignored; the watchdog will resync)", where)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        self._safe_post("on_connect", lambda: self._handle_connect(flags, reason_code, properties))

    def _handle_connect(self, flags: Any, reason_code: Any, properties: Any) -> LinkEvent:
        receive_max = getattr(properties, "ReceiveMaximum", None) if properties is not None else None
        max_packet = getattr(properties, "MaximumPacketSize", None) if properties is not None else None
        return Connected(
            ok=not _is_failure(reason_code),
            reason=_reason_text(reason_code),
            session_present=bool(getattr(flags, "session_present", False)),
            receive_maximum=int(receive_max) if receive_max else DEFAULT_RECEIVE_MAXIMUM,
            maximum_packet_size=int(max_packet) if max_packet else None,
        )

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        self._safe_post("on_disconnect", lambda: Disconnected(_reason_text(reason_code)))

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
        self._safe_post("on_publish", lambda: self._handle_publish(mid, reason_code))

    def _handle_publish(self, mid: int, reason_code: Any) -> LinkEvent:
        return PubAck(mid, not _is_failure(reason_code), _reason_text(reason_code))

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any, properties: Any) -> None:
        self._safe_post(
            "on_subscribe",
            lambda: SubAck(tuple(_reason_text(rc) for rc in reason_codes if _is_failure(rc))),
        )

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._safe_post("on_message", lambda: self._handle_message(message))

    def _handle_message(self, message: mqtt.MQTTMessage) -> LinkEvent:
        return Inbound(message.topic, bytes(message.payload))
