"""The sans-I/O link state machine: sequence numbers, acks, a go-back-N retransmit window, duplicate suppression,
and the HELLO session on each side (`HostLink`, `DeviceLink`).

Nothing here reads a clock or a port. Callers hand in received bytes and the current time in milliseconds
(`receive`, `poll`), and collect the bytes to write with `take_output`. That keeps the same code exact on an RP2040
(driven by `time.ticks_ms`) and on the host (driven by the asyncio loop), and lets tests drive it with a fake clock.

Sequencing, per direction: each side numbers its sequenced frames 1, 2, ... modulo 256 and every frame it sends
carries in `ack` the last sequenced frame it received in order. The receiver delivers only the next frame in order;
a frame already seen is a duplicate (acked again, never delivered twice); a frame ahead of a gap is dropped and the
sender's timer resends the whole window (go-back-N keeps the receiver free of reorder buffers, which a
microcontroller cannot spare).
"""

from . import wire
from .errors import FrameError

try:
    from typing import TYPE_CHECKING
except ImportError:  # MicroPython has no typing module; annotations are never evaluated there.
    TYPE_CHECKING = False  # type: ignore[misc]

if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_WINDOW = 4
DEFAULT_RETRANSMIT_MS = 250
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_BACKLOG_LIMIT = 16


def seq_distance(newer: int, older: int) -> int:
    """How many steps `newer` is after `older` in 8-bit sequence space (0..255)."""
    return (newer - older) & 0xFF


class _Pending:
    """One sequenced frame waiting to be sent or acknowledged, with the caller's tokens for it."""

    __slots__ = ("ftype", "payload", "seq", "tokens")

    def __init__(self, ftype: int, payload: bytes, tokens: list[object]) -> None:
        self.ftype = ftype
        self.payload = payload
        self.seq = 0
        self.tokens = tokens


class Link:
    """Reliable delivery of sequenced frames over a byte stream that may drop, corrupt, duplicate or reorder.

    Tokens: `send` takes an optional token; when the peer acknowledges that frame the token appears in
    `acked_tokens`, and if the frame is abandoned (session reset, backlog overflow) in `dropped_tokens`. The caller
    drains both lists. The host uses tokens to resolve the futures of `set_light` and friends.
    """

    def __init__(
        self,
        window: int = DEFAULT_WINDOW,
        retransmit_ms: int = DEFAULT_RETRANSMIT_MS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backlog_limit: int = DEFAULT_BACKLOG_LIMIT,
    ) -> None:
        if not 1 <= window <= 127:
            raise ValueError("window must be 1..127")
        self.window = window
        self.retransmit_ms = retransmit_ms
        self.max_attempts = max_attempts
        self.backlog_limit = backlog_limit
        self.decoder = wire.FrameDecoder()
        self.acked_tokens: list[object] = []
        self.dropped_tokens: list[object] = []
        self.tx_frames = 0
        self.rx_frames = 0
        self.retransmits = 0
        self.duplicates = 0
        self.out_of_order = 0
        self.bogus_acks = 0
        self.backlog_dropped = 0
        self.last_tx_ms = 0
        self.last_rx_ms = 0
        self._out = bytearray()
        self._unacked: list[_Pending] = []
        self._backlog: list[_Pending] = []
        self.reset()

    # -- state ---------------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Start a new sequence space (a new session): forget what is in flight, counters restart at 0."""
        for entry in self._unacked + self._backlog:
            self.dropped_tokens.extend(entry.tokens)
        self.tx_seq = 0
        self.rx_seq = 0
        self._unacked = []
        self._backlog = []
        self._attempts = 0
        self._rto_deadline_ms = -1
        self._ack_owed = False
        self.failed = False

    @property
    def idle(self) -> bool:
        """True when nothing is waiting to be sent or acknowledged."""
        return not self._unacked and not self._backlog

    @property
    def in_flight(self) -> int:
        """Number of sequenced frames sent and not yet acknowledged."""
        return len(self._unacked)

    @property
    def bad_frames(self) -> int:
        """Frames dropped by the decoder (COBS, CRC or length errors)."""
        return self.decoder.errors

    def take_output(self) -> bytes:
        """Return and clear the bytes waiting to be written to the wire."""
        out = bytes(self._out)
        self._out = bytearray()
        return out

    def next_deadline_ms(self) -> int:
        """When `poll` next has work (a retransmit), or -1 if nothing is pending."""
        return self._rto_deadline_ms if self._unacked else -1

    # -- sending -------------------------------------------------------------------------------------------------

    def send(self, ftype: int, payload: bytes, now_ms: int, token: object = None, replace: bool = False) -> bool:
        """Queue a sequenced frame; it goes out at once if the window has room.

        With `replace`, a frame of the same type still waiting in the backlog (not yet sent) is overwritten in place
        rather than queued behind: right for set-state commands, where only the newest state matters.
        Returns False if the backlog was full and its oldest entry had to be dropped to make room.
        """
        if not wire.is_sequenced(ftype):
            raise ValueError(f"type 0x{ftype:02x} is not sequenced")
        tokens = [] if token is None else [token]
        if replace:
            for entry in self._backlog:
                if entry.ftype == ftype:
                    entry.payload = bytes(payload)
                    entry.tokens.extend(tokens)
                    return True
        accepted = True
        if len(self._backlog) >= self.backlog_limit:
            oldest = self._backlog.pop(0)
            self.dropped_tokens.extend(oldest.tokens)
            self.backlog_dropped += 1
            accepted = False
        self._backlog.append(_Pending(ftype, bytes(payload), tokens))
        self._fill_window(now_ms)
        return accepted

    def send_control(self, ftype: int, payload: bytes, now_ms: int) -> None:
        """Send an unsequenced link-control frame now (it carries the current ack)."""
        if wire.is_sequenced(ftype):
            raise ValueError(f"type 0x{ftype:02x} is sequenced; use send()")
        self._emit(ftype, 0, payload, now_ms)

    def _emit(self, ftype: int, seq: int, payload: bytes, now_ms: int) -> None:
        self._out.extend(wire.encode_frame(ftype, seq, self.rx_seq, payload))
        self._ack_owed = False
        self.tx_frames += 1
        self.last_tx_ms = now_ms

    def _fill_window(self, now_ms: int) -> None:
        while self._backlog and len(self._unacked) < self.window:
            entry = self._backlog.pop(0)
            self.tx_seq = (self.tx_seq + 1) & 0xFF
            entry.seq = self.tx_seq
            if not self._unacked:
                self._rto_deadline_ms = now_ms + self.retransmit_ms
                self._attempts = 0
            self._unacked.append(entry)
            self._emit(entry.ftype, entry.seq, entry.payload, now_ms)

    # -- receiving -----------------------------------------------------------------------------------------------

    def receive(self, data: bytes, now_ms: int) -> list[wire.Frame]:
        """Consume bytes from the wire; return the frames for the application, in order, each exactly once.

        Pure ACK frames are consumed here. Acks owed for received sequenced frames are written before returning.
        """
        delivered: list[wire.Frame] = []
        for frame in self.decoder.feed(data):
            self.rx_frames += 1
            self._on_frame(frame, now_ms, delivered)
        self._fill_window(now_ms)
        if self._ack_owed:
            self._emit(wire.ACK, 0, b"", now_ms)
        return delivered

    def _on_frame(self, frame: wire.Frame, now_ms: int, delivered: list[wire.Frame]) -> None:
        """Handle one decoded frame. Session layers override this and call `_accept` for in-session frames."""
        self._accept(frame, now_ms, delivered)

    def _accept(self, frame: wire.Frame, now_ms: int, delivered: list[wire.Frame]) -> None:
        self.last_rx_ms = now_ms
        self._take_ack(frame.ack, now_ms)
        if not wire.is_sequenced(frame.ftype):
            if frame.ftype != wire.ACK:
                delivered.append(frame)
            return
        # Every sequenced frame is acked, even a duplicate: its sender evidently missed our earlier ack.
        self._ack_owed = True
        ahead = seq_distance(frame.seq, self.rx_seq)
        if ahead == 1:
            self.rx_seq = frame.seq
            delivered.append(frame)
        elif ahead == 0 or ahead >= 128:
            self.duplicates += 1
        else:
            self.out_of_order += 1

    def _take_ack(self, ack: int, now_ms: int) -> None:
        if seq_distance(self.tx_seq, ack) >= 128:
            # An ack for a frame we never sent (a stale session, or a peer bug): trusting it could lose data.
            self.bogus_acks += 1
            return
        progressed = False
        while self._unacked and seq_distance(ack, self._unacked[0].seq) < 128:
            entry = self._unacked.pop(0)
            self.acked_tokens.extend(entry.tokens)
            progressed = True
        if progressed:
            self._attempts = 0
            self._rto_deadline_ms = now_ms + self.retransmit_ms

    # -- timers --------------------------------------------------------------------------------------------------

    def poll(self, now_ms: int) -> None:
        """Run timers: resend the whole window when its oldest frame is overdue; mark `failed` after too many tries."""
        if self._unacked and not self.failed and now_ms >= self._rto_deadline_ms:
            self._attempts += 1
            if self._attempts > self.max_attempts:
                self.failed = True
                return
            for entry in self._unacked:
                self._emit(entry.ftype, entry.seq, entry.payload, now_ms)
                self.retransmits += 1
            self._rto_deadline_ms = now_ms + self.retransmit_ms
        self._fill_window(now_ms)
        if self._ack_owed:
            self._emit(wire.ACK, 0, b"", now_ms)


# Host session states.
HOST_IDLE = "idle"
HOST_HELLO = "hello"
HOST_UP = "up"
HOST_DOWN = "down"


class HostLink(Link):
    """The host's side: HELLO handshake, heartbeats, silence detection and re-handshake on loss.

    States: `idle` -> (`start`) -> `hello` -> (matching HELLO_ACK) -> `up`. From `up`, a RESET from the device,
    silence for `silence_ms`, or a window unacknowledged after `max_attempts` tries go back to `hello` with a fresh
    nonce. `hello` with no answer after `hello_attempts` tries, or an answer in another protocol version, goes to
    `down`: the caller should close the port, back off and `start` again.

    Changes are reported in `events` as tuples the caller drains: `("up", hello_ack_frame)`, `("lost", reason)`
    (was up, now re-handshaking) and `("down", reason)`.
    """

    def __init__(
        self,
        nonce_source: "Callable[[], int]",
        watchdog_ms: int = wire.WATCHDOG_DEFAULT_MS,
        heartbeat_ms: int = 500,
        silence_ms: int = 2000,
        hello_retry_ms: int = 500,
        hello_attempts: int = 4,
        window: int = DEFAULT_WINDOW,
        retransmit_ms: int = DEFAULT_RETRANSMIT_MS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backlog_limit: int = DEFAULT_BACKLOG_LIMIT,
    ) -> None:
        super().__init__(window, retransmit_ms, max_attempts, backlog_limit)
        self._nonce_source = nonce_source
        self.watchdog_ms = watchdog_ms
        self.heartbeat_ms = heartbeat_ms
        self.silence_ms = silence_ms
        self.hello_retry_ms = hello_retry_ms
        self.hello_attempts = hello_attempts
        self.state = HOST_IDLE
        self.nonce = -1
        self.hello_ack: wire.Frame | None = None
        self.peer_version = -1
        self.events: list[tuple[str, object]] = []
        self._hello_sent = 0
        self._hello_due_ms = 0

    def start(self, now_ms: int) -> None:
        """Begin (or restart) the handshake on a freshly opened port."""
        self.decoder.reset()
        # A lone delimiter first: whatever half-frame the device holds from before is flushed, not merged with ours.
        self._out.extend(b"\x00")
        self._begin_hello(now_ms)

    def take_events(self) -> list[tuple[str, object]]:
        """Return and clear the state-change events since the last call."""
        events = self.events
        self.events = []
        return events

    def _begin_hello(self, now_ms: int) -> None:
        self.reset()
        self.state = HOST_HELLO
        self.nonce = self._nonce_source() & 0xFFFF
        self.hello_ack = None
        self._hello_sent = 0
        self._send_hello(now_ms)

    def _send_hello(self, now_ms: int) -> None:
        payload = wire.pack_payload(wire.HELLO, (self.nonce, self.watchdog_ms))
        self._emit(wire.HELLO, 0, payload, now_ms)
        self._hello_sent += 1
        self._hello_due_ms = now_ms + self.hello_retry_ms

    def _lose(self, reason: str, now_ms: int) -> None:
        self.events.append(("lost", reason))
        self._begin_hello(now_ms)

    def _go_down(self, reason: str) -> None:
        self.reset()
        self.state = HOST_DOWN
        self.events.append(("down", reason))

    def _on_frame(self, frame: wire.Frame, now_ms: int, delivered: list[wire.Frame]) -> None:
        if frame.ftype == wire.HELLO_ACK:
            self._on_hello_ack(frame, now_ms)
            return
        if frame.version != wire.PROTOCOL_VERSION or self.state != HOST_UP:
            # Before the handshake completes, anything else is left over from an earlier session.
            return
        if frame.ftype == wire.RESET:
            reason = frame.payload[0] if frame.payload else 0
            self._lose("device_" + wire.RESET_REASON_NAMES.get(reason, "reset"), now_ms)
            return
        self._accept(frame, now_ms, delivered)

    def _on_hello_ack(self, frame: wire.Frame, now_ms: int) -> None:
        if self.state != HOST_HELLO:
            return  # a duplicate answer to a HELLO we retried; the session is already up
        try:
            fields = wire.unpack_payload(wire.HELLO_ACK, frame.payload)
        except FrameError:
            return
        if fields[0] != self.nonce:
            return  # an answer to an older HELLO
        self.peer_version = frame.version
        if frame.version != wire.PROTOCOL_VERSION or fields[1] != wire.PROTOCOL_VERSION:
            self.hello_ack = frame
            self._go_down(f"incompatible_protocol_{frame.version}")
            return
        self.reset()
        self.state = HOST_UP
        self.hello_ack = frame
        self.last_rx_ms = now_ms
        self.events.append(("up", frame))

    def send(self, ftype: int, payload: bytes, now_ms: int, token: object = None, replace: bool = False) -> bool:
        """Queue a sequenced frame (see `Link.send`); refused (token dropped, returns False) unless `up`."""
        if self.state != HOST_UP:
            if token is not None:
                self.dropped_tokens.append(token)
            return False
        return super().send(ftype, payload, now_ms, token, replace)

    def poll(self, now_ms: int) -> None:
        """Run timers: HELLO retries, silence detection, retransmits and heartbeats."""
        if self.state == HOST_HELLO:
            if now_ms >= self._hello_due_ms:
                if self._hello_sent >= self.hello_attempts:
                    self._go_down("no_answer")
                else:
                    self._send_hello(now_ms)
            return
        if self.state != HOST_UP:
            return
        if now_ms - self.last_rx_ms >= self.silence_ms:
            self._lose("silence", now_ms)
            return
        super().poll(now_ms)
        if self.failed:
            self._lose("no_ack", now_ms)
            return
        if now_ms - self.last_tx_ms >= self.heartbeat_ms:
            self._emit(wire.HEARTBEAT, 0, b"", now_ms)

    def next_deadline_ms(self) -> int:
        """The earliest time `poll` has work to do, or -1 when idle/down."""
        if self.state == HOST_HELLO:
            return self._hello_due_ms
        if self.state != HOST_UP:
            return -1
        deadline = min(self.last_tx_ms + self.heartbeat_ms, self.last_rx_ms + self.silence_ms)
        rto = super().next_deadline_ms()
        if rto >= 0:
            deadline = min(deadline, rto)
        return deadline


class DeviceLink(Link):
    """The device's side: answers HELLO, refuses frames outside a session, and runs the host-silence watchdog.

    A HELLO with a new nonce starts a session (sequence numbers reset); a HELLO repeating the current nonce is only
    answered again, so a HELLO retried by the host cannot reset a session that is already in use. Outside a
    session every frame but HELLO is answered with RESET and never acted upon. `check_watchdog` ends the session
    when the host has been silent for the watchdog time; the device then shows its safe state.
    """

    def __init__(
        self,
        firmware_version: tuple[int, int, int],
        capabilities: int,
        reset_cause: int,
        window: int = DEFAULT_WINDOW,
        retransmit_ms: int = DEFAULT_RETRANSMIT_MS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backlog_limit: int = DEFAULT_BACKLOG_LIMIT,
    ) -> None:
        super().__init__(window, retransmit_ms, max_attempts, backlog_limit)
        self.firmware_version = firmware_version
        self.capabilities = capabilities
        self.reset_cause = reset_cause
        self.session_nonce = -1
        self.watchdog_ms = wire.WATCHDOG_DEFAULT_MS
        self.last_host_ms = 0
        self.sessions_started = 0
        self._no_session_reason = wire.RESET_REBOOTED

    @property
    def in_session(self) -> bool:
        """True while a host session is open."""
        return self.session_nonce >= 0

    def announce_boot(self, now_ms: int) -> None:
        """Tell a host that may be listening that this device just started (RESET, reason `rebooted`)."""
        self._out.extend(b"\x00")
        self.send_control(wire.RESET, bytes((wire.RESET_REBOOTED,)), now_ms)

    def end_session(self, reason: int) -> None:
        """Close the session; the next host frames are answered with RESET(`reason`)."""
        self.session_nonce = -1
        self._no_session_reason = reason
        self.reset()

    def check_watchdog(self, now_ms: int) -> bool:
        """End the session if the host has been silent for the watchdog time. True when it just expired."""
        if self.in_session and now_ms - self.last_host_ms >= self.watchdog_ms:
            self.end_session(wire.RESET_WATCHDOG)
            return True
        return False

    def poll(self, now_ms: int) -> None:
        """Run retransmit timers; after too many unanswered tries the session is ended like a watchdog expiry."""
        if not self.in_session:
            return
        super().poll(now_ms)
        if self.failed:
            self.end_session(wire.RESET_NO_SESSION)

    def _on_frame(self, frame: wire.Frame, now_ms: int, delivered: list[wire.Frame]) -> None:
        if frame.ftype == wire.HELLO:
            self._on_hello(frame, now_ms)
            return
        if frame.version != wire.PROTOCOL_VERSION:
            return
        if not self.in_session:
            self.send_control(wire.RESET, bytes((self._no_session_reason,)), now_ms)
            return
        self.last_host_ms = now_ms
        self._accept(frame, now_ms, delivered)

    def _on_hello(self, frame: wire.Frame, now_ms: int) -> None:
        try:
            nonce, watchdog_ms = wire.unpack_payload(wire.HELLO, frame.payload)
        except FrameError:
            return
        if frame.version == wire.PROTOCOL_VERSION and nonce != self.session_nonce:
            self.reset()
            self.session_nonce = nonce
            self.watchdog_ms = min(max(watchdog_ms, wire.WATCHDOG_MIN_MS), wire.WATCHDOG_MAX_MS)
            self.sessions_started += 1
        if frame.version == wire.PROTOCOL_VERSION:
            self.last_host_ms = now_ms
        # A host speaking another version still gets our HELLO_ACK (its layout is frozen) so it can say why.
        major, minor, patch = self.firmware_version
        payload = wire.pack_payload(
            wire.HELLO_ACK,
            (
                nonce,
                wire.PROTOCOL_VERSION,
                major,
                minor,
                patch,
                self.capabilities,
                self.watchdog_ms,
                self.reset_cause,
            ),
        )
        self._emit(wire.HELLO_ACK, 0, payload, now_ms)
