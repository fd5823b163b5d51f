"""Barcode scanners: keyboard-wedge (evdev), serial (pyserial) and simulated, behind one small interface.

Build a source with :func:`open_scanner` from its URL, ``await source.start(sink)`` on the running loop, and
receive each code as a :class:`RawScan`. See ``factory`` for the URL forms and each module for its options.
"""

from drivers.scanners.base import RawScan, ScanSink, ScanSource
from drivers.scanners.decoder import KeyDecoder
from drivers.scanners.errors import ScannerConfigError, ScannerError, ScannerStateError
from drivers.scanners.evdev_reader import DeviceCandidate, EvdevOptions, EvdevScanner
from drivers.scanners.factory import open_scanner
from drivers.scanners.framing import LineFramer
from drivers.scanners.serial_reader import SerialOptions, SerialScanner
from drivers.scanners.sim import SimOptions, SimScanner

__all__ = [
    "DeviceCandidate",
    "EvdevOptions",
    "EvdevScanner",
    "KeyDecoder",
    "LineFramer",
    "RawScan",
    "ScanSink",
    "ScanSource",
    "ScannerConfigError",
    "ScannerError",
    "ScannerStateError",
    "SerialOptions",
    "SerialScanner",
    "SimOptions",
    "SimScanner",
    "open_scanner",
]
