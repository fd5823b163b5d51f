"""The printing package's exceptions, one root::

    PrintingError
    ├── LabelDataError       this order cannot make a label (no waybill, a field the template refuses...)
    └── PreviewUnavailable   the PNG renderer is not installed here (the message says what to install)

Printer trouble is never raised: the queue records it as a job state. The API maps these to its answers.
"""


class PrintingError(Exception):
    """Root of the exceptions of `station.printing`."""


class LabelDataError(PrintingError):
    """A label cannot be made for this order; the message says why."""


class PreviewUnavailable(PrintingError):
    """Label preview needs the optional renderer, which is not installed; the message says how to get it."""
