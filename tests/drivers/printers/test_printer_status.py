"""~HS, ~HQES, ~HQOD and SGD replies parsed from recorded bytes, and Printer.status() assembling them."""

import pytest
from printer_testkit import ReplayTransport, recorded

from drivers.printers import Printer, PrinterOptions
from drivers.printers.status import (
    CMD_ERROR_STATUS,
    CMD_HOST_STATUS,
    CMD_LABEL_COUNT,
    CMD_ODOMETER_LENGTH,
    StatusParseError,
    error_status_complete,
    host_status_complete,
    length_odometer_complete,
    parse_error_status,
    parse_host_status,
    parse_length_odometer,
    parse_sgd_int,
    sgd_complete,
)


@pytest.mark.parametrize(
    ("name", "reasons", "busy"),
    [
        ("zd421_hs_ready.bin", [], False),
        ("zd421_hs_paper_out.bin", ["paper_out", "paused"], True),
        ("zd421_hs_head_open.bin", ["head_open"], False),
        ("zd421_hs_busy.bin", [], True),
        ("zd421_hs_buffer_full_partial.bin", ["buffer_full", "partial_format"], True),
        ("zt411_hs_ribbon_out.bin", ["paused", "ribbon_out"], False),
        ("zt411_hs_cold_corrupt_ram.bin", ["corrupt_ram", "under_temperature"], False),
        ("gk420d_hs_short.bin", [], False),
        ("zd421_hs_stale_prefix.bin", [], False),
    ],
)
def test_host_status_reasons(name: str, reasons: list[str], busy: bool) -> None:
    reply = recorded(name)
    assert host_status_complete(reply)
    status = parse_host_status(reply)
    assert status.reasons == reasons
    assert status.busy is busy


def test_host_status_fields_of_a_thermal_transfer_printer() -> None:
    status = parse_host_status(recorded("zt411_hs_ribbon_out.bin"))
    assert status.thermal_transfer
    assert status.print_mode == "cutter"
    assert status.label_length_dots == 1218
    assert status.graphics_stored == 2
    assert status.password == "0000"
    assert status.static_ram_installed is True
    assert status.interface_settings == 190


def test_host_status_counts() -> None:
    status = parse_host_status(recorded("zd421_hs_busy.bin"))
    assert (status.formats_in_buffer, status.labels_remaining) == (2, 3)
    assert status.print_mode == "tear_off"


def test_truncated_host_status_is_incomplete_and_refused() -> None:
    reply = recorded("zd421_hs_truncated.bin")
    assert not host_status_complete(reply)
    with pytest.raises(StatusParseError):
        parse_host_status(reply)


def test_host_status_with_a_non_number_is_refused() -> None:
    reply = recorded("zd421_hs_ready.bin").replace(b"1218", b"12x8")
    with pytest.raises(StatusParseError):
        parse_host_status(reply)


@pytest.mark.parametrize(
    ("name", "errors", "warnings"),
    [
        ("zd421_hqes_ok.bin", [], []),
        ("zd421_hqes_media_out.bin", ["paper_out"], []),
        ("zd421_hqes_head_open_paused.bin", ["head_open", "paused"], []),
        ("zt411_hqes_ribbon_out_warnings.bin", ["ribbon_out"], ["clean_printhead", "paper_near_end"]),
        ("zt411_hqes_unknown_bit.bin", ["cutter_fault", "error_0x00100000"], []),
    ],
)
def test_error_status_bits(name: str, errors: list[str], warnings: list[str]) -> None:
    reply = recorded(name)
    assert error_status_complete(reply)
    status = parse_error_status(reply)
    assert status.errors == errors
    assert status.warnings == warnings
    assert status.errors_present is bool(errors)


def test_error_status_without_warnings_line_is_refused() -> None:
    reply = recorded("zd421_hqes_media_out.bin")
    cut = reply[: reply.index(b"WARNINGS")]
    assert not error_status_complete(cut)
    with pytest.raises(StatusParseError):
        parse_error_status(cut)


def test_length_odometer_in_inches_and_centimetres() -> None:
    inches = parse_length_odometer(recorded("gk420d_hqod_inches.bin"))
    assert (inches.total, inches.unit, inches.user_counters) == (8560, "in", (9, 8560))
    cm = parse_length_odometer(recorded("zt411_hqod_cm.bin"))
    assert (cm.total, cm.unit) == (21742, "cm")
    assert length_odometer_complete(recorded("zt411_hqod_cm.bin"))
    assert not length_odometer_complete(recorded("zt411_hqod_cm.bin")[:40])


def test_sgd_label_count() -> None:
    assert sgd_complete(recorded("zd421_sgd_label_count.bin"))
    assert parse_sgd_int(recorded("zd421_sgd_label_count.bin")) == 48213
    assert parse_sgd_int(recorded("gk420d_sgd_unknown.bin")) is None
    assert not sgd_complete(b'"482')
    with pytest.raises(StatusParseError):
        parse_sgd_int(b"")


# ------------------------------------------------------------------------ Printer.status() assembly


def _printer(replies: dict[bytes, bytes], **options: object) -> tuple[Printer, ReplayTransport]:
    transport = ReplayTransport(dict(replies))
    return Printer(transport, PrinterOptions.model_validate(options)), transport


def test_status_ready_reads_the_label_counter() -> None:
    printer, transport = _printer(
        {CMD_HOST_STATUS: recorded("zd421_hs_ready.bin"), CMD_LABEL_COUNT: recorded("zd421_sgd_label_count.bin")}
    )
    status = printer.status()
    assert status.ready
    assert status.reasons == []
    assert status.odometer == 48213
    # A ready printer costs no ~HQES round trip.
    assert CMD_ERROR_STATUS not in transport.queries


def test_silent_host_status_is_explained_by_the_error_query() -> None:
    # Newer firmware stays silent on ~HS with the media out; ~HQES still answers.
    printer, _ = _printer(
        {CMD_ERROR_STATUS: recorded("zd421_hqes_media_out.bin"), CMD_LABEL_COUNT: recorded("zd421_sgd_label_count.bin")}
    )
    status = printer.status()
    assert not status.ready
    assert status.reasons == ["paper_out"]
    assert status.odometer == 48213


def test_no_answer_at_all_is_not_ready() -> None:
    printer, _ = _printer({})
    status = printer.status()
    assert not status.ready
    assert status.reasons == ["no_answer"]
    assert status.odometer is None


def test_error_query_adds_detail_and_warnings_to_host_status() -> None:
    printer, _ = _printer(
        {
            CMD_HOST_STATUS: recorded("zt411_hs_ribbon_out.bin"),
            CMD_ERROR_STATUS: recorded("zt411_hqes_ribbon_out_warnings.bin"),
        }
    )
    status = printer.status()
    assert status.reasons == ["paused", "ribbon_out"]
    assert status.warnings == ["clean_printhead", "paper_near_end"]


def test_garbled_host_status_is_not_ready() -> None:
    printer, _ = _printer({CMD_HOST_STATUS: b"\x02garbage\x03\r\n\x02more\x03\r\n\x02x\x03\r\n"})
    assert printer.status().reasons == ["garbled_reply"]


def test_unreachable_printer() -> None:
    printer, transport = _printer({})
    transport.unreachable = True
    assert printer.status().reasons == ["unreachable"]


def test_length_odometer_mode_reads_hqod() -> None:
    printer, transport = _printer(
        {CMD_HOST_STATUS: recorded("gk420d_hs_short.bin"), CMD_ODOMETER_LENGTH: recorded("gk420d_hqod_inches.bin")},
        odometer="length",
    )
    assert printer.status().odometer == 8560
    assert CMD_LABEL_COUNT not in transport.queries


def test_label_counter_unknown_to_the_printer() -> None:
    printer, _ = _printer(
        {CMD_HOST_STATUS: recorded("gk420d_hs_short.bin"), CMD_LABEL_COUNT: recorded("gk420d_sgd_unknown.bin")}
    )
    status = printer.status()
    assert status.ready
    assert status.odometer is None
