"""Label printing at the station: the persistent print queue, its worker, auto-print on `packed`, the
printer's confirmation for the `labeled` guard, audited reprints, and label previews.

A core package: it talks to printers through `ports.LabelPrinter` and renders through
`ports.LabelRendering`; the composition root passes `drivers.printers` objects in.
"""

from station.printing.actions import enqueue_label, reprint_in, request_reprint, resolve_unknown
from station.printing.alert_policy import Alert
from station.printing.errors import LabelDataError, PreviewUnavailable, PrintingError
from station.printing.jobs import DEFAULT_PRINTER, JobKind, JobState, LabelEvent, PrintJob, PrintRequest
from station.printing.labels import LabelFields, LabelMaker, label_fields, label_preview_png
from station.printing.messages import MESSAGES
from station.printing.ports import JobReport, LabelPrinter, LabelRendering, PrinterState
from station.printing.queue import PrintConfirmation, jobs_for_order, label_printed
from station.printing.settings import PrintingSettings
from station.printing.worker import PrintWorker

__all__ = [
    "DEFAULT_PRINTER",
    "MESSAGES",
    "Alert",
    "JobKind",
    "JobReport",
    "JobState",
    "LabelDataError",
    "LabelEvent",
    "LabelFields",
    "LabelMaker",
    "LabelPrinter",
    "LabelRendering",
    "PreviewUnavailable",
    "PrintConfirmation",
    "PrintJob",
    "PrintRequest",
    "PrintWorker",
    "PrinterState",
    "PrintingError",
    "PrintingSettings",
    "enqueue_label",
    "jobs_for_order",
    "label_fields",
    "label_preview_png",
    "label_printed",
    "reprint_in",
    "request_reprint",
    "resolve_unknown",
]
