"""The printer package's exceptions.

Every error a caller of ``drivers.printers`` has to handle derives from one root::

    PrinterError
    ├── PrinterConfigError     a URL, option or label value that cannot work (also a ValueError)
    ├── PrinterConnectError    the printer could not be reached: nothing of the request was sent
    ├── PrinterTransferError   the link broke after sending began: the printer may have part or all of it
    ├── TemplateError          a label template is invalid (names the file, line and problem; also a ValueError)
    ├── LabelRenderError       a label cannot be made from this data (a field would fall off the label, ...)
    │   └── FontNotFoundError  no CJK font on this machine for the rasterised Chinese text
    └── RendererUnavailable    PNG preview needs an optional package that is not installed

:meth:`Printer.print_job` does not raise for printer trouble: it answers with a ``JobResult`` whose state
says what is known. The two transport errors are what transports raise to the ``Printer``; the distinction
between them is the whole point: only a :class:`PrinterConnectError` proves the printer never saw the job.
"""


class PrinterError(Exception):
    """Root of every exception raised by ``drivers.printers``."""


class PrinterConfigError(PrinterError, ValueError):
    """A printer URL, option or label value is invalid."""


class PrinterConnectError(PrinterError):
    """The printer could not be reached; no byte of the request left this machine."""


class PrinterTransferError(PrinterError):
    """The link failed after sending began; the printer may hold none, part or all of what was sent."""

    def __init__(self, message: str, *, bytes_sent: int) -> None:
        """Keep how many bytes were handed to the link before it failed."""
        super().__init__(message)
        self.bytes_sent = bytes_sent


class TemplateError(PrinterError, ValueError):
    """A label template is invalid; the message names the template, the line and the problem."""


class LabelRenderError(PrinterError):
    """A label cannot be produced from this data (a barcode wider than the label, an invalid SSCC, ...)."""


class FontNotFoundError(LabelRenderError):
    """No CJK font was found for rasterising Chinese text."""


class RendererUnavailable(PrinterError):
    """PNG rendering needs an optional package (``zplkit``, or Pillow) that is not installed here."""
