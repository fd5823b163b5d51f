"""A label printer: status before every job, the job, then the label counter's word on what came out.

:meth:`Printer.print_job` never resends. It answers with a :class:`JobResult`:

- ``done``: the label counter moved by the job's labels (or, on a printer without a readable counter, the
  job went through whole and the printer reports no error: ``reason="unverified"``);
- ``failed``: nothing printed and nothing will: the job was never sent (``sent=False``: the printer was not
  ready, or unreachable), or it was sent, did not print, and was cancelled in the printer (``~JA``) before
  the counter was read again, so it cannot come out later by surprise;
- ``unknown``: the link broke or the printer stopped answering and the counter cannot tell. A person looks
  at the printer; a reprint is their explicit decision.

The flow of one job: ``~HS`` (no answer: ``~HQES`` says why; still nothing: not ready), the counter,
the job (half-closed, read to EOF), then polling ``~HS`` and the counter until the labels are counted, the
printer reports an error, or ``print_timeout_s`` passes. A printer that must be the station's alone: a
label printed by someone else in between moves the counter too.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from drivers.options import DeviceOptions
from drivers.printers.errors import PrinterConnectError, PrinterTransferError
from drivers.printers.status import (
    CMD_CANCEL_ALL,
    CMD_ERROR_STATUS,
    CMD_HOST_STATUS,
    CMD_LABEL_COUNT,
    CMD_ODOMETER_LENGTH,
    ExtendedStatus,
    PrinterStatus,
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
from drivers.printers.transport import Transport
from drivers.printers.zpl import check_job, count_labels, mark_job

logger = logging.getLogger(__name__)

JobState = Literal["done", "failed", "unknown"]
OdometerKind = Literal["labels", "length", "none"]


class PrinterOptions(DeviceOptions):
    """Timing and behaviour of a :class:`Printer` (URL query parameters or keyword arguments)."""

    timeout_s: float = Field(3.0, gt=0, description="Longest wait for the answer to one query.")
    send_timeout_s: float = Field(30.0, gt=0, description="Longest time to hand one job to the printer.")
    print_timeout_s: float = Field(20.0, gt=0, description="Longest wait for a sent job's labels to be counted.")
    poll_interval_s: float = Field(0.25, gt=0, description="Pause between status polls while a job prints.")
    settle_s: float = Field(1.0, ge=0, description="After cancelling, how long the counter may still move.")
    odometer: OdometerKind = Field(
        "labels",
        description="Label counter: 'labels' (SGD odometer.total_label_count, Link-OS), 'length' (~HQOD "
        "printed length, older printers), or 'none' (no verification).",
    )
    cancel_on_error: bool = Field(
        True, description="Cancel a sent job that did not print (~JA), so it cannot come out unnoticed later."
    )


@dataclass(frozen=True)
class JobResult:
    """What happened to one print job (see the module docstring for the states).

    ``reason`` is a code: ``not_ready`` (``detail`` lists the printer's reasons), ``no_answer``,
    ``unreachable``, ``busy``, ``transfer_broken``, ``printer_error``, ``timeout``, ``unverified``,
    ``printed_after_error``; None for a plain ``done``. ``odometer_before``/``odometer_after`` are the
    counter around the job (labels, or printed length with ``odometer=length``). ``sent`` is False only
    when no byte of the job left the station: such a job can be sent later without risk of a duplicate.
    """

    job_id: str
    state: JobState
    reason: str | None
    odometer_before: int | None
    odometer_after: int | None
    sent: bool
    labels_expected: int = 1
    detail: str = ""

    @property
    def labels_printed(self) -> int | None:
        """How far the counter moved during the job, when both readings exist (labels; with
        ``odometer=length`` it is printed length in the printer's units)."""
        if self.odometer_before is None or self.odometer_after is None:
            return None
        return self.odometer_after - self.odometer_before


class Printer:
    """One label printer behind a transport. Use from one thread; calls are serialised by a lock anyway."""

    def __init__(self, transport: Transport, options: PrinterOptions | None = None) -> None:
        """Wrap ``transport``; nothing is sent until the first call."""
        self.transport = transport
        self.options = options or PrinterOptions()
        self._lock = threading.RLock()
        # Set when the printer said it has no such counter ("?"), so polls stop asking for it.
        self._counter_unsupported = False

    @property
    def description(self) -> str:
        """Where the printer is (its transport's URL-like name)."""
        return self.transport.description

    def close(self) -> None:
        """Release the transport."""
        self.transport.close()

    # --------------------------------------------------------------------------------- status

    def status(self) -> PrinterStatus:
        """Ask the printer how it is: ``~HS``, ``~HQES`` when that says little, and the label counter."""
        with self._lock:
            return self._status(with_odometer=True)

    def odometer(self) -> int | None:
        """The label counter now, None when it cannot be read (see ``PrinterOptions.odometer``)."""
        with self._lock:
            try:
                return self._read_odometer()
            except PrinterConnectError as err:
                logger.info("%s: counter not read: %s", self.description, err)
                return None

    def cancel_all(self) -> None:
        """Cancel every format waiting in the printer (``~JA``), a partial one included.

        Raises :class:`PrinterConnectError` or :class:`PrinterTransferError` when the cancel may not have
        reached the printer.
        """
        with self._lock:
            logger.info("%s: cancelling all formats in the printer", self.description)
            # Sent like a job, not a query: a query hides link errors, and a lost cancel must not pass unseen.
            self.transport.send(CMD_CANCEL_ALL, self.options.timeout_s)

    def _status(self, *, with_odometer: bool) -> PrinterStatus:
        timeout = self.options.timeout_s
        try:
            reply = self.transport.query(CMD_HOST_STATUS, host_status_complete, timeout)
        except PrinterConnectError as err:
            logger.info("%s: unreachable: %s", self.description, err)
            return PrinterStatus(ready=False, reasons=["unreachable"])
        host = None
        reasons: list[str] = []
        if reply:
            try:
                host = parse_host_status(reply)
                reasons = host.reasons
            except StatusParseError as err:
                logger.warning("%s: unreadable ~HS reply: %s", self.description, err)
                reasons = ["garbled_reply"]
        extended = None
        warnings: list[str] = []
        if host is None or reasons:
            # Printers go silent on ~HS with media out or head open; ~HQES usually still says why.
            extended = self._error_status()
            if extended is not None:
                warnings = extended.warnings
                reasons = _merge(reasons, extended.errors)
            if host is None and not reasons:
                reasons = ["no_answer"]
        odometer = None
        if with_odometer and (host is not None or extended is not None):
            try:
                odometer = self._read_odometer()
            except PrinterConnectError:
                odometer = None
        status = PrinterStatus(
            ready=host is not None and not reasons,
            reasons=reasons,
            odometer=odometer,
            warnings=warnings,
            busy=host.busy if host is not None else False,
            host=host,
            extended=extended,
        )
        logger.debug("%s: status %s", self.description, status)
        return status

    def _error_status(self) -> ExtendedStatus | None:
        try:
            reply = self.transport.query(CMD_ERROR_STATUS, error_status_complete, self.options.timeout_s)
        except PrinterConnectError:
            return None
        if not reply:
            return None
        try:
            return parse_error_status(reply)
        except StatusParseError as err:
            logger.info("%s: unreadable ~HQES reply: %s", self.description, err)
            return None

    def _read_odometer(self) -> int | None:
        kind = self.options.odometer
        timeout = self.options.timeout_s
        if self._counter_unsupported:
            return None
        try:
            if kind == "labels":
                count = parse_sgd_int(self.transport.query(CMD_LABEL_COUNT, sgd_complete, timeout))
                if count is None:
                    self._counter_unsupported = True
                    logger.warning(
                        "%s: no odometer.total_label_count on this printer; jobs cannot be verified "
                        "(use odometer=length on printers without Link-OS)",
                        self.description,
                    )
                return count
            if kind == "length":
                return parse_length_odometer(
                    self.transport.query(CMD_ODOMETER_LENGTH, length_odometer_complete, timeout)
                ).total
        except StatusParseError as err:
            logger.info("%s: label counter unreadable: %s", self.description, err)
        return None

    # ----------------------------------------------------------------------------------- jobs

    def print_job(self, job_id: str, zpl: str | bytes) -> JobResult:
        """Print one job and say what is known about it afterwards; never resends (see module docstring).

        ``zpl`` must hold complete ``^XA ... ^XZ`` formats (a :class:`PrinterConfigError` otherwise). The job
        id is added to the first format as a ``^FXjob=...^FS`` comment, so it shows in the printer's
        traffic log and in the virtual printer's files.
        """
        payload = zpl.encode("utf-8") if isinstance(zpl, str) else zpl
        check_job(payload)
        payload = mark_job(payload, job_id)
        expected = count_labels(payload)
        with self._lock:
            started = time.monotonic()
            result = self._print(job_id, payload, expected)
            logger.info(
                "%s: job %s %s, reason %s, counter %s -> %s, %.1f s %s",
                self.description,
                job_id,
                result.state,
                result.reason,
                result.odometer_before,
                result.odometer_after,
                time.monotonic() - started,
                result.detail,
            )
            return result

    def _print(self, job_id: str, payload: bytes, expected: int) -> JobResult:
        status = self._status(with_odometer=True)
        if status.busy and status.ready:
            status = self._wait_idle()
        if not status.ready:
            alone = status.reasons[0] if len(status.reasons) == 1 else ""
            reason = alone if alone in ("no_answer", "unreachable", "busy") else "not_ready"
            return JobResult(
                job_id,
                "failed",
                reason,
                status.odometer,
                status.odometer,
                sent=False,
                labels_expected=expected,
                detail=",".join(status.reasons) if reason == "not_ready" else "",
            )
        before = status.odometer
        if before is None and self.options.odometer != "none":
            logger.warning("%s: label counter unreadable; job %s cannot be verified", self.description, job_id)
        try:
            self.transport.send(payload, self.options.send_timeout_s)
        except PrinterConnectError as err:
            return JobResult(
                job_id, "failed", "unreachable", before, before, sent=False, labels_expected=expected, detail=str(err)
            )
        except PrinterTransferError as err:
            logger.warning("%s: job %s transfer broke: %s", self.description, job_id, err)
            return self._verify(job_id, before, expected, broken=str(err))
        return self._verify(job_id, before, expected, broken=None)

    def _wait_idle(self) -> PrinterStatus:
        """Wait for formats already in the printer to finish, so the counter measures this job alone."""
        deadline = time.monotonic() + self.options.print_timeout_s
        status = self._status(with_odometer=True)
        while status.ready and status.busy and time.monotonic() < deadline:
            time.sleep(self.options.poll_interval_s)
            status = self._status(with_odometer=True)
        if status.busy:
            return PrinterStatus(False, ["busy"], status.odometer, status.warnings, True, status.host, status.extended)
        return status

    def _verify(self, job_id: str, before: int | None, expected: int, broken: str | None) -> JobResult:
        """After sending: poll until the counter shows the labels, the printer reports an error, or timeout."""

        def result(state: JobState, reason: str | None, after: int | None, detail: str = "") -> JobResult:
            return JobResult(job_id, state, reason, before, after, sent=True, labels_expected=expected, detail=detail)

        deadline = time.monotonic() + self.options.print_timeout_s
        status = self._status(with_odometer=True)
        while True:
            moved = None if before is None or status.odometer is None else status.odometer - before
            if moved is not None and self._labels_counted(moved, expected):
                return result("done", None if broken is None else "printed_after_error", status.odometer, broken or "")
            idle = status.host is not None and not status.reasons and not status.busy
            if before is None and idle and broken is None:
                return result("done", "unverified", None, "the printer has no readable label counter")
            link_down = status.reasons in (["no_answer"], ["unreachable"])
            if (status.reasons and not link_down) or time.monotonic() >= deadline:
                break
            time.sleep(self.options.poll_interval_s)
            status = self._status(with_odometer=True)
        return self._conclude(result, before, status, broken)

    def _conclude(
        self,
        result: "_ResultMaker",
        before: int | None,
        status: PrinterStatus,
        broken: str | None,
    ) -> JobResult:
        """The labels were not counted in time: cancel what may still be waiting, then read the counter."""
        reasons = ",".join(status.reasons)
        printer_error = (
            bool(status.reasons) and "no_answer" not in status.reasons and "unreachable" not in status.reasons
        )
        why = "printer_error" if printer_error else ("transfer_broken" if broken else "timeout")
        detail = "; ".join(part for part in (reasons, broken) if part)
        if before is None:
            return result("unknown", why, status.odometer, detail + "; no label counter to tell")
        if not self.options.cancel_on_error:
            return result("unknown", why, status.odometer, detail + "; the job may still print (cancel_on_error off)")
        try:
            self.cancel_all()
        except (PrinterConnectError, PrinterTransferError) as err:
            return result("unknown", why, status.odometer, f"{detail}; the cancel may not have arrived: {err}")
        # A label that was on its way when the cancel arrived still finishes and is counted: wait for it.
        after = self._read_odometer_quietly()
        settle_until = time.monotonic() + self.options.settle_s
        while time.monotonic() < settle_until:
            time.sleep(min(self.options.poll_interval_s, self.options.settle_s))
            after = self._read_odometer_quietly()
        if after is None:
            return result("unknown", why, None, detail + "; the counter cannot be read after cancelling")
        if after > before:
            return result("done", "printed_after_error", after, detail)
        return result("failed", why, after, detail + "; cancelled in the printer, the counter did not move")

    def _labels_counted(self, moved: int, expected: int) -> bool:
        if self.options.odometer == "length":
            return moved > 0  # printed length: any movement means paper went through
        if moved > expected:
            logger.warning("%s: counter moved by %d for a %d-label job", self.description, moved, expected)
        return moved >= expected

    def _read_odometer_quietly(self) -> int | None:
        try:
            return self._read_odometer()
        except PrinterConnectError:
            return None


_ResultMaker = Callable[[JobState, str | None, int | None, str], JobResult]


def _merge(first: list[str], second: list[str]) -> list[str]:
    return first + [item for item in second if item not in first]
