"""The virtual printer: a ZPL printer in software, with the faults real ones have.

:class:`VirtualPrinterEngine` is the printer itself. It reads a byte stream like the firmware does (control
commands ``~HS``, ``~HQES``, ``~HQOD``, ``~HI``, ``~JA``; SGD lines ``! U1 getvar/setvar``; formats
``^XA ... ^XZ``), answers queries, keeps every job it received, prints the complete ones (its label counter
only moves when a label really "came out"), and can write each job as ``.zpl`` and ``.png`` into a folder.
It is driven in-process through :class:`SimTransport` (``sim://``) or over TCP by ``virtual.py``.

Fault knobs (:class:`Faults`; URL options of ``sim://``, flags of the TCP server, or at run time with
:meth:`VirtualPrinterEngine.set_fault` or the SGD line ``! U1 setvar "sim.paper_out" "1"``):

- ``paper_out``, ``head_open``, ``paused``: ``~HS``/``~HQES`` report it and nothing prints; jobs received
  meanwhile wait in the buffer and print when the fault clears (as on a real printer);
- ``paper_left=N``: the roll holds N more labels (-1: endless). The label after the last one finds no
  paper: ``paper_out`` turns on with that job waiting in the buffer, the way paper runs out mid-job.
  Clearing ``paper_out`` is a reload and makes the roll endless again;
- ``quiet_on_error``: like newer firmware, no ``~HS`` answer at all while paper is out or the head open;
- ``no_answer``: a hung printer: accepts connections and data, answers nothing, prints nothing;
- ``slow_ms``: every answer comes this late, and each label takes this long to print;
- ``drop_mid_job=N``: the next N jobs are cut off halfway through arriving (the link is reset). A format
  without its ``^XZ`` never prints, so these jobs are kept as ``partial`` and the counter does not move;
- ``drop_after_print=N``: the next N jobs arrive whole and print, then the link is reset before the sender
  hears back: the counter moves, and the sender must find out from it that the label came out;
- ``print_ms``: how long one label takes to print (0: at once).
"""

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

from drivers.printers.errors import PrinterConfigError, PrinterTransferError
from drivers.printers.transport import ReplyComplete, log_in, log_out
from drivers.printers.zpl import count_labels, job_id_of

logger = logging.getLogger(__name__)

_DOTS_PER_INCH = 203
_SGD = re.compile(rb'!\s*U1\s+(getvar|setvar|do)\s+"([^"]*)"(?:\s+"([^"]*)")?', re.IGNORECASE)
_MODEL = b"VIRTUAL-203dpi,V1.0.0,8,8192KB"


@dataclass
class Faults:
    """The virtual printer's fault knobs (see the module docstring)."""

    paper_out: bool = False
    head_open: bool = False
    paused: bool = False
    paper_left: int = -1
    quiet_on_error: bool = False
    no_answer: bool = False
    slow_ms: float = 0.0
    drop_mid_job: int = 0
    drop_after_print: int = 0
    print_ms: float = 0.0


FAULT_NAMES = tuple(f.name for f in fields(Faults))

JobState = Literal["partial", "queued", "printed", "cancelled"]


@dataclass
class VirtualJob:
    """One format the virtual printer received: whole (``queued``, then ``printed`` or ``cancelled``) or cut
    off (``partial``, never printed)."""

    seq: int
    job_id: str | None
    zpl: bytes
    link: int
    state: JobState
    labels: int
    received_at: float
    ready_at: float = 0.0
    printed_at: float | None = None
    files: list[Path] = field(default_factory=list)


@dataclass
class LinkOutput:
    """What the printer does in answer to bytes it was fed: replies (after ``delay_s``), and whether it
    resets the link."""

    replies: list[bytes] = field(default_factory=list)
    delay_s: float = 0.0
    drop: bool = False

    @property
    def data(self) -> bytes:
        """All replies, joined."""
        return b"".join(self.replies)


class VirtualLink:
    """One conversation with the virtual printer (a TCP connection, or one simulated exchange)."""

    def __init__(self, engine: "VirtualPrinterEngine", number: int) -> None:
        """Start an empty conversation; use :meth:`VirtualPrinterEngine.open_link`."""
        self._engine = engine
        self.number = number
        self._buffer = bytearray()
        self._format: bytearray | None = None
        self._cut_format = False
        self._dropped = False

    def feed(self, data: bytes) -> LinkOutput:
        """Process bytes as they arrive; returns the printer's answers and whether it drops the link."""
        output = LinkOutput()
        if self._dropped:
            return output
        finished: list[VirtualJob] = []
        with self._engine.lock:
            self._buffer += data
            self._engine.advance()
            self._process(output, finished)
            if output.replies:
                output.delay_s = self._engine.faults.slow_ms / 1000
        for job in finished:
            self._engine.store(job)
        return output

    def close(self) -> None:
        """The link ended; a format left open is kept as ``partial`` and never prints."""
        if self._format is not None and not self._dropped:
            job = self._engine.record_partial(bytes(self._format), self.number)
            self._format = None
            self._engine.store(job)

    def _process(self, output: LinkOutput, finished: list[VirtualJob]) -> None:
        engine = self._engine
        while self._buffer and not output.drop:
            if self._format is not None:
                if not self._process_format(output, finished):
                    return
                continue
            head = bytes(self._buffer[:1])
            if head in (b"\r", b"\n", b" ", b"\t"):
                del self._buffer[:1]
            elif head == b"~":
                if not self._process_control(output):
                    return
            elif head == b"!":
                end = self._buffer.find(b"\n")
                if end < 0:
                    return
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                self._reply(output, engine.sgd(line))
            elif self._buffer.startswith(b"^XA"):
                del self._buffer[:3]
                self._format = bytearray(b"^XA")
                if engine.faults.drop_mid_job > 0:
                    engine.faults.drop_mid_job -= 1
                    self._cut_format = True
            elif len(self._buffer) < 3 and b"^XA".startswith(bytes(self._buffer)):
                return
            else:
                # Anything else outside a format (a stray ^XZ, noise) is ignored, as the firmware does.
                del self._buffer[:1]

    def _process_format(self, output: LinkOutput, finished: list[VirtualJob]) -> bool:
        """Consume format bytes; False when more bytes are needed."""
        assert self._format is not None
        end = self._buffer.find(b"^XZ")
        tilde = self._buffer.find(b"~")
        if self._cut_format:
            # Cut the job off halfway through what arrived of it: the rest never reaches the printer.
            available = end + 3 if end >= 0 else len(self._buffer)
            self._format += self._buffer[: max(available // 2, 1)]
            job = self._engine.record_partial(bytes(self._format), self.number)
            finished.append(job)
            self._format = None
            self._buffer.clear()
            self._cut_format = False
            self._dropped = True
            output.drop = True
            return False
        if tilde >= 0 and (end < 0 or tilde < end):
            # Control commands act at once, even in the middle of a format.
            self._format += self._buffer[:tilde]
            del self._buffer[:tilde]
            return self._process_control(output)
        if end < 0:
            keep = 2  # "^X" may be the start of a "^XZ" split across reads
            self._format += self._buffer[:-keep] if len(self._buffer) > keep else b""
            del self._buffer[: max(len(self._buffer) - keep, 0)]
            return False
        self._format += self._buffer[: end + 3]
        del self._buffer[: end + 3]
        job = self._engine.record_complete(bytes(self._format), self.number)
        finished.append(job)
        self._format = None
        if self._engine.faults.drop_after_print > 0:
            self._engine.faults.drop_after_print -= 1
            self._engine.advance()
            self._dropped = True
            output.drop = True
            self._buffer.clear()
        return True

    def _process_control(self, output: LinkOutput) -> bool:
        if len(self._buffer) < 3:
            return False
        name = bytes(self._buffer[1:3]).upper()
        length = 5 if name == b"HQ" else 3
        if len(self._buffer) < length:
            return False
        command = bytes(self._buffer[:length]).upper()
        del self._buffer[:length]
        self._reply(output, self._engine.control(command, partial_format=self._format is not None))
        return True

    def _reply(self, output: LinkOutput, reply: bytes | None) -> None:
        if reply is not None and not self._engine.faults.no_answer:
            output.replies.append(reply)


class VirtualPrinterEngine:
    """The virtual printer's state: faults, jobs, buffer and label counter. Thread-safe."""

    def __init__(
        self,
        faults: Faults | None = None,
        *,
        directory: str | Path | None = None,
        render_png: bool = True,
        odometer_start: int = 0,
        label_length_dots: int = 1218,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Make a printer with paper loaded and an empty buffer.

        ``directory``: write each job there as ``NNNNN-<job id>.zpl`` (and ``.png`` when ``render_png`` and
        the renderer is installed); partial jobs as ``.partial.zpl``. ``odometer_start`` is the counter's
        value before the first label.
        """
        self.faults = faults or Faults()
        self.lock = threading.RLock()
        self._directory = Path(directory) if directory else None
        if self._directory:
            self._directory.mkdir(parents=True, exist_ok=True)
        self._render_png = render_png
        self._odometer_start = odometer_start
        self._label_length_dots = label_length_dots
        self._clock = clock
        self._jobs: list[VirtualJob] = []
        self._links = 0
        self._printed_labels = 0
        self._last_ready = 0.0
        self._render_warned = False

    # ------------------------------------------------------------------------------ public view

    def open_link(self) -> VirtualLink:
        """Start a conversation (one TCP connection, or one simulated exchange)."""
        with self.lock:
            self._links += 1
            return VirtualLink(self, self._links)

    def set_fault(self, name: str, value: str | float | bool) -> None:
        """Set a fault knob by name; strings are read as the URL options are (``"1"``, ``"true"``, ``"200"``)."""
        if name not in FAULT_NAMES:
            raise PrinterConfigError(f"unknown fault {name!r} (faults: {', '.join(FAULT_NAMES)})")
        current = getattr(self.faults, name)
        with self.lock:
            self.advance()
            if isinstance(current, bool):
                setattr(self.faults, name, _truthy(value))
                if name == "paper_out" and not self.faults.paper_out and self.faults.paper_left == 0:
                    self.faults.paper_left = -1  # a reload is a new roll
            elif isinstance(current, int):
                setattr(self.faults, name, int(float(value)))
            else:
                setattr(self.faults, name, float(value))
            self.advance()

    @property
    def jobs(self) -> list[VirtualJob]:
        """Every job received, in order (a copy)."""
        with self.lock:
            self.advance()
            return list(self._jobs)

    @property
    def odometer(self) -> int:
        """The label counter: labels printed since the printer was made, plus ``odometer_start``."""
        with self.lock:
            self.advance()
            return self._odometer_start + self._printed_labels

    def printed_job_ids(self) -> list[str | None]:
        """The job id of each printed label, in print order; a duplicate label shows as a repeated id."""
        with self.lock:
            self.advance()
            printed = sorted((j for j in self._jobs if j.state == "printed"), key=lambda j: j.printed_at or 0)
            return [job.job_id for job in printed for _ in range(job.labels)]

    def cancel_all(self) -> int:
        """What ``~JA`` does: drop every format waiting in the buffer; returns how many."""
        with self.lock:
            self.advance()
            waiting = [job for job in self._jobs if job.state == "queued"]
            for job in waiting:
                job.state = "cancelled"
            return len(waiting)

    # --------------------------------------------------------------------------- the firmware

    def can_print(self) -> bool:
        """True when nothing stops the print engine."""
        f = self.faults
        return not (f.paper_out or f.head_open or f.paused or f.no_answer)

    def advance(self) -> None:
        """Print what is due: queued jobs whose print time has come, while nothing stops the printer."""
        if not self.can_print():
            return
        now = self._clock()
        faults = self.faults
        for job in self._jobs:
            if job.state != "queued" or job.ready_at > now:
                continue
            if faults.paper_left == 0:
                faults.paper_out = True
                logger.info("virtual printer: paper ran out with job %s (%s) waiting", job.seq, job.job_id)
                return
            job.state = "printed"
            job.printed_at = now
            self._printed_labels += job.labels
            if faults.paper_left > 0:
                faults.paper_left = max(faults.paper_left - job.labels, 0)

    def record_complete(self, zpl: bytes, link: int) -> VirtualJob:
        """Queue a whole format for printing."""
        now = self._clock()
        duration = (self.faults.print_ms + self.faults.slow_ms) / 1000
        ready_at = max(now, self._last_ready) + duration
        self._last_ready = ready_at
        job = VirtualJob(len(self._jobs) + 1, job_id_of(zpl), zpl, link, "queued", count_labels(zpl), now, ready_at)
        self._jobs.append(job)
        self.advance()
        logger.info("virtual printer: job %s (%s) received", job.seq, job.job_id)
        return job

    def record_partial(self, zpl: bytes, link: int) -> VirtualJob:
        """Keep a format cut off before its ``^XZ``; it never prints."""
        with self.lock:
            job = VirtualJob(len(self._jobs) + 1, job_id_of(zpl), zpl, link, "partial", 0, self._clock())
            self._jobs.append(job)
        logger.info("virtual printer: job %s (%s) cut off after %d bytes", job.seq, job.job_id, len(zpl))
        return job

    def store(self, job: VirtualJob) -> None:
        """Write a job's ZPL (and PNG) into the directory, if there is one. Never raises."""
        if self._directory is None:
            return
        stem = f"{job.seq:05d}-{_file_safe(job.job_id or 'nojob')}"
        suffix = ".partial.zpl" if job.state == "partial" else ".zpl"
        try:
            zpl_path = self._directory / (stem + suffix)
            zpl_path.write_bytes(job.zpl)
            job.files.append(zpl_path)
            if job.state != "partial" and self._render_png:
                self._store_png(job, self._directory / (stem + ".png"))
        except OSError as err:
            logger.warning("virtual printer: cannot store job %s: %s", job.seq, err)

    def _store_png(self, job: VirtualJob, path: Path) -> None:
        from drivers.printers.preview import render_png  # noqa: PLC0415 - preview imports this module's peers

        try:
            path.write_bytes(render_png(job.zpl))
            job.files.append(path)
        except Exception as err:  # a preview problem must never stop the printer
            if not self._render_warned:
                logger.warning("virtual printer: no PNG for job %s: %s", job.seq, err)
                self._render_warned = True

    def control(self, command: bytes, *, partial_format: bool = False) -> bytes | None:
        """Answer a ``~`` control command (None: no answer)."""
        if command == b"~HS":
            return self._host_status(partial_format)
        if command == b"~HQES":
            return self._error_status()
        if command == b"~HQOD":
            return self._length_odometer()
        if command == b"~HI":
            return b"\x02" + _MODEL + b"\x03\r\n"
        if command == b"~JA":
            cancelled = self.cancel_all()
            logger.info("virtual printer: ~JA cancelled %d waiting job(s)", cancelled)
        return None

    def sgd(self, line: bytes) -> bytes | None:
        """Answer an SGD line (``! U1 getvar "name"``); ``setvar "sim.<fault>"`` sets a fault knob."""
        match = _SGD.search(line)
        if match is None:
            return None
        verb, name, value = match.group(1).lower(), match.group(2).decode("ascii", "replace"), match.group(3)
        if verb == b"getvar":
            return b'"' + self._getvar(name).encode("ascii") + b'"'
        if verb == b"setvar" and name.startswith("sim.") and value is not None:
            try:
                self.set_fault(name[4:], value.decode("ascii", "replace"))
            except (PrinterConfigError, ValueError) as err:
                logger.warning("virtual printer: %s", err)
        return None

    def _getvar(self, name: str) -> str:
        if name == "odometer.total_label_count":
            return str(self._odometer_start + self._printed_labels)
        if name.startswith("sim.") and name[4:] in FAULT_NAMES:
            return str(getattr(self.faults, name[4:]))
        return "?"

    def _host_status(self, partial_format: bool) -> bytes | None:
        f = self.faults
        if f.quiet_on_error and (f.paper_out or f.head_open):
            return None
        queued = [job for job in self._jobs if job.state == "queued"]
        labels = sum(job.labels for job in queued)
        one = (
            f"030,{int(f.paper_out)},{int(f.paused)},{self._label_length_dots:04d},{len(queued):03d},0,0,"
            f"{int(partial_format)},000,0,0,0"
        )
        two = f"001,0,{int(f.head_open)},0,0,2,6,0,{labels:08d},1,000"
        return b"".join(b"\x02" + frame.encode("ascii") + b"\x03\r\n" for frame in (one, two, "1234,0"))

    def _error_status(self) -> bytes:
        f = self.faults
        mask = (0x1 if f.paper_out else 0) | (0x4 if f.head_open else 0) | (0x10000 if f.paused else 0)
        return (
            b"\x02\r\n  PRINTER STATUS                    \r\n"
            + f"   ERRORS:         {1 if mask else 0} 00000000 {mask:08X}\r\n".encode("ascii")
            + b"   WARNINGS:       0 00000000 00000000\r\n\x03\r\n"
        )

    def _length_odometer(self) -> bytes:
        inches = self._printed_labels * self._label_length_dots // _DOTS_PER_INCH
        lines = [
            "  PRINT METERS",
            f'   TOTAL NONRESETTABLE:       {inches:6d} "',
            f'   USER RESETTABLE CNTR1:     {inches:6d} "',
            f'   USER RESETTABLE CNTR2:     {inches:6d} "',
        ]
        return b"\x02\r\n" + "\r\n".join(lines).encode("ascii") + b"\r\n\x03\r\n"


def _truthy(value: str | float | bool) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _file_safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:64]


class SimTransport:
    """The ``sim://`` transport: exchanges go straight into a :class:`VirtualPrinterEngine` in this process."""

    def __init__(self, engine: VirtualPrinterEngine, name: str = "sim") -> None:
        """Talk to ``engine``; ``engine`` is public so tests and demos can turn its knobs."""
        self.engine = engine
        self.description = f"sim://{name}"

    def _exchange(self, request: bytes, timeout_s: float) -> LinkOutput:
        link = self.engine.open_link()
        log_out(self.description, request)
        output = link.feed(request)
        link.close()
        if output.delay_s:
            # The slow printer: the sender waits, but never past its own timeout.
            time.sleep(min(output.delay_s, timeout_s))
        return output

    def query(self, request: bytes, complete: ReplyComplete, timeout_s: float) -> bytes:
        """Ask the virtual printer (see :class:`Transport`)."""
        output = self._exchange(request, timeout_s)
        if output.delay_s > timeout_s:
            return b""
        log_in(self.description, output.data)
        return output.data

    def send(self, payload: bytes, timeout_s: float) -> None:
        """Give the virtual printer a job (see :class:`Transport`)."""
        output = self._exchange(payload, timeout_s)
        if output.drop:
            raise PrinterTransferError(f"{self.description}: the printer reset the link", bytes_sent=len(payload))

    def close(self) -> None:
        """Nothing to release."""
