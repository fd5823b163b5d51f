"""What a print job is: its states and kinds, its row, the events it writes, and the answer to a request.

A job moves ``queued → sending → done | failed | unknown`` (`JobState`); what it prints is a `JobKind`. The
events of the print queue are the `LabelEvent` types; who writes them on the printer's own behalf is
`printer_actor`.
"""

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from station.events import Actor
from station.orders.model import Role, Status

DEFAULT_PRINTER = "printer"
MAX_DETAIL = 300  # a printer's free text is for people; keep events small


class LabelEvent:
    """Event types of the print queue."""

    QUEUED = "label.queued"
    SENDING = "label.sending"
    PRINTED = "label.printed"
    FAILED = "label.failed"
    UNKNOWN = "label.unknown"
    REPRINT_REQUESTED = "label.reprint_requested"


class JobState(StrEnum):
    """Where a print job is."""

    QUEUED = "queued"
    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"


class JobKind(StrEnum):
    """What a print job prints."""

    LABEL = "label"  # the order's shipping label, printed once
    REPRINT = "reprint"  # the shipping label again, on an audited request
    SSCC = "sscc"  # a GS1-128 pallet/carton label (AI 00)


REPRINT_ROLES = (Role.SUPERVISOR, Role.HUB)
# A reprint for an order in these states: a label on a box that is still here.
REPRINTABLE_STATUSES = (Status.PACKED, Status.LABELED)

# Columns of `print_jobs` that `PrintJob.as_dict` leaves out: the row number, and the ZPL (large, and it may
# carry the recipient's details).
_NOT_SHOWN = frozenset({"job_no", "zpl"})


@dataclass(frozen=True, slots=True)
class PrintJob:
    """One row of the print queue (the fields are the columns of `print_jobs`)."""

    job_no: int
    job_id: str
    printer: str
    order_id: str | None
    kind: JobKind
    state: JobState
    zpl: str | None
    labels: int
    attempts: int
    retryable: bool
    reason: str | None
    detail: str | None
    odometer_before: int | None
    odometer_after: int | None
    requested_by: str | None
    requested_role: str | None
    request_reason: str | None
    created_at_ms: int
    updated_at_ms: int
    sent_at_ms: int | None
    finished_at_ms: int | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "PrintJob":
        """Build from a `print_jobs` row."""
        columns = {field.name: row[field.name] for field in dataclasses.fields(cls)}
        typed = {"kind": JobKind(row["kind"]), "state": JobState(row["state"]), "retryable": bool(row["retryable"])}
        return cls(**(columns | typed))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view without the ZPL (for the API and logs), in column order."""
        shown = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in _NOT_SHOWN}
        return shown | {"kind": self.kind.value, "state": self.state.value}


@dataclass(frozen=True, slots=True)
class PrintRequest:
    """The answer to a print, reprint or resolve request: a job, or a refusal (recorded as an event)."""

    refusal: str | None
    job_id: str | None = None
    seq: int | None = None

    @property
    def ok(self) -> bool:
        """True when the request was accepted."""
        return self.refusal is None


_PQ = re.compile(r"\^PQ(\d+)")


def count_labels(zpl: str) -> int:
    """Labels a job prints: one per ``^XA ... ^XZ`` format, times its ``^PQ`` quantity (at least 1)."""
    total = 0
    for chunk in zpl.split("^XZ")[:-1]:
        if "^XA" not in chunk:
            continue
        quantity = _PQ.search(chunk)
        total += int(quantity.group(1)) if quantity else 1
    return max(total, 1)


def printer_actor(printer: str) -> Actor:
    """The actor of events the print worker writes on its own."""
    return Actor(role=Role.SYSTEM.value, device=printer)


def clip(text: str | None, limit: int = MAX_DETAIL) -> str | None:
    """Text shortened for an event or a row."""
    return None if text is None else text[:limit]
