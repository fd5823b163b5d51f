"""Choose and build a scan source from its URL, the form the station's config uses.

URL forms (options go in the query string or as keyword arguments; keyword arguments win):

- ``evdev:///dev/input/by-id/usb-Honeywell*-event-kbd`` - keyboard-wedge scanners whose device path matches
  the glob (``*`` and ``[...]``; a literal ``?`` must be written ``%3F``);
- ``evdev://0c2e:0b61`` - keyboard-wedge scanners with that USB vendor:product id;
- ``serial:///dev/serial/by-id/usb-Datalogic_...-if00?baud=9600`` - a serial scanner on that port;
  ``serial:socket://host:7000`` takes a pyserial URL instead of a path;
- ``sim://NAME?script=/path&fifo=/path&unplug_after=3...`` - the simulator (``NAME`` defaults to ``sim``).

An unknown option, a misspelt one or a bad value is a :class:`ScannerConfigError`, never silently ignored.
"""

import urllib.parse
from typing import Any, TypeVar

from pydantic import ValidationError

from drivers.options import DeviceOptions
from drivers.scanners.base import ScanSource
from drivers.scanners.errors import ScannerConfigError
from drivers.scanners.evdev_reader import EvdevOptions, EvdevScanner
from drivers.scanners.serial_reader import SerialOptions, SerialScanner
from drivers.scanners.sim import SimOptions, SimScanner

_OptionsT = TypeVar("_OptionsT", bound=DeviceOptions)


def open_scanner(url: str, name: str | None = None, **options: Any) -> ScanSource:
    """Build the scan source that ``url`` names; nothing is opened until its ``start``.

    ``name`` is the stable device name the source reports (``RawScan.device``); when it is None the name
    comes from the URL (the by-id name, the port's base name, or the ``sim://`` host part).
    """
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False))
    merged: dict[str, Any] = {**query, **options}
    scheme = parts.scheme.lower()
    if scheme == "evdev":
        match = parts.netloc or urllib.parse.unquote(parts.path)
        return EvdevScanner(match, name=name, options=_options(EvdevOptions, merged, url))
    if scheme == "serial":
        port = urllib.parse.unquote(parts.path)
        if parts.netloc:
            raise ScannerConfigError(f"{url}: write serial:///dev/... (three slashes) or serial:socket://...")
        return SerialScanner(port, name=name, options=_options(SerialOptions, merged, url))
    if scheme == "sim":
        if parts.path not in ("", "/"):
            raise ScannerConfigError(f"{url}: a sim scanner takes its input as ?script= or ?fifo=, not a path")
        # The host part names the scanner; any user:password@ before it must not become its name.
        return SimScanner(
            name=name or parts.netloc.rpartition("@")[2] or "sim", options=_options(SimOptions, merged, url)
        )
    raise ScannerConfigError(f"{url}: unknown scanner scheme {parts.scheme!r} (use evdev://, serial://, sim://)")


def _options(model: type[_OptionsT], values: dict[str, Any], url: str) -> _OptionsT:
    try:
        return model.model_validate(values)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'options'}: {error['msg']}" for error in err.errors()
        )
        raise ScannerConfigError(f"{url}: {problems}") from err
