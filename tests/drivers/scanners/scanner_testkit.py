"""Test helpers for the scanner drivers: a key-event encoder, fake evdev devices, a pty serial port.

The encoder is written from the typist's side with ``evdev.ecodes`` names, independently of the decoder's
own integer tables, so a wrong entry on either side shows up as a failing round trip.
"""

import asyncio
import contextlib
import errno
import os
import tty
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from evdev import InputEvent
from evdev import ecodes as e

from drivers.scanners import DeviceCandidate, RawScan

# ---------------------------------------------------------------------------------------------- encoder

UNSHIFTED: dict[str, int] = {
    "`": e.KEY_GRAVE,
    "-": e.KEY_MINUS,
    "=": e.KEY_EQUAL,
    "[": e.KEY_LEFTBRACE,
    "]": e.KEY_RIGHTBRACE,
    "\\": e.KEY_BACKSLASH,
    ";": e.KEY_SEMICOLON,
    "'": e.KEY_APOSTROPHE,
    ",": e.KEY_COMMA,
    ".": e.KEY_DOT,
    "/": e.KEY_SLASH,
    " ": e.KEY_SPACE,
    **{digit: getattr(e, f"KEY_{digit}") for digit in "0123456789"},
}
SHIFTED: dict[str, int] = {
    "~": e.KEY_GRAVE,
    "!": e.KEY_1,
    "@": e.KEY_2,
    "#": e.KEY_3,
    "$": e.KEY_4,
    "%": e.KEY_5,
    "^": e.KEY_6,
    "&": e.KEY_7,
    "*": e.KEY_8,
    "(": e.KEY_9,
    ")": e.KEY_0,
    "_": e.KEY_MINUS,
    "+": e.KEY_EQUAL,
    "{": e.KEY_LEFTBRACE,
    "}": e.KEY_RIGHTBRACE,
    "|": e.KEY_BACKSLASH,
    ":": e.KEY_SEMICOLON,
    '"': e.KEY_APOSTROPHE,
    "<": e.KEY_COMMA,
    ">": e.KEY_DOT,
    "?": e.KEY_SLASH,
}
KEYPAD: dict[str, int] = {
    **{digit: getattr(e, f"KEY_KP{digit}") for digit in "0123456789"},
    "*": e.KEY_KPASTERISK,
    "-": e.KEY_KPMINUS,
    "+": e.KEY_KPPLUS,
    ".": e.KEY_KPDOT,
    "/": e.KEY_KPSLASH,
}
LETTERS: dict[str, int] = {letter: getattr(e, f"KEY_{letter.upper()}") for letter in "abcdefghijklmnopqrstuvwxyz"}
# Ctrl + the key of a character in 0x40-0x5F gives that character & 0x1F; here: control char -> (key, shift).
CTRL_KEYS: dict[int, tuple[int, bool]] = {
    0x00: (e.KEY_2, True),
    **{ord(letter.upper()) & 0x1F: (code, False) for letter, code in LETTERS.items()},
    0x1B: (e.KEY_LEFTBRACE, False),
    0x1C: (e.KEY_BACKSLASH, False),
    0x1D: (e.KEY_RIGHTBRACE, False),
    0x1E: (e.KEY_6, True),
    0x1F: (e.KEY_MINUS, True),
}


def ev(code: int, value: int, type_: int = e.EV_KEY) -> InputEvent:
    """One synthetic event."""
    return InputEvent(1_700_000_000, 0, type_, code, value)


def syn() -> InputEvent:
    """A SYN_REPORT, as the kernel sends after each key change."""
    return ev(e.SYN_REPORT, 0, e.EV_SYN)


def down(code: int) -> list[InputEvent]:
    """Key down, with the MSC_SCAN a USB keyboard sends before it."""
    return [ev(e.MSC_SCAN, 0x70000 + code, e.EV_MSC), ev(code, 1), syn()]


def up(code: int) -> list[InputEvent]:
    """Key up."""
    return [ev(e.MSC_SCAN, 0x70000 + code, e.EV_MSC), ev(code, 0), syn()]


def tap(code: int, *, repeats: int = 0) -> list[InputEvent]:
    """Press and release ``code``, with ``repeats`` autorepeat events while it is down."""
    return down(code) + [ev(code, 2) for _ in range(repeats)] + up(code)


def chord(modifier: int, *keys: list[InputEvent]) -> list[InputEvent]:
    """``keys`` typed while ``modifier`` is held."""
    events = down(modifier)
    for key in keys:
        events += key
    return events + up(modifier)


def alt_numpad(value: int, *, width: int = 4, alt: int = e.KEY_LEFTALT) -> list[InputEvent]:
    """Alt + keypad decimal code entry, e.g. Alt + 0 0 2 9 for GS."""
    digits = str(value).rjust(width, "0")
    return chord(alt, *(tap(KEYPAD[d]) for d in digits))


class Typist:
    """Types ASCII text as a keyboard-wedge scanner would, tracking CapsLock."""

    def __init__(self) -> None:
        """Start with CapsLock off."""
        self.caps = False

    def toggle_caps(self) -> list[InputEvent]:
        """Press CapsLock."""
        self.caps = not self.caps
        return tap(e.KEY_CAPSLOCK)

    def char(self, char: str, *, shift_key: int = e.KEY_LEFTSHIFT, keypad: bool = False) -> list[InputEvent]:
        """Type one printable character (or Tab) the plain way."""
        if char == "\t":
            return tap(e.KEY_TAB)
        if keypad and char in KEYPAD:
            return tap(KEYPAD[char])
        lower = char.lower()
        if lower in LETTERS:
            want_upper = char.isupper()
            return chord(shift_key, tap(LETTERS[lower])) if want_upper != self.caps else tap(LETTERS[lower])
        if char in UNSHIFTED:
            return tap(UNSHIFTED[char])
        if char in SHIFTED:
            return chord(shift_key, tap(SHIFTED[char]))
        raise ValueError(f"cannot type {char!r} plainly")

    def ctrl(self, byte: int, *, ctrl_key: int = e.KEY_LEFTCTRL) -> list[InputEvent]:
        """Type a control character 0x00-0x1F as Ctrl + key."""
        key, shifted = CTRL_KEYS[byte]
        inner = chord(e.KEY_LEFTSHIFT, tap(key)) if shifted else tap(key)
        return chord(ctrl_key, inner)

    def text(self, text: str) -> list[InputEvent]:
        """Type printable ASCII, control characters through Ctrl, and end with Enter."""
        events: list[InputEvent] = []
        for char in text:
            events += self.ctrl(ord(char)) if ord(char) < 0x20 and char != "\t" else self.char(char)
        return events + tap(e.KEY_ENTER)


def type_code(code: bytes) -> list[InputEvent]:
    """The events of a scanner typing ``code`` (ASCII) followed by Enter."""
    return Typist().text(code.decode("ascii"))


# ---------------------------------------------------------------------------------------------- fake evdev


class FakeInputDevice:
    """Stands in for ``evdev.InputDevice``: a pipe fd the loop can watch, events pushed by the test."""

    def __init__(self, path: str) -> None:
        """Open a fresh pipe, as each open of a real device gives a fresh fd."""
        self.path = path
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        self._events: deque[InputEvent] = deque()
        self.grabbed = False
        self.closed = False
        self.gone_errno: int | None = None
        self.grab_error: OSError | None = None

    def fileno(self) -> int:
        """The pipe's read end."""
        return self._read_fd

    def grab(self) -> None:
        """Record the grab (or fail like a device another program holds)."""
        if self.grab_error is not None:
            raise self.grab_error
        self.grabbed = True

    def read(self) -> Iterator[InputEvent]:
        """Like evdev: a generator that raises on its first step when the device is gone or idle."""
        if self.gone_errno is not None:
            raise OSError(self.gone_errno, os.strerror(self.gone_errno))
        with contextlib.suppress(BlockingIOError):
            os.read(self._read_fd, 4096)  # drain the wake-up bytes
        if not self._events:
            raise BlockingIOError(errno.EAGAIN, "no events")
        batch = list(self._events)
        self._events.clear()
        yield from batch

    def push(self, events: list[InputEvent]) -> None:
        """Queue ``events`` and make the fd readable."""
        assert not self.closed, "pushing into a closed device"
        self._events.extend(events)
        os.write(self._write_fd, b".")

    def unplug(self, errno_: int = errno.ENODEV) -> None:
        """Make the next read fail as an unplugged device does."""
        self.gone_errno = errno_
        os.write(self._write_fd, b"!")

    def close(self) -> None:
        """Close both pipe ends (idempotent)."""
        if not self.closed:
            os.close(self._read_fd)
            os.close(self._write_fd)
            self.closed = True


class FakeInputBus:
    """The set of devices present, for injection into ``EvdevScanner(find_devices=, open_device=)``."""

    def __init__(self) -> None:
        """No device present."""
        self.present: dict[str, str] = {}  # path -> by-id name
        self.opened: dict[str, list[FakeInputDevice]] = {}
        self.find_calls = 0
        self.next_grab_error: OSError | None = None

    def plug(self, path: str, name: str) -> None:
        """Make a device appear."""
        self.present[path] = name

    def remove(self, path: str) -> None:
        """Make a device disappear from discovery (and unplug its open instance)."""
        self.present.pop(path, None)
        current = self.current(path)
        if current is not None and not current.closed:
            current.unplug()

    def find(self) -> list[DeviceCandidate]:
        """The injected finder."""
        self.find_calls += 1
        return [DeviceCandidate(name, path) for path, name in sorted(self.present.items())]

    def open(self, path: str) -> FakeInputDevice:
        """The injected opener."""
        if path not in self.present:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        device = FakeInputDevice(path)
        if self.next_grab_error is not None:
            device.grab_error, self.next_grab_error = self.next_grab_error, None
        self.opened.setdefault(path, []).append(device)
        return device

    def current(self, path: str) -> FakeInputDevice | None:
        """The latest device opened at ``path``."""
        devices = self.opened.get(path)
        return devices[-1] if devices else None

    def close_all(self) -> None:
        """Release every pipe (for test teardown)."""
        for devices in self.opened.values():
            for device in devices:
                device.close()


# ---------------------------------------------------------------------------------------------- pty


class PtyPort:
    """A serial 'device' made of a real pty, reachable through a stable symlink like /dev/serial/by-id."""

    def __init__(self, link: Path) -> None:
        """Create the link; the port is not plugged until :meth:`plug`."""
        self.link = link
        self.master: int | None = None
        self._slave: int | None = None

    def plug(self) -> None:
        """Create a new pty and point the link at its slave end."""
        master, slave = os.openpty()
        tty.setraw(slave)
        self.master, self._slave = master, slave
        self.link.unlink(missing_ok=True)
        self.link.symlink_to(os.ttyname(slave))

    def write(self, data: bytes) -> None:
        """Send bytes as the scanner would."""
        assert self.master is not None
        os.write(self.master, data)

    def unplug(self) -> None:
        """Close the master end (the reader sees EIO) and remove the link."""
        for fd in (self.master, self._slave):
            if fd is not None:
                os.close(fd)
        self.master = self._slave = None
        self.link.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------- async


class Collector:
    """A sink that queues scans for the test to await."""

    def __init__(self) -> None:
        """Empty."""
        self.queue: asyncio.Queue[RawScan] = asyncio.Queue()
        self.all: list[RawScan] = []

    def __call__(self, scan: RawScan) -> None:
        """The sink."""
        self.all.append(scan)
        self.queue.put_nowait(scan)

    async def get(self, timeout_s: float = 5.0) -> RawScan:
        """The next scan; fail the test if none arrives."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout_s)
        except TimeoutError:
            raise AssertionError(f"no scan within {timeout_s}s (got so far: {self.all})") from None


async def wait_until(predicate: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    """Poll ``predicate`` on the loop until it holds; fail the test naming ``what`` otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)


async def settle(rounds: int = 20) -> None:
    """Let the loop run its ready callbacks a few times (no wall-clock wait)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
