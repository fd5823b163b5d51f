"""`BenchController`: the host side of the bench I/O controller link, on the asyncio loop.

One task per controller opens the port, says HELLO, keeps the session alive with heartbeats, retransmits, and
reopens the port with backoff after an unplug or any port error. Reads and writes happen in fd callbacks on the
loop (`add_reader`), never in threads, and nothing here blocks.

The controller remembers the state it was asked to show (light, a continuous buzzer alarm, scale settings) and
pushes it again after every reconnect, so a controller that rebooted or was replugged comes back showing what the
bench expects. One-shot sounds (ok, wrong item, ...) are never replayed late.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from firmware_bridge import frames
from firmware_bridge.core import link as corelink
from firmware_bridge.core import patterns, wire
from firmware_bridge.errors import FrameError, TransportError
from firmware_bridge.events import (
    BenchEvent,
    ConnectionChanged,
    DeviceFault,
    PedalPressed,
    StableWeight,
    TareCompleted,
)
from firmware_bridge.transport import (
    SerialTransport,
    SimTransport,
    Transport,
    check_port_url,
    is_sim_url,
    make_emulator,
)

if TYPE_CHECKING:
    from firmware_bridge.emulator import Emulator

logger = logging.getLogger(__name__)
wire_logger = logging.getLogger("firmware_bridge.wire")

COLOURS: tuple[str, ...] = patterns.COLOURS
LIGHT_PATTERNS: tuple[str, ...] = patterns.LIGHT_NAMES
BUZZER_PATTERNS: tuple[str, ...] = patterns.BUZZER_NAMES
# Alarms that sound until cleared: restored after a reconnect. One-shot sounds are not replayed late.
CONTINUOUS_BUZZER_PATTERNS = frozenset({"blocked", "needs_supervisor", "fault"})

EventCallback = Callable[[BenchEvent], None]


@dataclass(frozen=True, slots=True)
class LinkTiming:
    """Timers of the link and of reconnection. Defaults suit a real bench; tests shrink them."""

    heartbeat_s: float = 0.5
    silence_s: float = 2.0
    watchdog_ms: int = wire.WATCHDOG_DEFAULT_MS
    hello_retry_s: float = 0.5
    hello_attempts: int = 4
    retransmit_s: float = 0.25
    max_attempts: int = 8
    window: int = corelink.DEFAULT_WINDOW
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 10.0
    tare_timeout_s: float = 5.0


class BenchController:
    """Talks to one bench I/O controller (stack light, buzzer, foot pedal, scale).

    `port` is a device path (`/dev/serial/by-id/usb-...`) or `sim://?knob=value&...` for the in-process emulator
    (knobs: drop, corrupt, delay_ms, reboot_after, drift_g, noise_g, scale_dead, seed). Raises `PortUrlError` for a
    URL it cannot use. Output commands return whether the device acknowledged them; while disconnected they return
    False at once, and the light / alarm state is shown as soon as the controller is back.
    """

    def __init__(
        self,
        port: str,
        *,
        timing: LinkTiming | None = None,
        baudrate: int = 115200,
        scale_settle_ms: int = 600,
        scale_band_g: int = 3,
    ) -> None:
        check_port_url(port)
        self.port = port
        self.timing = timing or LinkTiming()
        self.baudrate = baudrate
        self.emulator: Emulator | None = make_emulator(port) if is_sim_url(port) else None
        self.firmware_version: str | None = None
        self.protocol_version: int | None = None
        self.capabilities = frames.Capability(0)
        self.latest_stable_weight_g: int | None = None
        self.last_error: str | None = None
        self.status_flags = 0
        self._listeners: list[EventCallback] = []
        self._light = (patterns.LIGHT_OFF, patterns.LIGHT_OFF, patterns.LIGHT_OFF)
        self._buzzer = patterns.BUZZER_OFF
        self._play_id = 0
        self._scale = (scale_settle_ms, scale_band_g)
        self._tare_id = 0
        self._tare_waiters: dict[int, asyncio.Future[bool]] = {}
        self._token_waiters: dict[int, asyncio.Future[bool]] = {}
        self._next_token = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._transport: Transport | None = None
        self._link: corelink.HostLink | None = None
        self._lost: Exception | None = None
        self._sessions_up = 0
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._connected_event = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting in the background; returns at once (the bench works without its controller)."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._stopping.clear()
        self._task = self._loop.create_task(self._run(), name=f"bench-controller {self.port}")

    async def stop(self) -> None:
        """Close the port and stop reconnecting. The device falls back to its safe state when its watchdog expires."""
        if self._task is None:
            return
        self._stopping.set()
        self._wake.set()
        task, self._task = self._task, None
        await task

    @property
    def connected(self) -> bool:
        """True while a session with the controller is up."""
        return self._connected_event.is_set()

    async def wait_connected(self, timeout_s: float | None = None) -> bool:
        """Wait until connected (True), or until `timeout_s` passes (False)."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._connected_event.wait()
        except TimeoutError:
            return False
        return True

    def on_event(self, callback: EventCallback) -> Callable[[], None]:
        """Call `callback(event)` on the loop for every `BenchEvent`; returns a function that unsubscribes.

        Callbacks must not block; an exception in one is logged and does not affect the link or other listeners.
        """
        self._listeners.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return unsubscribe

    def stats(self) -> dict[str, int]:
        """Link counters (frames, retransmits, duplicates, bad frames) of the current port opening."""
        link = self._link
        if link is None:
            return {}
        return {
            "tx_frames": link.tx_frames,
            "rx_frames": link.rx_frames,
            "retransmits": link.retransmits,
            "duplicates": link.duplicates,
            "out_of_order": link.out_of_order,
            "bad_frames": link.bad_frames,
        }

    # -- outputs -------------------------------------------------------------------------------------------------

    async def set_light(self, colour: str, pattern: str = "steady") -> bool:
        """Show one lamp (`red`, `amber`, `green`) with `pattern` (`off`, `steady`, `blink`, `fast_blink`), the
        other lamps off. Returns True once the controller acknowledged it. Raises ValueError for unknown names."""
        if colour not in COLOURS:
            raise ValueError(f"unknown colour {colour!r}; expected one of {COLOURS}")
        lamps = dict.fromkeys(COLOURS, "off")
        lamps[colour] = pattern
        return await self.set_lamps(**lamps)

    async def set_lamps(self, red: str = "off", amber: str = "off", green: str = "off") -> bool:
        """Set every lamp's pattern at once. Returns True once acknowledged; raises ValueError for unknown names."""
        state = (_light_id(red), _light_id(amber), _light_id(green))
        self._light = state
        return await self._send_state(wire.SET_LIGHT, frames.SetLight(*map(frames.LightPattern, state)), True)

    async def set_buzzer(self, pattern: str) -> bool:
        """Play a buzzer pattern (see `BUZZER_PATTERNS`); `off` silences a continuous one. Each call plays anew,
        but a retransmitted frame never plays twice. Returns True once acknowledged."""
        if pattern not in BUZZER_PATTERNS:
            raise ValueError(f"unknown buzzer pattern {pattern!r}; expected one of {BUZZER_PATTERNS}")
        self._buzzer = BUZZER_PATTERNS.index(pattern)
        # Play ids run 1..255: each new request differs from the last, which is all the device compares.
        self._play_id = self._play_id % 255 + 1
        message = frames.SetBuzzer(frames.BuzzerPattern(self._buzzer), self._play_id)
        return await self._send_state(wire.SET_BUZZER, message, False)

    async def configure_scale(self, settle_ms: int, band_g: int) -> bool:
        """Set the scale's settle window and stability band (kept and re-sent after reconnects)."""
        if not 100 <= settle_ms <= 10000 or not 1 <= band_g <= 1000:
            raise ValueError("settle_ms must be 100..10000 and band_g 1..1000")
        self._scale = (settle_ms, band_g)
        return await self._send_state(wire.SET_SCALE, frames.SetScale(settle_ms, band_g), True)

    async def tare(self) -> bool:
        """Zero the scale. Returns True when the device settled and took the new zero; False if it could not
        (not connected, the scale did not settle, or no answer within `timing.tare_timeout_s`)."""
        if not self.connected or self._loop is None:
            return False
        self._tare_id = self._tare_id % 255 + 1
        tare_id = self._tare_id
        future: asyncio.Future[bool] = self._loop.create_future()
        self._tare_waiters[tare_id] = future
        self.latest_stable_weight_g = None
        try:
            if not await self._send_state(wire.TARE, frames.Tare(tare_id), False):
                return False
            async with asyncio.timeout(self.timing.tare_timeout_s):
                return await future
        except TimeoutError:
            return False
        finally:
            self._tare_waiters.pop(tare_id, None)

    async def _send_state(self, ftype: int, message: frames.Message, replace: bool) -> bool:
        link = self._link
        if link is None or self._loop is None or not self.connected:
            return False
        self._next_token += 1
        token = self._next_token
        future: asyncio.Future[bool] = self._loop.create_future()
        self._token_waiters[token] = future
        link.send(ftype, message.payload(), self._now_ms(), token=token, replace=replace)
        self._after_link_activity()
        try:
            return await future
        finally:
            self._token_waiters.pop(token, None)

    # -- the connection task -------------------------------------------------------------------------------------

    def _now_ms(self) -> int:
        assert self._loop is not None
        return int(self._loop.time() * 1000)

    def _make_transport(self) -> Transport:
        assert self._loop is not None
        if self.emulator is not None:
            return SimTransport(self._loop, self.emulator, self.port)
        return SerialTransport(self._loop, self.port, self.baudrate)

    def _make_link(self) -> corelink.HostLink:
        t = self.timing
        return corelink.HostLink(
            nonce_source=lambda: secrets.randbits(16),
            watchdog_ms=t.watchdog_ms,
            heartbeat_ms=round(t.heartbeat_s * 1000),
            silence_ms=round(t.silence_s * 1000),
            hello_retry_ms=round(t.hello_retry_s * 1000),
            hello_attempts=t.hello_attempts,
            window=t.window,
            retransmit_ms=round(t.retransmit_s * 1000),
            max_attempts=t.max_attempts,
        )

    async def _run(self) -> None:
        delay_s = self.timing.reconnect_min_s
        reported_open_error = False
        while not self._stopping.is_set():
            transport = self._make_transport()
            try:
                transport.open(self._handle_data, self._handle_lost)
            except TransportError as err:
                self.last_error = str(err)
                # One warning per outage; the retries after it are debug noise.
                if not reported_open_error:
                    logger.warning("bench controller %s: %s; retrying with backoff", self.port, err)
                    reported_open_error = True
                else:
                    logger.debug("bench controller %s: %s", self.port, err)
            else:
                reported_open_error = False
                was_up = await self._serve(transport)
                if was_up:
                    delay_s = self.timing.reconnect_min_s
            if self._stopping.is_set():
                break
            jitter = random.uniform(0.8, 1.2)  # noqa: S311 - spreading retries, not security
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay_s * jitter):
                    await self._stopping.wait()
            delay_s = min(delay_s * 2, self.timing.reconnect_max_s)

    async def _serve(self, transport: Transport) -> bool:
        """Run one port opening until the link is down, the port is lost, or we stop. True if it was ever up."""
        self._transport = transport
        self._lost = None
        link = self._link = self._make_link()
        sessions_before = self._sessions_up
        logger.debug("bench controller %s: port open, saying HELLO", self.port)
        try:
            link.start(self._now_ms())
            self._after_link_activity()
            while not self._stopping.is_set():
                if self._lost is not None:
                    self._set_down(f"port lost: {self._lost}")
                    break
                link.poll(self._now_ms())
                self._after_link_activity()
                if link.state == corelink.HOST_DOWN:
                    break
                deadline = link.next_deadline_ms()
                timeout_s = None if deadline < 0 else max(0.0, (deadline - self._now_ms()) / 1000)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout_s):
                        await self._wake.wait()
        finally:
            transport.close()
            self._transport = None
            self._set_down("stopped" if self._stopping.is_set() else "port closed")
            self._fail_waiters()
        return self._sessions_up != sessions_before

    # -- callbacks from the transport ----------------------------------------------------------------------------

    def _handle_data(self, data: bytes) -> None:
        link = self._link
        if link is None:
            return
        if wire_logger.isEnabledFor(logging.DEBUG):
            wire_logger.debug("%s rx %s", self.port, data.hex(" "))
        for frame in link.receive(data, self._now_ms()):
            self._dispatch(frame)
        self._after_link_activity()
        self._wake.set()

    def _handle_lost(self, err: Exception) -> None:
        self._lost = err
        self.last_error = str(err)
        logger.warning("bench controller %s: port lost (%s)", self.port, err)
        self._wake.set()

    # -- link bookkeeping ----------------------------------------------------------------------------------------

    def _after_link_activity(self) -> None:
        """Flush output, act on state changes, settle the futures of acked or dropped commands."""
        link = self._link
        if link is None:
            return
        for kind, detail in link.take_events():
            if kind == "up":
                assert isinstance(detail, wire.Frame)
                self._set_up(detail)
            elif kind == "lost":
                self._set_down(str(detail))
            else:
                self._set_down(str(detail))
                self.last_error = f"controller link down: {detail}"
        data = link.take_output()
        if data and self._transport is not None:
            if wire_logger.isEnabledFor(logging.DEBUG):
                wire_logger.debug("%s tx %s", self.port, data.hex(" "))
            self._transport.write(data)
        for token in link.acked_tokens:
            self._settle(token, True)
        for token in link.dropped_tokens:
            self._settle(token, False)
        link.acked_tokens.clear()
        link.dropped_tokens.clear()

    def _settle(self, token: object, result: bool) -> None:
        if not isinstance(token, int):
            return
        future = self._token_waiters.get(token)
        if future is not None and not future.done():
            future.set_result(result)

    def _fail_waiters(self) -> None:
        for future in list(self._token_waiters.values()) + list(self._tare_waiters.values()):
            if not future.done():
                future.set_result(False)

    def _set_up(self, hello_ack_frame: wire.Frame) -> None:
        try:
            ack = frames.HelloAck.from_payload(hello_ack_frame.payload)
        except FrameError as err:
            logger.warning("bench controller %s: unreadable HELLO_ACK (%s)", self.port, err)
            return
        self.firmware_version = ack.firmware_version
        self.protocol_version = ack.protocol_version
        self.capabilities = ack.capabilities
        self.last_error = None
        logger.info(
            "bench controller %s: connected (firmware %s, protocol %s, capabilities %s, last reset %s)",
            self.port,
            ack.firmware_version,
            ack.protocol_version,
            ",".join(str(cap.name).lower() for cap in ack.capabilities) or "none",
            ack.reset_cause.name.lower(),
        )
        self._sessions_up += 1
        self._restore_outputs()
        self._connected_event.set()
        self._emit(ConnectionChanged(True, "", self.firmware_version))

    def _restore_outputs(self) -> None:
        """Push the state the bench expects: a rebooted or replugged controller shows it again at once."""
        link = self._link
        assert link is not None
        now = self._now_ms()
        link.send(wire.SET_SCALE, frames.SetScale(*self._scale).payload(), now, replace=True)
        link.send(wire.SET_LIGHT, frames.SetLight(*map(frames.LightPattern, self._light)).payload(), now, replace=True)
        if BUZZER_PATTERNS[self._buzzer] in CONTINUOUS_BUZZER_PATTERNS:
            # Same play id as before: a controller still sounding it (a quick re-handshake) does not restart it.
            message = frames.SetBuzzer(frames.BuzzerPattern(self._buzzer), self._play_id)
            link.send(wire.SET_BUZZER, message.payload(), now)

    def _set_down(self, reason: str) -> None:
        if not self._connected_event.is_set():
            return
        self._connected_event.clear()
        self.latest_stable_weight_g = None
        logger.warning("bench controller %s: disconnected (%s)", self.port, reason)
        self._fail_waiters()
        self._emit(ConnectionChanged(False, reason, self.firmware_version))

    def _dispatch(self, frame: wire.Frame) -> None:
        try:
            message = frames.message_from_frame(frame)
        except FrameError as err:
            logger.warning("bench controller %s: ignoring bad frame %r (%s)", self.port, frame, err)
            return
        match message:
            case frames.Pedal(press_no=press_no, uptime_ms=uptime_ms):
                self._emit(PedalPressed(press_no, uptime_ms))
            case frames.Weight(weight_g=weight_g, uptime_ms=uptime_ms):
                self.latest_stable_weight_g = weight_g
                self._emit(StableWeight(weight_g, uptime_ms))
            case frames.TareDone(tare_id=tare_id, ok=ok):
                future = self._tare_waiters.get(tare_id)
                if future is not None and not future.done():
                    future.set_result(ok)
                self._emit(TareCompleted(ok))
            case frames.Fault(code=code, active=active):
                log = logger.warning if active else logger.info
                log("bench controller %s: fault %s %s", self.port, code.name.lower(), "raised" if active else "cleared")
                self._emit(DeviceFault(code.name.lower(), active))
            case frames.Status(flags=flags):
                self.status_flags = flags
            case _:
                logger.debug("bench controller %s: ignoring %r", self.port, message)

    def _emit(self, event: BenchEvent) -> None:
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:
                logger.exception("bench controller %s: event listener failed on %r", self.port, event)


def _light_id(pattern: str) -> int:
    if pattern not in LIGHT_PATTERNS:
        raise ValueError(f"unknown light pattern {pattern!r}; expected one of {LIGHT_PATTERNS}")
    return LIGHT_PATTERNS.index(pattern)
