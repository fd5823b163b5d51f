"""The device's protocol engine: what the bench I/O controller does with frames, inputs and time.

One `DeviceEngine` is the whole behaviour of the controller: session and watchdog (through `DeviceLink`), light
and buzzer patterns, pedal debounce and press events, scale settle / tare / faults. It runs unchanged in the
RP2040 firmware and in the Python emulator; only the board differs. A board is any object with:

- `set_lamps(red, amber, green)`: drive the three lamps (bools, True = lit);
- `set_tone(freq_hz)`: drive the buzzer (0 = silent);
- `pedal_raw()`: the raw pedal contact, True = pressed (already inverted for a pull-up);
- `read_scale()`: a new raw load-cell reading (int counts) if one is ready, else None.

The engine calls the output methods only when an output changes, and polls inputs once per `tick`.
"""

from . import patterns, wire
from .errors import FrameError
from .inputs import Debouncer, SettleDetector
from .link import DeviceLink

try:
    from typing import TYPE_CHECKING
except ImportError:  # MicroPython has no typing module; annotations are never evaluated there.
    TYPE_CHECKING = False  # type: ignore[misc]

if TYPE_CHECKING:
    from typing import Protocol

    class Board(Protocol):
        """What the engine needs from the hardware (or its simulation)."""

        def set_lamps(self, red: bool, amber: bool, green: bool) -> None: ...
        def set_tone(self, freq_hz: int) -> None: ...
        def pedal_raw(self) -> bool: ...
        def read_scale(self) -> int | None: ...


SCALE_TIMEOUT_MS = 1000
TARE_TIMEOUT_MS = 3000
# HX711 output saturates at +/-2^23; a reading this close to the rails means overload or a broken wire.
SCALE_OVERLOAD_COUNTS = 0x7FFF00
DEFAULT_SETTLE_MS = 600
DEFAULT_BAND_G = 3


class DeviceEngine:
    """The controller's behaviour, driven by `receive(data, now_ms)` and `tick(now_ms)`; output via `take_output`."""

    def __init__(
        self,
        board: "Board",
        now_ms: int,
        firmware_version: tuple[int, int, int] = (1, 0, 0),
        capabilities: int = wire.CAP_ALL,
        counts_per_g: float = 420.0,
        reset_cause: int = wire.RESET_CAUSE_POWER_ON,
        debounce_ms: int = 20,
        zero_counts: int = 0,
    ) -> None:
        self.board = board
        self.capabilities = capabilities
        self.counts_per_g = counts_per_g
        self.link = DeviceLink(firmware_version, capabilities, reset_cause)
        self.boot_ms = now_ms
        self.rx_errors = 0
        # Outputs: what is commanded, and since when (patterns are phased from that moment).
        self.light = list(patterns.SAFE_LIGHT)
        self.light_since_ms = now_ms
        self.buzzer = patterns.SAFE_BUZZER
        self.play_id = 0
        self.buzzer_since_ms = now_ms
        self.buzzer_starts = 0
        self.watchdog_trips = 0
        self._lamps_out = (False, False, False)
        self._tone_out = 0
        self._outputs_written = False
        # Pedal.
        self.debouncer = Debouncer(debounce_ms)
        self.presses = 0
        # Scale.
        self.offset_counts = float(zero_counts)
        self.settle = SettleDetector(DEFAULT_SETTLE_MS, DEFAULT_BAND_G)
        self.last_sample_ms = now_ms
        self.last_weight_g: float | None = None
        self.reported_weight_g: int | None = None
        self.taring = False
        self.tare_id = -1
        self.tare_started_ms = 0
        self.last_tare: tuple[int, int] | None = None
        self.faults: list[int] = []
        self._overflow_reported = False
        self._sessions_seen = 0
        self.link.announce_boot(now_ms)
        self._render(now_ms)

    # -- observation -------------------------------------------------------------------------------------------

    @property
    def in_session(self) -> bool:
        """True while a host session is open (outputs follow the host); False = safe state."""
        return self.link.in_session

    def take_output(self) -> bytes:
        """Bytes to write to the host."""
        return self.link.take_output()

    # -- input from the host -----------------------------------------------------------------------------------

    def receive(self, data: bytes, now_ms: int) -> None:
        """Consume bytes from the host and act on every complete, valid, in-order frame."""
        for frame in self.link.receive(data, now_ms):
            self._handle(frame, now_ms)
        self._check_new_session(now_ms)
        self._render(now_ms)

    def _check_new_session(self, now_ms: int) -> None:
        if self.link.sessions_started != self._sessions_seen:
            self._sessions_seen = self.link.sessions_started
            self._overflow_reported = False
            # The new host knows nothing yet: report the weight on the scale again once it is stable.
            self.reported_weight_g = None
            # A new host (or the same host after a loss) must learn about faults that are still active.
            for code in self.faults:
                self._event(wire.FAULT, (code, 1), now_ms)

    def _handle(self, frame: wire.Frame, now_ms: int) -> None:
        ftype = frame.ftype
        try:
            if ftype == wire.HEARTBEAT:
                self.link.send_control(wire.STATUS, wire.pack_payload(wire.STATUS, self._status()), now_ms)
            elif ftype == wire.SET_LIGHT:
                self._set_light(wire.unpack_payload(ftype, frame.payload), now_ms)
            elif ftype == wire.SET_BUZZER:
                pattern, play_id = wire.unpack_payload(ftype, frame.payload)
                self._set_buzzer(pattern, play_id, now_ms)
            elif ftype == wire.TARE:
                self._start_tare(wire.unpack_payload(ftype, frame.payload)[0], now_ms)
            elif ftype == wire.SET_SCALE:
                settle_ms, band_g = wire.unpack_payload(ftype, frame.payload)
                self.settle.settle_ms = min(max(settle_ms, 100), 10000)
                self.settle.band = min(max(band_g, 1), 1000)
                self.settle.clear()
            else:
                # Unknown to this firmware (a newer host): acked by the link so it is not resent, otherwise ignored.
                self.rx_errors += 1
        except FrameError:
            self.rx_errors += 1

    def _status(self) -> tuple[int, int]:
        flags = 0
        if self._scale_ok():
            flags |= wire.STATUS_SCALE_OK
        if self.faults:
            flags |= wire.STATUS_FAULT
        if self.taring:
            flags |= wire.STATUS_TARING
        return (flags, min(self.rx_errors + self.link.bad_frames, 0xFFFF))

    def _set_light(self, values: tuple[int, ...], now_ms: int) -> None:
        for value in values:
            if value >= len(patterns.LIGHT_NAMES):
                self.rx_errors += 1
                return  # never act on a command we cannot fully understand
        if list(values) != self.light:
            self.light = list(values)
            self.light_since_ms = now_ms

    def _set_buzzer(self, pattern: int, play_id: int, now_ms: int) -> None:
        if pattern >= len(patterns.BUZZER_NAMES):
            self.rx_errors += 1
            return
        # Idempotent: the same (pattern, play id) again, from a retransmit or a resent state, changes nothing.
        if pattern == self.buzzer and play_id == self.play_id:
            return
        self.buzzer = pattern
        self.play_id = play_id
        self.buzzer_since_ms = now_ms
        if pattern != patterns.BUZZER_OFF:
            self.buzzer_starts += 1

    def _start_tare(self, tare_id: int, now_ms: int) -> None:
        if self.last_tare is not None and self.last_tare[0] == tare_id and not self.taring:
            self._event(wire.TARE_DONE, self.last_tare, now_ms)
            return
        self.taring = True
        self.tare_id = tare_id
        self.tare_started_ms = now_ms
        self.settle.clear()

    # -- time and inputs ---------------------------------------------------------------------------------------

    def tick(self, now_ms: int) -> None:
        """Run one step: watchdog, inputs, retransmits, outputs. Call every few milliseconds."""
        if self.link.check_watchdog(now_ms):
            self._enter_safe_state(now_ms)
        if self.capabilities & wire.CAP_PEDAL and self.debouncer.update(bool(self.board.pedal_raw()), now_ms):
            self.presses = (self.presses + 1) & 0xFFFF
            self._event(wire.PEDAL, (self.presses, now_ms & 0xFFFFFFFF), now_ms)
        if self.capabilities & wire.CAP_SCALE:
            self._tick_scale(now_ms)
        was_in_session = self.link.in_session
        self.link.poll(now_ms)
        if was_in_session and not self.link.in_session:
            self._enter_safe_state(now_ms)
        self._render(now_ms)

    def _enter_safe_state(self, now_ms: int) -> None:
        self.watchdog_trips += 1
        self.light = list(patterns.SAFE_LIGHT)
        self.light_since_ms = now_ms
        self.buzzer = patterns.SAFE_BUZZER
        self.play_id = 0
        self.buzzer_since_ms = now_ms
        self.taring = False

    def _event(self, ftype: int, values: tuple[int, ...], now_ms: int) -> None:
        if not self.link.in_session:
            return  # no host to tell: a press or weight from before a session must not act later
        if not self.link.send(ftype, wire.pack_payload(ftype, values), now_ms) and not self._overflow_reported:
            # The backlog was full and lost its oldest event. Say so once per session; sent straight to the link,
            # because going through _event again could overflow again.
            self._overflow_reported = True
            payload = wire.pack_payload(wire.FAULT, (wire.FAULT_EVENT_OVERFLOW, 1))
            self.link.send(wire.FAULT, payload, now_ms)

    def _raise_fault(self, code: int, now_ms: int) -> None:
        if code not in self.faults:
            self.faults.append(code)
            self._event(wire.FAULT, (code, 1), now_ms)

    def _clear_fault(self, code: int, now_ms: int) -> None:
        if code in self.faults:
            self.faults.remove(code)
            self._event(wire.FAULT, (code, 0), now_ms)

    def _scale_ok(self) -> bool:
        return bool(self.capabilities & wire.CAP_SCALE) and not self.faults_include_scale()

    def faults_include_scale(self) -> bool:
        """True while a scale fault is active."""
        return wire.FAULT_SCALE_TIMEOUT in self.faults or wire.FAULT_SCALE_OVERLOAD in self.faults

    def _tick_scale(self, now_ms: int) -> None:
        raw = self.board.read_scale()
        if raw is None:
            if now_ms - self.last_sample_ms >= SCALE_TIMEOUT_MS:
                if wire.FAULT_SCALE_TIMEOUT not in self.faults:
                    self.settle.clear()
                    self.last_weight_g = None
                self._raise_fault(wire.FAULT_SCALE_TIMEOUT, now_ms)
            self._check_tare_timeout(now_ms)
            return
        self.last_sample_ms = now_ms
        self._clear_fault(wire.FAULT_SCALE_TIMEOUT, now_ms)
        if raw >= SCALE_OVERLOAD_COUNTS or raw <= -SCALE_OVERLOAD_COUNTS:
            self._raise_fault(wire.FAULT_SCALE_OVERLOAD, now_ms)
            self.settle.clear()
            self._check_tare_timeout(now_ms)
            return
        self._clear_fault(wire.FAULT_SCALE_OVERLOAD, now_ms)
        grams = (raw - self.offset_counts) / self.counts_per_g
        self.last_weight_g = grams
        self.settle.add(now_ms, grams)
        stable = self.settle.stable_value(now_ms)
        if self.taring:
            if stable is not None:
                self.offset_counts += stable * self.counts_per_g
                self.settle.clear()
                self.reported_weight_g = None
                self._finish_tare(1, now_ms)
            else:
                self._check_tare_timeout(now_ms)
            return
        if stable is None:
            return
        weight_g = int(stable + 0.5) if stable >= 0 else -int(-stable + 0.5)
        if self.reported_weight_g is None or abs(weight_g - self.reported_weight_g) > self.settle.band:
            self.reported_weight_g = weight_g
            self._event(wire.WEIGHT, (weight_g, now_ms & 0xFFFFFFFF), now_ms)

    def _check_tare_timeout(self, now_ms: int) -> None:
        if self.taring and now_ms - self.tare_started_ms >= TARE_TIMEOUT_MS:
            self._finish_tare(0, now_ms)

    def _finish_tare(self, ok: int, now_ms: int) -> None:
        self.taring = False
        self.last_tare = (self.tare_id, ok)
        self._event(wire.TARE_DONE, (self.tare_id, ok), now_ms)

    # -- outputs -----------------------------------------------------------------------------------------------

    def lamps_at(self, now_ms: int) -> tuple[bool, bool, bool]:
        """The physical lamp states the commanded patterns give at `now_ms`."""
        elapsed = now_ms - self.light_since_ms
        red, amber, green = self.light
        return (
            patterns.lamp_on(red, elapsed),
            patterns.lamp_on(amber, elapsed),
            patterns.lamp_on(green, elapsed),
        )

    def tone_at(self, now_ms: int) -> int:
        """The buzzer tone (Hz, 0 = silent) the commanded pattern gives at `now_ms`."""
        return patterns.buzzer_tone_hz(self.buzzer, now_ms - self.buzzer_since_ms)

    def buzzer_active(self, now_ms: int) -> int:
        """The buzzer pattern still playing at `now_ms` (one-shot patterns fall back to off when done)."""
        if patterns.buzzer_finished(self.buzzer, now_ms - self.buzzer_since_ms):
            return patterns.BUZZER_OFF
        return self.buzzer

    def _render(self, now_ms: int) -> None:
        lamps = self.lamps_at(now_ms)
        tone = self.tone_at(now_ms)
        if lamps != self._lamps_out or not self._outputs_written:
            self._lamps_out = lamps
            self.board.set_lamps(lamps[0], lamps[1], lamps[2])
        if tone != self._tone_out or not self._outputs_written:
            self._tone_out = tone
            self.board.set_tone(tone)
        self._outputs_written = True
