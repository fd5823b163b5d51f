"""The station's sync agent: one asyncio task that keeps the outbox flowing to the hub and applies its commands.

Threads: the agent runs on the station's event loop and is the only caller of the outbox, the command sink
and the paho client. paho's network thread only posts `LinkEvent`s into the agent's inbox (see `link.py`).
Blocking steps (TCP/TLS connect, the final goodbye) run in the loop's executor.

Life of a link: connect (jittered exponential backoff between attempts) → CONNACK → subscribe to ack, cmd and
the site's hub state → retained `online` birth → publish from the first unacknowledged event while the hub is
online. The link is torn down and rebuilt when the broker goes away, when paho's network thread dies, or when
the hub's acks stop progressing after several resends (the watchdog).

Typical wiring in the station's composition root::

    agent = SyncAgent(settings.sync, store, command_adapter, site=..., station_id=..., boot_id=store.boot_id)
    store.subscribe(agent.notify)
    agent.start()            # inside the running loop
    ...
    await agent.stop()
"""

import asyncio
import contextlib
import functools
import logging
import ssl
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Literal, TypeVar

from cloud_sync.doctor import outbox_summary
from cloud_sync.downlink import Downlink
from cloud_sync.errors import LinkSetupError, MessageRejected
from cloud_sync.events import Envelope
from cloud_sync.link import Backoff, Connected, Disconnected, Inbound, LinkEvent, MqttLink, PubAck, SubAck
from cloud_sync.mapping import StatusMapper
from cloud_sync.ports import CommandSink, Outbox
from cloud_sync.settings import SyncSettings
from cloud_sync.uplink import Uplink
from cloud_sync.wire import (
    CONTRACT_VERSION,
    INTERNAL_ERROR,
    MALFORMED_JSON,
    CmdAck,
    Rejection,
    StationTopics,
    dumps,
    parse_ack,
    parse_state,
)

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

LinkState = Literal["disabled", "connecting", "connected", "backoff", "stopped"]


def _paho_version() -> str:
    try:
        return metadata.version("paho-mqtt")
    except metadata.PackageNotFoundError:
        return "unknown"


class SyncAgent:
    """Publishes the outbox to the hub and applies the hub's commands (CONTRACT.md). See the module docstring."""

    def __init__(
        self,
        settings: SyncSettings,
        outbox: Outbox,
        commands: CommandSink,
        *,
        site: str,
        station_id: str,
        boot_id: str = "",
        versions: Mapping[str, str] | None = None,
        evidence_key: str | None = None,
        tick_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        # The fingerprint of the key that signs this station's evidence bundles, announced in every birth: the
        # hub pins the first it sees and flags a change (cloud_sync/CONTRACT.md, "Presence").
        self._evidence_key = evidence_key
        self.topics = StationTopics(site, station_id)
        self._outbox = outbox
        self._boot_id = boot_id
        self._versions = {"contract": CONTRACT_VERSION, "paho_mqtt": _paho_version(), **(versions or {})}
        self._tick_s = tick_s
        self._clock = clock
        mapper = StatusMapper(settings.mapping)
        self.uplink = Uplink(
            outbox,
            batch_max_events=settings.batch_max_events,
            batch_max_bytes=settings.batch_max_bytes,
            max_ahead_events=settings.max_ahead_events,
            max_ahead_messages=settings.max_ahead_messages,
            ack_timeout_s=settings.ack_timeout_s,
            stall_restarts_link_after=settings.stall_restarts_link_after,
            mapper=mapper,
            clock=clock,
        )
        self.downlink = Downlink(commands, max_command_bytes=settings.max_command_bytes, mapper=mapper)
        self._backoff = Backoff(settings.backoff_min_s, settings.backoff_max_s)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stop_event: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._inbox: deque[tuple[int, LinkEvent]] = deque()
        self._generation = 0
        self._link: MqttLink | None = None
        self._own_mids: dict[int, float] = {}
        self._own_queue: deque[tuple[str, bytes, bool]] = deque()
        self._window = 1
        self._stopping = False
        self.state: LinkState = "disabled" if not settings.enabled else "connecting"
        self.connected = False
        self.hub_online: bool | None = None
        self.last_error: str | None = None
        self.link_restarts = 0
        self.watchdog_restarts = 0
        self.callback_errors_closed_links = 0
        self.rejected: dict[str, Counter[str]] = {"ack": Counter(), "cmd": Counter(), "hub_state": Counter()}
        self.subscribe_refusals = 0
        self._next_status_at = 0.0
        self._head_hint: int | None = None

    # -- public API -----------------------------------------------------------------------------------------------
    def start(self) -> "asyncio.Task[None]":
        """Start the agent as a task of the running loop; returns the task."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="cloud-sync-agent")
        return self._task

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Say goodbye (retained `offline`), disconnect and end the task; cancels it after `timeout_s`."""
        self._stopping = True
        if self._stop_event is not None:
            self._stop_event.set()
        if self._wake is not None:
            self._wake.set()
        task = self._task
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout_s)
        except TimeoutError:
            logger.warning("sync agent did not stop within %.1f s; cancelling", timeout_s)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def notify(self, events: Sequence[Envelope] | None = None) -> None:
        """New events were committed (a `Store.subscribe` callback). Safe from any thread; never blocks."""
        if events:
            seq = events[-1].get("seq")
            if isinstance(seq, int):
                self._head_hint = seq
        self._wake_threadsafe()

    def health(self) -> dict[str, Any]:
        """What `/health` and `station doctor` show: link, hub, backlog and its age, counters."""
        now_wall = time.time()
        try:
            summary = outbox_summary(self._outbox, now_wall)
        except Exception as err:  # health must answer even when the database is in trouble
            logger.warning("health: outbox unreadable: %s", err)
            summary = {"backlog": None, "oldest_unacked_age_s": None, "last_seq": None}
        last_ack = self.uplink.last_ack_wall
        stats = self.uplink.stats
        link = self._link
        return {
            "enabled": self.settings.enabled,
            "broker": f"{self.settings.broker}:{self.settings.effective_port}" if self.settings.enabled else None,
            "state": self.state,
            "broker_connected": self.connected,
            "hub_online": self.hub_online,
            "publishing": self._may_publish(),
            "backlog": summary["backlog"],
            "oldest_unacked_age_s": summary["oldest_unacked_age_s"],
            "last_seq": summary["last_seq"],
            "acked_through": self.uplink.acked_through,
            "last_ack_at": datetime.fromtimestamp(last_ack, UTC).isoformat() if last_ack else None,
            "last_ack_age_s": round(now_wall - last_ack, 3) if last_ack else None,
            "inflight": self.uplink.inflight,
            "window": self.uplink.window,
            "link_restarts": self.link_restarts,
            "watchdog_restarts": self.watchdog_restarts,
            "last_error": self.last_error,
            "rejected": {
                "ack": dict(self.rejected["ack"]),
                "cmd": dict(self.downlink.stats.refused),
                "hub_state": dict(self.rejected["hub_state"]),
                "puback": stats.puback_failures,
                "subscribe": self.subscribe_refusals,
            },
            "callback_errors": self.callback_errors_closed_links + (link.callback_errors if link else 0),
            "cmd_applied_through": self.downlink.applied_through,
            "commands_waiting": self.downlink.waiting,
            "counters": {
                "messages": stats.messages,
                "events": stats.events,
                "resent_events": stats.resent_events,
                "acks": stats.acks,
                "duplicate_acks": stats.duplicate_acks,
                "stale_acks": stats.stale_acks,
                "stall_resends": stats.stall_resends,
                "missing_resends": stats.missing_resends,
                "max_inflight_seen": stats.max_inflight_seen,
                "commands_received": self.downlink.stats.received,
                "commands_applied": self.downlink.stats.applied,
                "command_duplicates": self.downlink.stats.duplicates,
            },
        }

    # -- the task -------------------------------------------------------------------------------------------------
    async def run(self) -> None:
        """The agent's main loop; returns after `stop()`."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stop_event = asyncio.Event()
        if self._stopping:
            self._stop_event.set()
        while not self._stopping:
            try:
                self.uplink.load()
                self.downlink.load()
                break
            except Exception as err:  # e.g. the database is locked by a maintenance command: try again
                self.last_error = f"outbox unreadable: {err}"
                logger.exception("sync agent cannot read the outbox; retrying")
                await self._sleep(self._backoff.next_delay())
        if not self.settings.enabled:
            logger.info("sync off (no broker configured); %s events wait in the outbox", self._outbox.backlog())
            await self._stop_event.wait()
            self.state = "stopped"
            return
        logger.info(
            "sync agent for %s: broker %s:%s, resuming after seq %s",
            self.topics.prefix,
            self.settings.broker,
            self.settings.effective_port,
            self.uplink.acked_through,
        )
        try:
            while not self._stopping:
                await self._one_link()
                if self._stopping:
                    break
                self.link_restarts += 1
                self.state = "backoff"
                delay = self._backoff.next_delay()
                logger.info("reconnecting in %.1f s", delay)
                await self._sleep(delay)
        finally:
            self.state = "stopped"
            self.connected = False

    async def _one_link(self) -> None:
        assert self._loop is not None
        self.state = "connecting"
        self._generation += 1
        generation = self._generation
        try:
            link = MqttLink(
                self.settings,
                client_id=self.topics.client_id,
                will=(self.topics.status, self._status_payload("offline", reason="connection_lost")),
                post=functools.partial(self._post, generation),
            )
        except LinkSetupError as err:
            self.last_error = str(err)
            # A configuration problem, not a bug: one readable line, no traceback.
            logger.error("sync link cannot be set up: %s", err)  # noqa: TRY400
            return
        try:
            await self._loop.run_in_executor(None, link.connect)
        except (OSError, ssl.SSLError, ValueError) as err:
            self.last_error = f"connect: {err}"
            logger.warning(
                "cannot connect to broker %s:%s: %s", self.settings.broker, self.settings.effective_port, err
            )
            await self._loop.run_in_executor(None, link.close)
            return
        self._link = link
        reason = "unknown"
        try:
            reason = await self._session(link)
        except Exception as err:
            # A bug or a database error must not end syncing for good: log it, rebuild the link, carry on.
            logger.exception("sync session failed")
            self.last_error = f"internal: {err}"
            reason = "internal error"
        finally:
            self.connected = False
            self.uplink.link_down()
            self._link = None
            self._own_mids.clear()
            self._own_queue.clear()
            self.callback_errors_closed_links += link.callback_errors
            final = (self.topics.status, self._status_payload("offline", reason="shutdown")) if self._stopping else None
            await self._loop.run_in_executor(None, functools.partial(link.close, final))
        if not self._stopping:
            self.last_error = reason
            logger.warning("sync link down: %s", reason)

    async def _session(self, link: MqttLink) -> str:
        assert self._wake is not None
        deadline = self._clock() + self.settings.connect_timeout_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._tick_s)
            self._wake.clear()
            while self._inbox:
                generation, event = self._inbox.popleft()
                if generation != self._generation:
                    continue  # from a link already closed
                ended = self._dispatch(link, event)
                if ended is not None:
                    return ended
            if self._stopping:
                return "stopping"
            if not self.connected:
                if self._clock() > deadline:
                    return "no CONNACK in time"
                continue
            if not link.thread_alive():
                self.watchdog_restarts += 1
                return "watchdog: MQTT network thread died"
            if self._head_hint is not None:
                self.uplink.refresh_head(self._head_hint)
                self._head_hint = None
            self.uplink.flush_acks()
            self._flush_own(link)
            if self._may_publish():
                if self.uplink.check_stall() == "restart":
                    self.watchdog_restarts += 1
                    return "watchdog: hub acks stalled"
                ended = await self._pump(link)
                if ended is not None:
                    return ended
            retried = self.downlink.retry() if self.downlink.waiting else None
            if retried is not None:
                self._publish_own(link, self.topics.cmd_ack, retried.to_wire())
            if self._clock() >= self._next_status_at:
                self._publish_birth(link)

    def _may_publish(self) -> bool:
        return self.connected and (self.hub_online is True or not self.settings.require_hub_online)

    async def _pump(self, link: MqttLink) -> str | None:
        self._flush_own(link)
        while (
            self._may_publish() and not self._own_queue and (pub := self.uplink.take(len(self._own_mids))) is not None
        ):
            mid = link.publish(self.topics.evt, pub.payload)
            if mid is None:
                return "publish refused by the client (not connected)"
            self.uplink.sent(mid, pub)
            # Let scans and HTTP requests run between messages of a long drain.
            await asyncio.sleep(0)
            self._drain_pubacks()
        return None

    def _drain_pubacks(self) -> None:
        # Free window slots without waiting for the next tick; other events wait for the session loop.
        keep: list[tuple[int, LinkEvent]] = []
        while self._inbox:
            generation, event = self._inbox.popleft()
            if isinstance(event, PubAck) and generation == self._generation:
                self._handle_puback(event)
            else:
                keep.append((generation, event))
        self._inbox.extendleft(reversed(keep))

    def _dispatch(self, link: MqttLink, event: LinkEvent) -> str | None:
        if isinstance(event, PubAck):
            self._handle_puback(event)
        elif isinstance(event, Inbound):
            self._handle_inbound(link, event)
        elif isinstance(event, Connected):
            return self._handle_connected(link, event)
        elif isinstance(event, Disconnected):
            return f"disconnected: {event.reason}"
        elif isinstance(event, SubAck) and event.refused:
            self.subscribe_refusals += 1
            logger.error("broker refused a subscription: %s", ", ".join(event.refused))
        return None

    def _handle_connected(self, link: MqttLink, event: Connected) -> str | None:
        if not event.ok:
            logger.error("broker refused the connection: %s", event.reason)
            return f"CONNACK refused: {event.reason}"
        window = min(self.settings.max_inflight, event.receive_maximum)
        self._window = window
        self.connected = True
        self.state = "connected"
        self.hub_online = None  # until the retained hub state arrives
        self._backoff.reset()
        logger.info(
            "connected to broker (session present: %s, receive maximum %s)",
            event.session_present,
            event.receive_maximum,
        )
        if not link.subscribe([self.topics.ack, self.topics.cmd, self.topics.hub_state]):
            return "subscribe failed"
        self.uplink.link_up(window, event.maximum_packet_size)
        self._publish_birth(link)
        self._publish_own(link, self.topics.cmd_ack, self.downlink.current().to_wire())
        return None

    def _handle_puback(self, event: PubAck) -> None:
        if event.mid in self._own_mids:
            del self._own_mids[event.mid]
            if not event.ok:
                logger.warning("broker refused a status / cmd_ack message: %s", event.reason)
            return
        self.uplink.puback(event.mid, event.ok, event.reason)

    def _handle_inbound(self, link: MqttLink, event: Inbound) -> None:
        # The decoders refuse every bad payload with MessageRejected (tests/cloud_sync fuzz them). `_read` and
        # the broad handler for commands are the net under a bug: one unreadable message never ends the session.
        if event.topic == self.topics.ack:
            try:
                self.uplink.ack(self._read(parse_ack, event.payload))
            except MessageRejected as err:  # the payload, or its epoch and range against the outbox
                self.rejected["ack"][err.reason] += 1
                logger.warning("ack refused: %s", err)
        elif event.topic == self.topics.cmd:
            try:
                reply = self.downlink.handle(event.payload)
            except Exception as err:
                # Not recorded, so the hub resends it: a passing database error then heals by itself.
                logger.exception("command could not be handled; refused without a place in the sequence")
                self.downlink.stats.refused[INTERNAL_ERROR] += 1
                detail = f"the station failed handling this message ({type(err).__name__})"
                reply = CmdAck(self.downlink.applied_through, (Rejection(None, INTERNAL_ERROR, detail=detail),))
            self._publish_own(link, self.topics.cmd_ack, reply.to_wire())
        elif event.topic == self.topics.hub_state:
            try:
                online = self._read(parse_state, event.payload) == "online"
            except MessageRejected as err:
                self.rejected["hub_state"][err.reason] += 1
                logger.warning("hub state refused: %s", err)
                return
            if online and self.hub_online is not True:
                logger.info("hub online: sending from seq %s", self.uplink.acked_through + 1)
                self.uplink.rewind()
            elif not online and self.hub_online is not False:
                logger.warning("hub offline: pausing; events wait in the outbox")
            self.hub_online = online
        else:
            logger.debug("message on unexpected topic %s ignored", event.topic)

    @staticmethod
    def _read(decode: Callable[[bytes], _T], payload: bytes) -> _T:
        """`decode(payload)`, with any failure but MessageRejected (a bug in a decoder) turned into one."""
        try:
            return decode(payload)
        except MessageRejected:
            raise
        except Exception as err:
            logger.exception("inbound message unreadable; refused")
            raise MessageRejected(MALFORMED_JSON, f"unreadable ({type(err).__name__})") from err

    def _publish_own(self, link: MqttLink, topic: str, payload: bytes, *, retain: bool = False) -> None:
        # Status and cmd_ack messages go before events, but share the broker's Receive Maximum with them.
        self._own_queue.append((topic, payload, retain))
        self._flush_own(link)

    def _flush_own(self, link: MqttLink) -> None:
        now = self._clock()
        # As for events (Uplink.check_stall): a PUBACK this late is lost; do not let it hold a window slot.
        for stale in [m for m, at in self._own_mids.items() if now - at >= self.settings.ack_timeout_s]:
            del self._own_mids[stale]
        while self._own_queue and self.uplink.inflight + len(self._own_mids) < self._window:
            topic, payload, retain = self._own_queue.popleft()
            mid = link.publish(topic, payload, retain=retain)
            if mid is not None:
                self._own_mids[mid] = self._clock()

    def _publish_birth(self, link: MqttLink) -> None:
        self._next_status_at = self._clock() + self.settings.status_interval_s
        self._publish_own(link, self.topics.status, self._status_payload("online"), retain=True)

    def _status_payload(self, state: str, *, reason: str | None = None) -> bytes:
        doc: dict[str, Any] = {
            "state": state,
            "boot_id": self._boot_id,
            "stream_epoch": self._outbox.stream_epoch,
            "at_ms": int(time.time() * 1000),
        }
        if state == "online":
            doc.update(
                versions=self._versions,
                backlog=max(0, self.uplink.known_head - self.uplink.acked_through),
                last_seq=self.uplink.known_head,
                acked_through=self.uplink.acked_through,
                cmd_applied_through=self.downlink.applied_through,
            )
            if self._evidence_key is not None:
                doc["evidence_key"] = self._evidence_key
        if reason is not None:
            doc["reason"] = reason
        return dumps(doc)

    # -- plumbing -----------------------------------------------------------------------------------------------
    def _post(self, generation: int, event: LinkEvent) -> None:
        """Network thread → loop: enqueue and wake. deque.append is atomic; nothing here blocks."""
        self._inbox.append((generation, event))
        self._wake_threadsafe()

    def _wake_threadsafe(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
            loop.call_soon_threadsafe(wake.set)

    async def _sleep(self, delay_s: float) -> None:
        assert self._stop_event is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_event.wait(), delay_s)
