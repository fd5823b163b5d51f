"""open_scanner: URL forms, options from the query and from keywords, and refusals."""

import pytest

from drivers.scanners import (
    EvdevScanner,
    ScannerConfigError,
    ScannerError,
    SerialScanner,
    SimScanner,
    open_scanner,
)


def test_evdev_by_id_pattern() -> None:
    source = open_scanner("evdev:///dev/input/by-id/usb-Honeywell*-event-kbd?tab_terminates=1&unknown_key=drop")
    assert isinstance(source, EvdevScanner)
    assert source.name == "usb-Honeywell*-event-kbd"
    assert source._options.tab_terminates
    assert source._options.unknown_key == "drop"


def test_evdev_by_usb_id_with_a_configured_name() -> None:
    source = open_scanner("evdev://0c2e:0b61", name="bench-1", rescan_interval_s=5)
    assert isinstance(source, EvdevScanner)
    assert source.name == "bench-1"
    assert source._options.rescan_interval_s == 5


def test_serial_path_with_options() -> None:
    source = open_scanner("serial:///dev/serial/by-id/usb-Datalogic-if00-port0?baud=115200&eol=crlf")
    assert isinstance(source, SerialScanner)
    assert source.name == "usb-Datalogic-if00-port0"
    assert source._port == "/dev/serial/by-id/usb-Datalogic-if00-port0"
    assert (source._options.baud, source._options.eol) == (115200, "crlf")


def test_keywords_override_the_query() -> None:
    source = open_scanner("serial:///dev/ttyACM0?baud=9600", baud=38400)
    assert isinstance(source, SerialScanner)
    assert source._options.baud == 38400


def test_serial_with_a_pyserial_url() -> None:
    source = open_scanner("serial:socket://192.0.2.7:7000")
    assert isinstance(source, SerialScanner)
    assert source._port == "socket://192.0.2.7:7000"


def test_sim_name_and_knobs() -> None:
    source = open_scanner("sim://bench-2?unplug_after=3&garbage_rate=0.1&double_read=true&slow_ms=5")
    assert isinstance(source, SimScanner)
    assert source.name == "bench-2"
    options = source._options
    assert (options.unplug_after, options.garbage_rate, options.double_read, options.slow_ms) == (3, 0.1, True, 5)
    assert open_scanner("sim://").name == "sim"
    assert open_scanner("sim://", name="x").name == "x"


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("evdev:///dev/input/by-id/x?tab_terminate=1", {}, "tab_terminate"),
        ("serial:///dev/ttyUSB0?baud=fast", {}, "baud"),
        ("serial:///dev/ttyUSB0", {"bytesize": 9}, "bytesize"),
        ("serial://dev/ttyUSB0", {}, "three slashes"),
        ("serial://", {}, "port"),
        ("sim://?garbage_rate=2", {}, "garbage_rate"),
        ("sim:///tmp/x", {}, "not a path"),
        ("evdev://", {}, "pattern"),
        ("usb://0c2e:0b61", {}, "unknown scanner scheme"),
        ("/dev/ttyUSB0", {}, "unknown scanner scheme"),
    ],
)
def test_bad_urls_and_options_are_config_errors(url: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(ScannerConfigError, match=message) as raised:
        open_scanner(url, **options)
    assert isinstance(raised.value, ScannerError)
    assert isinstance(raised.value, ValueError)
