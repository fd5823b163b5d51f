"""The bench I/O controller in Python: the firmware's own protocol engine on a simulated board, with fault knobs.

`Emulator` runs the same `DeviceEngine` as the RP2040 firmware (so the twin cannot drift from the device), on a
`SimBoard` that has lamps, a buzzer, a pedal you press by API and a load cell with drift and noise. Between the
engine and the wire sit the fault knobs: frames dropped, corrupted or delayed, and a reboot mid-stream.

Use it in-process through `BenchController("sim://?drop=0.1&...")`, or on a pty for another program:

    python -m firmware_bridge.emulator --pty [--link /tmp/bench-io] [--knobs 'drop=0.05&noise_g=2']

prints the pty path, then reads commands on stdin: `pedal`, `load GRAMS`, `scale_dead on|off`, `reboot`,
`unplug`, `replug`, `state`, `quit`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import sys
import time
import tty
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from urllib.parse import parse_qsl

from firmware_bridge.core import patterns, wire
from firmware_bridge.core.device import DeviceEngine
from firmware_bridge.errors import PortUrlError

logger = logging.getLogger(__name__)

FIRMWARE_VERSION = (1, 0, 0)
DEFAULT_COUNTS_PER_G = 420.0
SCALE_SAMPLE_PERIOD_MS = 100  # an HX711 with RATE low converts at 10 Hz
PEDAL_HOLD_MS = 120
PEDAL_BOUNCE_MS = 6


def monotonic_ms() -> int:
    """Milliseconds from the system's monotonic clock."""
    return time.monotonic_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class FaultKnobs:
    """Faults the emulator injects. Parsed from a `sim://` query string by `from_query`.

    - `drop`, `corrupt`: probability (0..1) that a frame, in either direction, is lost or has one bit flipped;
    - `delay_ms`: latency added to every frame, both directions (order is kept, as on a real serial line);
    - `reboot_after`: the device reboots once, after this many frames from the host (0 = never);
    - `drift_g`: scale drift in grams per minute; `noise_g`: uniform noise of +/- this many grams per reading;
    - `scale_dead`: the load cell never answers; `seed`: seed of the fault dice (None = random).
    """

    drop: float = 0.0
    corrupt: float = 0.0
    delay_ms: int = 0
    reboot_after: int = 0
    drift_g: float = 0.0
    noise_g: float = 0.0
    scale_dead: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("drop", "corrupt"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise PortUrlError(f"sim:// knob {name}={value} is not a probability in 0..1")
        for name in ("delay_ms", "reboot_after"):
            if getattr(self, name) < 0:
                raise PortUrlError(f"sim:// knob {name} must not be negative")
        if self.noise_g < 0:
            raise PortUrlError("sim:// knob noise_g must not be negative")

    @classmethod
    def from_query(cls, query: str) -> FaultKnobs:
        """Parse `drop=0.1&corrupt=0.05&...`. Raises `PortUrlError` for an unknown knob or a bad value."""
        known = {f.name for f in fields(cls)}
        values: dict[str, object] = {}
        for name, text in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
            if name not in known:
                raise PortUrlError(f"unknown sim:// knob {name!r} (known: {', '.join(sorted(known))})")
            try:
                if name in ("drop", "corrupt", "drift_g", "noise_g"):
                    values[name] = float(text)
                elif name == "scale_dead":
                    values[name] = text.lower() in ("1", "true", "yes", "on")
                else:
                    values[name] = int(text)
            except ValueError as err:
                raise PortUrlError(f"sim:// knob {name}={text!r} is not a number") from err
        return cls(**values)  # type: ignore[arg-type]


class SimBoard:
    """A simulated controller board: lamps and buzzer you can look at, a pedal and a load cell you can act on."""

    def __init__(
        self,
        clock_ms: Callable[[], int],
        knobs: FaultKnobs,
        rng: random.Random,
        counts_per_g: float = DEFAULT_COUNTS_PER_G,
    ) -> None:
        self._clock_ms = clock_ms
        self._knobs = knobs
        self._rng = rng
        self.counts_per_g = counts_per_g
        self.lamps = (False, False, False)
        self.tone_hz = 0
        self.load_g = 0.0
        self.scale_dead = knobs.scale_dead
        self._created_ms = clock_ms()
        self._next_sample_ms = self._created_ms
        self._presses: deque[int] = deque()

    # Board interface used by the engine.
    def set_lamps(self, red: bool, amber: bool, green: bool) -> None:
        """Drive the lamps."""
        self.lamps = (red, amber, green)

    def set_tone(self, freq_hz: int) -> None:
        """Drive the buzzer."""
        self.tone_hz = freq_hz

    def pedal_raw(self) -> bool:
        """Raw pedal contact, with a little contact bounce at the start of each press."""
        now = self._clock_ms()
        while self._presses and now >= self._presses[0] + PEDAL_HOLD_MS:
            self._presses.popleft()
        if not self._presses or now < self._presses[0]:
            return False
        into = now - self._presses[0]
        if into < PEDAL_BOUNCE_MS:
            return into % 2 == 0
        return True

    def read_scale(self) -> int | None:
        """A raw reading every `SCALE_SAMPLE_PERIOD_MS`, with the configured drift and noise."""
        now = self._clock_ms()
        if self.scale_dead or now < self._next_sample_ms:
            return None
        self._next_sample_ms = now + SCALE_SAMPLE_PERIOD_MS
        drift = self._knobs.drift_g * (now - self._created_ms) / 60000.0
        noise = self._rng.uniform(-self._knobs.noise_g, self._knobs.noise_g) if self._knobs.noise_g else 0.0
        return round((self.load_g + drift + noise) * self.counts_per_g)

    # Simulation API.
    def press_pedal(self, at_ms: int | None = None) -> None:
        """Press and release the pedal once (held `PEDAL_HOLD_MS`), starting now or at `at_ms`."""
        start = self._clock_ms() if at_ms is None else at_ms
        if self._presses and start < self._presses[-1] + PEDAL_HOLD_MS + 50:
            start = self._presses[-1] + PEDAL_HOLD_MS + 50  # presses queued back to back stay distinct
        self._presses.append(start)


class _FrameFaults:
    """Applies drop / corrupt / delay to whole frames of one direction of the byte stream."""

    def __init__(self, knobs: FaultKnobs, rng: random.Random) -> None:
        self._knobs = knobs
        self._rng = rng
        self._partial = bytearray()
        self._queue: deque[tuple[int, bytes]] = deque()
        self.frames = 0
        self.dropped = 0
        self.corrupted = 0

    def push(self, data: bytes, now_ms: int) -> int:
        """Split `data` into frames, apply faults, queue them; return how many frames were completed."""
        completed = 0
        for byte in data:
            self._partial.append(byte)
            if byte != 0:
                continue
            frame = bytes(self._partial)
            self._partial = bytearray()
            if len(frame) == 1:
                self._queue.append((now_ms + self._knobs.delay_ms, frame))
                continue
            completed += 1
            self.frames += 1
            if self._knobs.drop and self._rng.random() < self._knobs.drop:
                self.dropped += 1
                continue
            if self._knobs.corrupt and self._rng.random() < self._knobs.corrupt:
                self.corrupted += 1
                mutable = bytearray(frame)
                index = self._rng.randrange(len(mutable) - 1)
                mutable[index] ^= 1 << self._rng.randrange(8)
                frame = bytes(mutable)
            self._queue.append((now_ms + self._knobs.delay_ms, frame))
        return completed

    def due(self, now_ms: int) -> bytes:
        """The frames whose delay has passed."""
        out = bytearray()
        while self._queue and self._queue[0][0] <= now_ms:
            out.extend(self._queue.popleft()[1])
        return bytes(out)

    def clear(self) -> None:
        """Forget everything in flight (the device lost power)."""
        self._partial = bytearray()
        self._queue.clear()


class Emulator:
    """The controller, in Python. Feed it host bytes with `receive`, call `tick` every few ms, read `take_output`.

    Time comes from `clock_ms` (monotonic milliseconds), so tests can drive it with a fake clock.
    """

    def __init__(
        self,
        knobs: FaultKnobs | None = None,
        clock_ms: Callable[[], int] = monotonic_ms,
        firmware_version: tuple[int, int, int] = FIRMWARE_VERSION,
        capabilities: int = wire.CAP_ALL,
        counts_per_g: float = DEFAULT_COUNTS_PER_G,
    ) -> None:
        self.knobs = knobs or FaultKnobs()
        self._clock_ms = clock_ms
        self._rng = random.Random(self.knobs.seed)  # noqa: S311 - fault dice, not cryptography
        self.firmware_version = firmware_version
        self.capabilities = capabilities
        self.counts_per_g = counts_per_g
        self.board = SimBoard(clock_ms, self.knobs, self._rng, counts_per_g)
        self.plugged = True
        self.reboots = 0
        self.buzzer_log: list[str] = []
        self._inbound = _FrameFaults(self.knobs, self._rng)
        self._outbound = _FrameFaults(self.knobs, self._rng)
        self._frames_from_host = 0
        self._reboot_done = False
        self._out = bytearray()
        self.engine = self._boot(wire.RESET_CAUSE_POWER_ON)

    def _boot(self, cause: int) -> DeviceEngine:
        engine = DeviceEngine(
            self.board,
            self._clock_ms(),
            firmware_version=self.firmware_version,
            capabilities=self.capabilities,
            counts_per_g=self.counts_per_g,
            reset_cause=cause,
        )
        self._buzzer_starts = engine.buzzer_starts
        self._queue_engine_output(engine)
        return engine

    # -- wire ----------------------------------------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Bytes from the host (ignored while unplugged)."""
        if not self.plugged:
            return
        now = self._clock_ms()
        self._frames_from_host += self._inbound.push(data, now)
        self._deliver(now)
        if self.knobs.reboot_after and not self._reboot_done and self._frames_from_host >= self.knobs.reboot_after:
            self._reboot_done = True
            logger.info("sim controller: rebooting mid-stream after %s frames", self._frames_from_host)
            self.reboot()

    def tick(self) -> None:
        """Advance the device to the current time: inputs, watchdog, retransmits, outputs."""
        if not self.plugged:
            return
        now = self._clock_ms()
        self._deliver(now)
        self.engine.tick(now)
        self._queue_engine_output(self.engine)

    def take_output(self) -> bytes:
        """Bytes for the host whose (simulated) delay has passed."""
        if not self.plugged:
            return b""
        self._out.extend(self._outbound.due(self._clock_ms()))
        out = bytes(self._out)
        self._out = bytearray()
        return out

    def _deliver(self, now: int) -> None:
        data = self._inbound.due(now)
        if data:
            self.engine.receive(data, now)
            if self.engine.buzzer_starts != self._buzzer_starts:
                self._buzzer_starts = self.engine.buzzer_starts
                self.buzzer_log.append(patterns.BUZZER_NAMES[self.engine.buzzer])
            self._queue_engine_output(self.engine)

    def _queue_engine_output(self, engine: DeviceEngine) -> None:
        data = engine.take_output()
        if data:
            self._outbound.push(data, self._clock_ms())

    # -- simulation API ------------------------------------------------------------------------------------------

    def press_pedal(self) -> None:
        """Press the foot pedal once."""
        self.board.press_pedal()

    def set_load_g(self, grams: float) -> None:
        """Put `grams` on the scale (0 = empty)."""
        self.board.load_g = grams

    @property
    def scale_dead(self) -> bool:
        """Whether the load cell has stopped answering."""
        return self.board.scale_dead

    @scale_dead.setter
    def scale_dead(self, dead: bool) -> None:
        self.board.scale_dead = dead

    def reboot(self) -> None:
        """Restart the controller: session, outputs and scale zero are lost, as on a real reset."""
        self.reboots += 1
        self._inbound.clear()
        self._outbound.clear()
        self.engine = self._boot(wire.RESET_CAUSE_SOFT)

    def unplug(self) -> None:
        """Pull the USB cable: the device loses power and the port goes away."""
        self.plugged = False
        self._inbound.clear()
        self._outbound.clear()
        self._out = bytearray()
        self.board.set_lamps(False, False, False)
        self.board.set_tone(0)

    def replug(self) -> None:
        """Plug the cable back in: the device powers up from scratch."""
        self.plugged = True
        self.reboots += 1
        self.engine = self._boot(wire.RESET_CAUSE_POWER_ON)

    # -- what a person at the bench would see --------------------------------------------------------------------

    @property
    def light(self) -> dict[str, str]:
        """Commanded pattern per lamp, e.g. `{"red": "off", "amber": "off", "green": "steady"}`."""
        return {
            colour: patterns.LIGHT_NAMES[pattern]
            for colour, pattern in zip(patterns.COLOURS, self.engine.light, strict=True)
        }

    @property
    def lamps(self) -> tuple[bool, bool, bool]:
        """Which lamps are lit right now (red, amber, green)."""
        return self.board.lamps

    @property
    def tone_hz(self) -> int:
        """The buzzer's tone right now (0 = silent)."""
        return self.board.tone_hz

    @property
    def buzzer(self) -> str:
        """The buzzer pattern still playing (one-shot patterns read `off` once they are done)."""
        return patterns.BUZZER_NAMES[self.engine.buzzer_active(self._clock_ms())]

    @property
    def in_session(self) -> bool:
        """True while a host session is open; False means the outputs show the safe state."""
        return self.plugged and self.engine.in_session

    def stats(self) -> dict[str, int]:
        """Counters for tests and `doctor`-style tools."""
        link = self.engine.link
        return {
            "frames_from_host": self._inbound.frames,
            "dropped_from_host": self._inbound.dropped,
            "corrupted_from_host": self._inbound.corrupted,
            "frames_to_host": self._outbound.frames,
            "dropped_to_host": self._outbound.dropped,
            "corrupted_to_host": self._outbound.corrupted,
            "bad_frames": link.bad_frames,
            "duplicates": link.duplicates,
            "retransmits": link.retransmits,
            "reboots": self.reboots,
            "watchdog_trips": self.engine.watchdog_trips,
        }


class PtyEmulator:
    """An `Emulator` behind a pseudo-terminal, served on an asyncio loop: a stand-in for the USB serial device.

    `start()` opens a pty and (optionally) points `link_path` at its slave, as udev's by-id symlink would;
    `unplug()` closes the pty (the host sees the port vanish) and `replug()` opens a new one with a fresh device.
    """

    def __init__(
        self,
        emulator: Emulator | None = None,
        link_path: str | None = None,
        tick_ms: int = 5,
    ) -> None:
        self.emulator = emulator or Emulator()
        self.link_path = link_path
        self.tick_ms = tick_ms
        self.slave_path: str | None = None
        self._master_fd = -1
        self._slave_fd = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    @property
    def path(self) -> str:
        """The path a host should open: the symlink if one was asked for, else the pty slave."""
        if self.link_path:
            return self.link_path
        if self.slave_path is None:
            raise RuntimeError("the pty emulator is not started")
        return self.slave_path

    def start(self) -> str:
        """Open the pty and start serving on the running loop; return the path to open."""
        self._loop = asyncio.get_running_loop()
        self._open_pty()
        return self.path

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        # Raw mode on the slave right away: no echo, no CR/LF mangling, 0x00/0x03/0x11 pass through as data.
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master_fd = master
        # Keeping the slave open here means the master never sees EIO between two host connections.
        self._slave_fd = slave
        self.slave_path = os.ttyname(slave)
        if self.link_path:
            tmp = self.link_path + ".new"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(self.slave_path, tmp)
            os.replace(tmp, self.link_path)
        assert self._loop is not None
        self._loop.add_reader(master, self._on_readable)
        self._schedule()
        logger.info("pty emulator on %s", self.slave_path)

    def _schedule(self) -> None:
        assert self._loop is not None
        self._timer = self._loop.call_later(self.tick_ms / 1000, self._on_tick)

    def _on_readable(self) -> None:
        try:
            data = os.read(self._master_fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            return  # the host side closed; we keep our slave fd, so this is transient
        if data:
            self.emulator.receive(data)
            self._flush()

    def _on_tick(self) -> None:
        self.emulator.tick()
        self._flush()
        self._schedule()

    def _flush(self) -> None:
        data = self.emulator.take_output()
        if data and self._master_fd >= 0:
            try:
                os.write(self._master_fd, data)
            except (BlockingIOError, OSError):
                logger.debug("pty emulator: %s bytes dropped (host not reading)", len(data))

    def _close_pty(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._master_fd >= 0 and self._loop is not None:
            self._loop.remove_reader(self._master_fd)
        for fd in (self._master_fd, self._slave_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master_fd = -1
        self._slave_fd = -1

    def unplug(self) -> None:
        """Close the pty: the host's reads fail as on a USB unplug."""
        self._close_pty()
        self.emulator.unplug()
        if self.link_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.link_path)

    def replug(self) -> None:
        """Open a new pty (new slave path, same symlink) with a freshly powered device."""
        self.emulator.replug()
        self._open_pty()

    def stop(self) -> None:
        """Close everything."""
        self._close_pty()
        if self.link_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.link_path)


def _handle_command(line: str, pty_emu: PtyEmulator) -> bool:
    """Run one stdin command; return False to quit."""
    words = line.split()
    if not words:
        return True
    emu = pty_emu.emulator
    command = words[0]
    if command == "quit":
        return False
    if command == "pedal":
        emu.press_pedal()
    elif command == "load" and len(words) == 2:
        emu.set_load_g(float(words[1]))
    elif command == "scale_dead" and len(words) == 2:
        emu.scale_dead = words[1] in ("on", "1", "true")
    elif command == "reboot":
        emu.reboot()
    elif command == "unplug":
        pty_emu.unplug()
    elif command == "replug":
        pty_emu.replug()
        print(pty_emu.path, flush=True)
    elif command == "state":
        print(
            f"session={emu.in_session} light={emu.light} buzzer={emu.buzzer} lamps={emu.lamps}",
            flush=True,
        )
    else:
        print(f"unknown command: {line.strip()}", file=sys.stderr, flush=True)
    return True


async def _serve(args: argparse.Namespace) -> None:
    knobs = FaultKnobs.from_query(args.knobs)
    pty_emu = PtyEmulator(Emulator(knobs), link_path=args.link)
    print(pty_emu.start(), flush=True)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def on_stdin() -> None:
        line = sys.stdin.readline()
        if not line or not _handle_command(line, pty_emu):
            done.set()

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    try:
        await done.wait()
    finally:
        loop.remove_reader(sys.stdin.fileno())
        pty_emu.stop()


def main(argv: list[str] | None = None) -> None:
    """Command line: serve the emulator on a pty (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m firmware_bridge.emulator", description=__doc__.split("\n")[0])
    parser.add_argument("--pty", action="store_true", required=True, help="serve on a pseudo-terminal")
    parser.add_argument("--link", help="also make this symlink to the pty (like /dev/serial/by-id/...)")
    parser.add_argument("--knobs", default="", help="fault knobs as a query string, e.g. 'drop=0.1&noise_g=2'")
    parser.add_argument("-v", "--verbose", action="store_true", help="log frames at debug level")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
