"""What a Zebra printer says about itself: the host status (``~HS``), the extended error and warning
bitmasks (``~HQES``) and the label counter, parsed from the bytes it sends back.

The replies, as ZPL II firmware sends them:

- ``~HS``: three frames ``<STX>...<ETX><CR><LF>``::

      <STX>aaa,b,c,dddd,eee,f,g,h,iii,j,k,l<ETX>      interface, paper out, pause, label length (dots),
                                                        formats in buffer, buffer full, diagnostic mode,
                                                        partial format, unused, corrupt RAM, under/over temp
      <STX>mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www<ETX>        function settings, unused, head up, ribbon out,
                                                        thermal transfer, print mode, print width mode,
                                                        label waiting, labels remaining in batch,
                                                        format while printing, graphics stored
      <STX>xxxx,y<ETX>                                  password, static RAM installed

  Newer firmware does not answer ``~HS`` at all while the media is out, the ribbon is out or the head is open,
  so silence is itself a status: not ready. ``~HQES`` then usually still answers and says why.
- ``~HQES``: ``PRINTER STATUS`` then ``ERRORS: f gggggggg hhhhhhhh`` and ``WARNINGS: f gggggggg hhhhhhhh``
  (flag, group-2 and group-1 hex bitmasks), inside ``<STX>...<ETX>``.
- The label counter: Link-OS printers answer the SGD query ``! U1 getvar "odometer.total_label_count"``
  with the count in quotes (``"48213"``), ``"?"`` when the variable is unknown. Older printers only have
  ``~HQOD``, which reports printed *length* (``TOTAL NONRESETTABLE: 8560 "`` in inches, or ``cm``): enough
  to tell "something printed", not how many labels.

Reason codes (``PrinterStatus.reasons``) are stable snake_case strings the station stores and shows:
``paper_out``, ``paused``, ``head_open``, ``ribbon_out``, ``buffer_full``, ``partial_format``,
``diagnostic_mode``, ``corrupt_ram``, ``under_temperature``, ``over_temperature``, the ``~HQES`` error
names below, and the link-level ``no_answer``, ``unreachable`` and ``garbled_reply``.
"""

import re
from dataclasses import dataclass, field
from typing import Literal

STX = 0x02
ETX = 0x03

#: The host status query.
CMD_HOST_STATUS = b"~HS"
#: The extended error/warning query.
CMD_ERROR_STATUS = b"~HQES"
#: The odometer (printed length) query of every ZPL II printer.
CMD_ODOMETER_LENGTH = b"~HQOD"
#: The label counter of Link-OS printers (SGD). SGD lines end with CR LF.
CMD_LABEL_COUNT = b'! U1 getvar "odometer.total_label_count"\r\n'
#: Cancel every format in the printer's buffer, including a partial one left by a broken transfer.
CMD_CANCEL_ALL = b"~JA"

#: ``~HQES`` group-1 error bits, from the ZPL II programming guide's error flag table.
ERROR_BITS: dict[int, str] = {
    0x00000001: "paper_out",
    0x00000002: "ribbon_out",
    0x00000004: "head_open",
    0x00000008: "cutter_fault",
    0x00000010: "printhead_over_temperature",
    0x00000020: "motor_over_temperature",
    0x00000040: "bad_printhead_element",
    0x00000080: "printhead_detection_error",
    0x00000100: "invalid_firmware_config",
    0x00000200: "printhead_thermistor_open",
    0x00001000: "paper_jam_during_retract",
    0x00002000: "presenter_not_running",
    0x00004000: "paper_feed_error",
    0x00008000: "clear_paper_path_failed",
    0x00010000: "paused",
    0x00020000: "retract_function_timed_out",
    0x00040000: "black_mark_calibrate_error",
    0x00080000: "black_mark_not_found",
}

#: ``~HQES`` group-1 warning bits.
WARNING_BITS: dict[int, str] = {
    0x00000001: "need_to_calibrate_media",
    0x00000002: "clean_printhead",
    0x00000004: "replace_printhead",
    0x00000008: "paper_near_end",
    0x00000010: "sensor_1_paper_before_head",
    0x00000020: "sensor_2_black_mark",
    0x00000040: "sensor_3_paper_after_head",
    0x00000080: "sensor_4_loop_ready",
    0x00000100: "sensor_5_presenter",
    0x00000200: "sensor_6_retract_ready",
    0x00000400: "sensor_7_in_retract",
    0x00000800: "sensor_8_at_bin",
}

PRINT_MODES = ("rewind", "peel_off", "tear_off", "cutter", "applicator", "delayed_cut")

_FRAME = re.compile(rb"\x02([^\x02\x03]*)\x03")
_HQES_LINE = re.compile(rb"(ERRORS|WARNINGS):\s*([01])\s+([0-9A-Fa-f]{1,8})\s+([0-9A-Fa-f]{1,8})")
_HQOD_TOTAL = re.compile(rb"TOTAL NONRESETTABLE:\s*(\d+)\s*(\"|cm|CM|in)?")
_HQOD_USER = re.compile(rb"USER RESETTABLE CNTR([12]):\s*(\d+)")
_SGD_VALUE = re.compile(rb'"([^"\r\n]*)"')

_HS_FIELDS_1 = 8  # through the partial-format flag; older firmware stops there
_HS_FIELDS_2 = 9  # through labels remaining in batch


class StatusParseError(ValueError):
    """A printer reply is incomplete or not in the expected form."""


def _flag(value: str) -> bool:
    return value.strip() == "1"


def _int(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError as err:
        raise StatusParseError(f"not a number: {value!r}") from err


@dataclass(frozen=True)
class HostStatus:
    """The ``~HS`` reply, field by field."""

    interface_settings: int
    paper_out: bool
    paused: bool
    label_length_dots: int
    formats_in_buffer: int
    buffer_full: bool
    diagnostic_mode: bool
    partial_format: bool
    corrupt_ram: bool
    under_temperature: bool
    over_temperature: bool
    function_settings: int
    head_up: bool
    ribbon_out: bool
    thermal_transfer: bool
    print_mode: str
    label_waiting: bool
    labels_remaining: int
    graphics_stored: int
    password: str | None = None
    static_ram_installed: bool | None = None

    @property
    def reasons(self) -> list[str]:
        """The conditions that keep the printer from printing a new label now, as reason codes."""
        checks = [
            (self.paper_out, "paper_out"),
            (self.paused, "paused"),
            (self.head_up, "head_open"),
            # Zebra firmware raises the ribbon flag only in thermal-transfer mode, but a ribbon-less direct
            # thermal printer never sets it, so trusting the flag alone is safe.
            (self.ribbon_out, "ribbon_out"),
            (self.buffer_full, "buffer_full"),
            (self.partial_format, "partial_format"),
            (self.diagnostic_mode, "diagnostic_mode"),
            (self.corrupt_ram, "corrupt_ram"),
            (self.under_temperature, "under_temperature"),
            (self.over_temperature, "over_temperature"),
        ]
        return [name for active, name in checks if active]

    @property
    def busy(self) -> bool:
        """True while formats wait in the buffer or a batch is still printing."""
        return self.formats_in_buffer > 0 or self.labels_remaining > 0


def host_status_complete(reply: bytes) -> bool:
    """True once a ``~HS`` reply holds its three frames."""
    return len(_FRAME.findall(reply)) >= 3


def parse_host_status(reply: bytes) -> HostStatus:
    """Parse a ``~HS`` reply. Bytes before the first frame (a late reply to something else) are ignored.

    Raises :class:`StatusParseError` when fewer than two frames arrived or a field is malformed.
    """
    frames = [frame.decode("ascii", "replace") for frame in _FRAME.findall(reply)]
    # A stale frame from an earlier reply may precede ours; the last three are the answer to this query.
    if len(frames) > 3:
        frames = frames[-3:]
    if len(frames) < 2:
        raise StatusParseError(f"~HS reply has {len(frames)} of 3 frames: {reply!r}")
    one = frames[0].split(",")
    two = frames[1].split(",")
    if len(one) < _HS_FIELDS_1 or len(two) < _HS_FIELDS_2:
        raise StatusParseError(f"~HS reply has too few fields: {frames!r}")
    one += ["0"] * (12 - len(one))
    two += ["0"] * (11 - len(two))
    three = frames[2].split(",") if len(frames) > 2 else []
    mode_index = _int(two[5])
    return HostStatus(
        interface_settings=_int(one[0]),
        paper_out=_flag(one[1]),
        paused=_flag(one[2]),
        label_length_dots=_int(one[3]),
        formats_in_buffer=_int(one[4]),
        buffer_full=_flag(one[5]),
        diagnostic_mode=_flag(one[6]),
        partial_format=_flag(one[7]),
        corrupt_ram=_flag(one[9]),
        under_temperature=_flag(one[10]),
        over_temperature=_flag(one[11]),
        function_settings=_int(two[0]),
        head_up=_flag(two[2]),
        ribbon_out=_flag(two[3]),
        thermal_transfer=_flag(two[4]),
        print_mode=PRINT_MODES[mode_index] if 0 <= mode_index < len(PRINT_MODES) else f"mode_{mode_index}",
        label_waiting=_flag(two[7]),
        labels_remaining=_int(two[8]),
        graphics_stored=_int(two[10]) if two[10].strip() else 0,
        password=three[0].strip() if three else None,
        static_ram_installed=_flag(three[1]) if len(three) > 1 else None,
    )


def _bit_names(mask: int, table: dict[int, str], prefix: str) -> list[str]:
    names = [name for bit, name in table.items() if mask & bit]
    unknown = mask & ~sum(table)
    # A bit this table does not know (newer firmware) is still reported, never dropped.
    names += [f"{prefix}_0x{1 << n:08x}" for n in range(32) if unknown & (1 << n)]
    return names


@dataclass(frozen=True)
class ExtendedStatus:
    """The ``~HQES`` reply: error and warning bitmasks."""

    errors_present: bool
    error_flags: int
    error_flags_group2: int
    warnings_present: bool
    warning_flags: int
    warning_flags_group2: int

    @property
    def errors(self) -> list[str]:
        """Active errors as reason codes (unknown bits as ``error_0x...``)."""
        names = _bit_names(self.error_flags, ERROR_BITS, "error")
        names += [f"error_group2_0x{self.error_flags_group2:08x}"] if self.error_flags_group2 else []
        if self.errors_present and not names:
            names = ["error_unspecified"]
        return names

    @property
    def warnings(self) -> list[str]:
        """Active warnings (paper near end, clean printhead, ...) as codes."""
        names = _bit_names(self.warning_flags, WARNING_BITS, "warning")
        return names + ([f"warning_group2_0x{self.warning_flags_group2:08x}"] if self.warning_flags_group2 else [])


def error_status_complete(reply: bytes) -> bool:
    """True once a ``~HQES`` reply holds both its ERRORS and WARNINGS lines."""
    return len(_HQES_LINE.findall(reply)) >= 2 and (ETX in reply or reply.rstrip().endswith(b"\n"))


def parse_error_status(reply: bytes) -> ExtendedStatus:
    """Parse a ``~HQES`` reply; raises :class:`StatusParseError` if either line is missing."""
    lines = {kind: (flag, g2, g1) for kind, flag, g2, g1 in _HQES_LINE.findall(reply)}
    if b"ERRORS" not in lines or b"WARNINGS" not in lines:
        raise StatusParseError(f"~HQES reply lacks ERRORS or WARNINGS: {reply!r}")
    e_flag, e_g2, e_g1 = lines[b"ERRORS"]
    w_flag, w_g2, w_g1 = lines[b"WARNINGS"]
    return ExtendedStatus(
        errors_present=e_flag == b"1",
        error_flags=int(e_g1, 16),
        error_flags_group2=int(e_g2, 16),
        warnings_present=w_flag == b"1",
        warning_flags=int(w_g1, 16),
        warning_flags_group2=int(w_g2, 16),
    )


@dataclass(frozen=True)
class LengthOdometer:
    """The ``~HQOD`` reply: printed length, not a label count."""

    total: int
    unit: Literal["in", "cm"]
    user_counters: tuple[int, ...] = field(default=())


def length_odometer_complete(reply: bytes) -> bool:
    """True once a ``~HQOD`` reply holds its total (and the frame closed, when framed)."""
    if not _HQOD_TOTAL.search(reply):
        return False
    return ETX in reply if STX in reply else len(_HQOD_USER.findall(reply)) >= 2


def parse_length_odometer(reply: bytes) -> LengthOdometer:
    """Parse a ``~HQOD`` reply; raises :class:`StatusParseError` without a TOTAL NONRESETTABLE line."""
    match = _HQOD_TOTAL.search(reply)
    if match is None:
        raise StatusParseError(f"~HQOD reply lacks TOTAL NONRESETTABLE: {reply!r}")
    unit: Literal["in", "cm"] = "cm" if (match.group(2) or b"").lower() == b"cm" else "in"
    users = tuple(int(value) for _, value in _HQOD_USER.findall(reply))
    return LengthOdometer(total=int(match.group(1)), unit=unit, user_counters=users)


def sgd_complete(reply: bytes) -> bool:
    """True once an SGD getvar reply holds a quoted value."""
    return _SGD_VALUE.search(reply) is not None


def parse_sgd_int(reply: bytes) -> int | None:
    """The integer in an SGD reply (``"48213"``); None when the printer does not know the variable (``"?"``).

    Raises :class:`StatusParseError` when there is no quoted value at all.
    """
    matches = _SGD_VALUE.findall(reply)
    if not matches:
        raise StatusParseError(f"SGD reply has no quoted value: {reply!r}")
    value = matches[-1].strip()
    if not value.isdigit():
        return None
    return int(value)


@dataclass(frozen=True)
class PrinterStatus:
    """What the station needs to know before sending a job.

    ``ready`` is True only when the printer answered and reported no condition that stops printing.
    ``reasons`` lists why not (codes, see the module docstring); ``warnings`` lists ``~HQES`` warnings when
    that query was made. ``odometer`` is the label counter (labels, or printed length for ``~HQOD``
    printers), None when it could not be read. ``host`` and ``extended`` keep the parsed replies.
    """

    ready: bool
    reasons: list[str]
    odometer: int | None = None
    warnings: list[str] = field(default_factory=list)
    busy: bool = False
    host: HostStatus | None = None
    extended: ExtendedStatus | None = None
