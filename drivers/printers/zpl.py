"""Small ZPL helpers shared by the templates, the printer and the virtual printer: a command tokenizer,
job marking, label counting, text sanitising and the size estimates used to keep barcodes on the label.

Only the ZPL subset this package writes and reads is modelled: ``^`` format and ``~`` control commands with
two-letter names (``^FO``, ``^A0``, ``^A@``, ``^BC``...), parameters up to the next prefix. Changing the
prefixes with ``^CC``/``^CT`` is not supported.
"""

import math
import re
import unicodedata
from dataclasses import dataclass

from drivers.printers.errors import PrinterConfigError

#: The comment the printer adds to each job so the job id travels with the label (logs, virtual printer).
JOB_MARK = "^FXjob={job_id}^FS"
JOB_MARK_RE = re.compile(rb"\^FXjob=([^\^~]*)\^FS")

_COMMAND = re.compile(r"([\^~])([A-Za-z0-9@]{2})")
_PQ = re.compile(rb"\^PQ(\d+)")
_SAFE_JOB_ID = re.compile(r"[^A-Za-z0-9._:/-]")

#: Characters with a meaning in ZPL field data, and what they print as instead (full-width look-alikes).
_ZPL_SPECIAL = str.maketrans({"^": "\uff3e", "~": "\uff5e", "\\": "\uff3c"})


@dataclass(frozen=True)
class Command:
    """One ZPL command: its prefix (``^`` or ``~``), two-letter name, parameter text and where it starts."""

    prefix: str
    name: str
    params: str
    offset: int

    @property
    def args(self) -> list[str]:
        """The parameters split on commas."""
        return self.params.split(",")


def tokenize(zpl: str) -> list[Command]:
    """Split ZPL text into commands. Text before the first command is not returned."""
    matches = list(_COMMAND.finditer(zpl))
    commands = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(zpl)
        name = match.group(2).upper()
        commands.append(Command(match.group(1), name, zpl[match.end() : end], match.start()))
    return commands


def sanitize_text(value: str) -> str:
    """Make arbitrary text safe inside ``^FD``: drop control characters, replace ZPL's special characters.

    ``^`` and ``~`` would start a command and ``\\`` is the ``^FB`` line-break escape, so they become their
    full-width forms, which the CJK fonts print; the station's Latin fields (waybill, order id) are
    validated to never contain them.
    """
    cleaned = "".join(
        " " if ch in "\r\n\t" else ch for ch in value if unicodedata.category(ch)[0] != "C" or ch in "\r\n\t"
    )
    return cleaned.translate(_ZPL_SPECIAL)


def check_job(zpl: bytes) -> None:
    """Refuse a job that is not at least one complete ``^XA ... ^XZ`` format."""
    start = zpl.find(b"^XA")
    if start < 0 or zpl.rfind(b"^XZ") < start:
        raise PrinterConfigError("a print job must hold at least one complete ^XA ... ^XZ format")


def mark_job(zpl: bytes, job_id: str) -> bytes:
    """Insert the job mark comment right after the first ``^XA``."""
    safe_id = _SAFE_JOB_ID.sub("_", job_id)[:64]
    start = zpl.find(b"^XA") + 3
    return zpl[:start] + JOB_MARK.format(job_id=safe_id).encode("ascii") + zpl[start:]


def job_id_of(zpl: bytes) -> str | None:
    """The job id a marked job carries, if any."""
    match = JOB_MARK_RE.search(zpl)
    return match.group(1).decode("ascii", "replace") if match else None


def count_labels(zpl: bytes) -> int:
    """How many labels a job prints: one per format, times its ``^PQ`` quantity."""
    total = 0
    for chunk in zpl.split(b"^XZ")[:-1]:
        if b"^XA" not in chunk:
            continue
        quantity = _PQ.search(chunk)
        total += int(quantity.group(1)) if quantity else 1
    return total


# --------------------------------------------------------------------------------- size estimates

_CODE128_MODULES_PER_SYMBOL = 11
_CODE128_STOP_MODULES = 13


def code128_modules(data: str, *, gs1: bool = False) -> int:
    """Modules of a Code 128 symbol for ``data`` as ZPL's automatic mode encodes it (quiet zones excluded).

    Runs of four or more digits go in subset C (two digits per symbol), the rest in subset B; each switch
    costs a symbol. ``gs1`` adds the FNC1 after the start (GS1-128), and drops the parentheses around AIs.
    """
    if gs1:
        data = data.replace("(", "").replace(")", "")
    symbols = 1 + (1 if gs1 else 0)  # start (+ FNC1)
    index = 0
    subset = ""
    while index < len(data):
        run = len(data[index:]) - len(data[index:].lstrip("0123456789"))
        if run >= 4:
            pairs = run // 2
            symbols += pairs + (1 if subset not in ("C", "") else 0)
            subset = "C"
            index += pairs * 2
            continue
        symbols += 1 + (1 if subset not in ("B", "") else 0)
        subset = "B"
        index += 1
    symbols += 1  # check symbol
    return symbols * _CODE128_MODULES_PER_SYMBOL + _CODE128_STOP_MODULES


#: Byte-mode capacity of QR versions 1..10 at error correction level M; labels never need more.
_QR_BYTES_M = (14, 26, 42, 62, 84, 106, 122, 152, 180, 213)


def qr_modules(data: str) -> int:
    """Side length in modules of the QR code for ``data`` (byte mode, level M: an upper bound)."""
    size = len(data.encode("utf-8"))
    for version, capacity in enumerate(_QR_BYTES_M, start=1):
        if size <= capacity:
            return 17 + 4 * version
    return 17 + 4 * (len(_QR_BYTES_M) + math.ceil((size - _QR_BYTES_M[-1]) / 30))


def estimate_text_width(text: str, height: int, width: int | None = None) -> int:
    """Rough printed width of text in a scalable font: wide (CJK) characters are square, others narrower."""
    cell = width or height
    return round(sum(cell if unicodedata.east_asian_width(ch) in ("W", "F") else cell * 0.6 for ch in text))
