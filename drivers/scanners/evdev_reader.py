"""Keyboard-wedge scanners read through evdev: found, grabbed, decoded, and found again after an unplug.

Each matching ``/dev/input/event*`` device is opened, grabbed (so its keystrokes never reach a console or a
desktop session) and its fd put on the loop with ``add_reader``. Each device has its own :class:`KeyDecoder`.
When a device goes away (``read`` fails, normally with ENODEV) its fd is dropped and a timer looks for it
again every ``rescan_interval_s``; there is no polling while all expected devices are open.

Devices are chosen either by a glob over stable paths (``/dev/input/by-id/usb-Vendor_Model*-event-kbd``) or
by USB vendor:product id, which is read from sysfs so that matching never opens (or disturbs) other devices.
Both discovery and opening are injectable, which is how the tests drive this module with fake devices.
"""

import asyncio
import errno
import functools
import glob
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import Field

from drivers.options import DeviceOptions
from drivers.scanners.base import ScanSink, deliver, make_scan, wire_logger
from drivers.scanners.decoder import KeyDecoder, UnknownKeyPolicy
from drivers.scanners.errors import ScannerConfigError, ScannerStateError

logger = logging.getLogger(__name__)

_USB_ID = re.compile(r"^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$")


class EvdevOptions(DeviceOptions):
    """Options of an evdev scanner (URL query parameters or keyword arguments)."""

    tab_terminates: bool = Field(False, description="Tab ends a code like Enter (otherwise Tab is data).")
    unknown_key: UnknownKeyPolicy = Field(
        "substitute", description="What an untranslatable key becomes: SUB (0x1A) in the code, or nothing."
    )
    rescan_interval_s: float = Field(2.0, gt=0, description="How often to look for a missing device.")
    partial_timeout_s: float = Field(
        1.0,
        gt=0,
        description="A code with no end-of-code key for this long is dropped, not glued to the next.",
    )


class InputDeviceLike(Protocol):
    """What the reader needs of an ``evdev.InputDevice``."""

    def fileno(self) -> int:
        """The non-blocking fd of the event device."""
        ...

    def read(self) -> Iterable[Any]:
        """Pending events; raises BlockingIOError when none, OSError (ENODEV) once unplugged."""
        ...

    def grab(self) -> None:
        """Take the device exclusively (EVIOCGRAB)."""
        ...

    def close(self) -> None:
        """Close the fd (which also releases the grab)."""
        ...


@dataclass(frozen=True, slots=True)
class DeviceCandidate:
    """A device discovery found: its stable name and the path to open."""

    name: str
    path: str


DeviceFinder = Callable[[], Sequence[DeviceCandidate]]
DeviceOpener = Callable[[str], InputDeviceLike]


def parse_usb_id(text: str) -> tuple[int, int] | None:
    """``"0c2e:0b61"`` -> ``(0x0c2e, 0x0b61)``; None when ``text`` is not a vendor:product id."""
    found = _USB_ID.match(text)
    if found is None:
        return None
    return int(found.group(1), 16), int(found.group(2), 16)


def find_by_glob(pattern: str) -> list[DeviceCandidate]:
    """Devices whose path matches ``pattern``; the stable name is the path's base name (the by-id name)."""
    return [DeviceCandidate(os.path.basename(path), path) for path in sorted(glob.glob(pattern))]


def find_by_usb_id(
    vendor: int,
    product: int,
    *,
    sys_class_input: str = "/sys/class/input",
    dev_input: str = "/dev/input",
    by_id_dir: str = "/dev/input/by-id",
) -> list[DeviceCandidate]:
    """Event devices with the USB ``vendor``:``product`` id, named by their by-id link when there is one."""
    by_id_names: dict[str, str] = {}
    for link in glob.glob(os.path.join(by_id_dir, "*")):
        by_id_names[os.path.realpath(link)] = os.path.basename(link)
    found: list[DeviceCandidate] = []
    for entry in sorted(glob.glob(os.path.join(sys_class_input, "event*"))):
        node = os.path.basename(entry)
        try:
            ids = [_read_hex(os.path.join(entry, "device", "id", part)) for part in ("vendor", "product")]
        except (OSError, ValueError):
            continue  # a device that vanished during the scan, or one without ids: not ours
        if ids != [vendor, product]:
            continue
        path = os.path.join(dev_input, node)
        found.append(DeviceCandidate(by_id_names.get(os.path.realpath(path), node), path))
    return found


def _read_hex(path: str) -> int:
    with open(path, encoding="ascii") as handle:
        return int(handle.read().strip(), 16)


def _open_evdev(path: str) -> InputDeviceLike:
    # Imported here so that the rest of the package (decoder, serial, sim) works without the C extension.
    import evdev  # noqa: PLC0415

    device: InputDeviceLike = evdev.InputDevice(path)
    return device


@dataclass(eq=False)
class _OpenDevice:
    candidate: DeviceCandidate
    device: InputDeviceLike
    fd: int
    decoder: KeyDecoder
    key: str
    partial_timer: asyncio.TimerHandle | None = field(default=None)


class EvdevScanner:
    """A keyboard-wedge scan source over every evdev device that matches ``match``.

    ``match`` is a glob over device paths (``/dev/input/by-id/usb-Honeywell*-event-kbd``) or a USB id
    ``vvvv:pppp``. ``RawScan.device`` is ``name`` when given, otherwise the device's by-id name.
    """

    def __init__(
        self,
        match: str,
        *,
        name: str | None = None,
        options: EvdevOptions | None = None,
        find_devices: DeviceFinder | None = None,
        open_device: DeviceOpener | None = None,
    ) -> None:
        """Prepare the source; nothing is opened before :meth:`start`."""
        if not match:
            raise ScannerConfigError("evdev scanner needs a device path pattern or a vendor:product id")
        self._options = options or EvdevOptions()
        self._configured_name = name
        usb_id = parse_usb_id(match)
        if find_devices is None:
            if usb_id is not None:
                find_devices = functools.partial(find_by_usb_id, *usb_id)
            else:
                find_devices = functools.partial(find_by_glob, match)
        self._find_devices = find_devices
        self._open_device = open_device or _open_evdev
        if name is not None:
            self.name = name
        elif usb_id is not None:
            self.name = f"evdev-{usb_id[0]:04x}:{usb_id[1]:04x}"
        else:
            self.name = os.path.basename(match)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sink: ScanSink | None = None
        self._devices: dict[str, _OpenDevice] = {}
        self._rescan_handle: asyncio.TimerHandle | None = None
        # The most devices seen open at once: fewer than that means one is missing, so keep looking.
        self._expected = 1
        self._waiting_logged = False
        self._open_failures: dict[str, str] = {}  # path -> last reason, so a rescan does not repeat it
        #: Partial codes dropped because their end-of-code key never came.
        self.dropped_partials = 0

    @property
    def connected(self) -> bool:
        """True while at least one matching device is open and grabbed."""
        return bool(self._devices)

    @property
    def devices(self) -> list[str]:
        """Stable names of the devices currently open."""
        return [state.candidate.name for state in self._devices.values()]

    async def start(self, sink: ScanSink) -> None:
        """Open and grab every matching device now, and keep looking for missing ones."""
        if self._loop is not None:
            raise ScannerStateError(f"scanner {self.name} is already started")
        self._loop = asyncio.get_running_loop()
        self._sink = sink
        self._rescan()

    async def stop(self) -> None:
        """Release every device and cancel the timers."""
        if self._rescan_handle is not None:
            self._rescan_handle.cancel()
            self._rescan_handle = None
        for state in list(self._devices.values()):
            self._close(state)
        self._devices.clear()
        self._loop = None
        self._sink = None

    def _rescan(self) -> None:
        self._rescan_handle = None
        if self._loop is None:
            return
        try:
            candidates = list(self._find_devices())
        except OSError as err:
            logger.warning("scanner %s: device discovery failed: %s", self.name, err)
            candidates = []
        for candidate in candidates:
            key = os.path.realpath(candidate.path)
            if key not in self._devices:
                self._try_open(candidate, key)
        self._expected = max(self._expected, len(self._devices))
        if len(self._devices) < self._expected:
            if not self._waiting_logged:
                logger.warning(
                    "scanner %s: %d of %d device(s) present; looking again every %ss",
                    self.name,
                    len(self._devices),
                    self._expected,
                    self._options.rescan_interval_s,
                )
                self._waiting_logged = True
            self._rescan_handle = self._loop.call_later(self._options.rescan_interval_s, self._rescan)
        else:
            self._waiting_logged = False

    def _try_open(self, candidate: DeviceCandidate, key: str) -> None:
        assert self._loop is not None
        try:
            device = self._open_device(candidate.path)
        except OSError as err:
            self._open_failed(candidate.path, f"cannot open: {err}")
            return
        try:
            # Without the grab every code would also be typed into whatever has the console's focus.
            device.grab()
            fd = device.fileno()
        except OSError as err:
            reason = "held by another program" if err.errno == errno.EBUSY else str(err)
            self._open_failed(candidate.path, f"cannot grab: {reason}")
            _close_quietly(device)
            return
        self._open_failures.pop(candidate.path, None)
        device_name = self._configured_name or candidate.name
        decoder = KeyDecoder(
            tab_terminates=self._options.tab_terminates,
            unknown_key=self._options.unknown_key,
            device=device_name,
        )
        state = _OpenDevice(candidate=candidate, device=device, fd=fd, decoder=decoder, key=key)
        self._devices[key] = state
        self._loop.add_reader(fd, self._handle_readable, state)
        logger.info("scanner %s: %s connected and grabbed (%s)", self.name, candidate.name, candidate.path)

    def _open_failed(self, path: str, reason: str) -> None:
        if self._open_failures.get(path) == reason:
            logger.debug("scanner %s: %s still failing: %s", self.name, path, reason)
        else:
            logger.warning("scanner %s: %s: %s", self.name, path, reason)
            self._open_failures[path] = reason

    def _handle_readable(self, state: _OpenDevice) -> None:
        try:
            events = list(state.device.read())
        except BlockingIOError:
            return
        except OSError as err:
            self._lose(state, err)
            return
        if wire_logger.isEnabledFor(logging.DEBUG):
            wire_logger.debug(
                "%s < %s",
                state.candidate.name,
                " ".join(f"{ev.type}:{ev.code}:{ev.value}" for ev in events),
            )
        device_name = self._configured_name or state.candidate.name
        for event in events:
            data = state.decoder.feed(event)
            if data is not None and self._sink is not None:
                deliver(self._sink, make_scan(data, device_name))
        self._arm_partial_timer(state)

    def _arm_partial_timer(self, state: _OpenDevice) -> None:
        if state.partial_timer is not None:
            state.partial_timer.cancel()
            state.partial_timer = None
        if state.decoder.pending and self._loop is not None:
            state.partial_timer = self._loop.call_later(
                self._options.partial_timeout_s, self._handle_partial_timeout, state
            )

    def _handle_partial_timeout(self, state: _OpenDevice) -> None:
        state.partial_timer = None
        partial = state.decoder.reset()
        self.dropped_partials += 1
        logger.warning(
            "scanner %s: partial code %r from %s dropped: no end-of-code key within %ss",
            self.name,
            partial,
            state.candidate.name,
            self._options.partial_timeout_s,
        )

    def _lose(self, state: _OpenDevice, err: OSError) -> None:
        if err.errno == errno.ENODEV:
            logger.warning("scanner %s: %s unplugged", self.name, state.candidate.name)
        else:
            logger.error("scanner %s: reading %s failed: %s; reopening", self.name, state.candidate.name, err)
        if state.decoder.pending:
            logger.warning("scanner %s: partial code %r lost with the device", self.name, state.decoder.peek())
        self._close(state)
        del self._devices[state.key]
        if self._loop is not None and self._rescan_handle is None:
            self._rescan_handle = self._loop.call_later(self._options.rescan_interval_s, self._rescan)

    def _close(self, state: _OpenDevice) -> None:
        if state.partial_timer is not None:
            state.partial_timer.cancel()
            state.partial_timer = None
        if self._loop is not None:
            self._loop.remove_reader(state.fd)
        _close_quietly(state.device)


def _close_quietly(device: InputDeviceLike) -> None:
    try:
        device.close()
    except OSError as err:
        # Closing a device that is already gone can fail; there is nothing left to release.
        logger.debug("closing input device failed: %s", err)
