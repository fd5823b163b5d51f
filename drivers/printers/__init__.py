"""Label printers: ZPL over TCP 9100, the USB printer class device, serial, and a virtual printer.

The API the station uses::

    printer = open_printer("tcp://10.0.0.5:9100")          # or usb:///dev/usb/lp0, serial:///dev/ttyUSB0,
    status = printer.status()                              #    sim://?paper_out=1 (see ``factory``)
    zpl = render_label(LabelData(...), cjk="raster")       # template -> ZPL (see ``labels``)
    result = printer.print_job("job-42", zpl)              # done / failed / unknown, never resent
    png = render_png(zpl)                                  # preview (needs the optional renderer)

All calls block (give them the printer thread); every exchange has a timeout. :class:`JobResult` says
whether the label came out, judged by the printer's label counter, and whether the job was sent at all.
The virtual printer runs in-process (``sim://``) or on a TCP port: ``python -m drivers.printers.virtual``
(or ``drivers.printers.virtual.VirtualPrinterServer``, not imported here so that ``-m`` runs it cleanly).
"""

from drivers.printers.errors import (
    FontNotFoundError,
    LabelRenderError,
    PrinterConfigError,
    PrinterConnectError,
    PrinterError,
    PrinterTransferError,
    RendererUnavailable,
    TemplateError,
)
from drivers.printers.factory import open_printer
from drivers.printers.label_data import LabelData, mask_name, mask_phone, sscc_check_digit, sscc_with_check_digit
from drivers.printers.labels import BUILTIN_TEMPLATES, SECTION_NAMES, VALUE_NAMES, load_template, render_label
from drivers.printers.preview import render_png, renderer_available
from drivers.printers.printer import JobResult, Printer, PrinterOptions
from drivers.printers.raster import find_cjk_font
from drivers.printers.sim import Faults, SimTransport, VirtualJob, VirtualPrinterEngine
from drivers.printers.status import ExtendedStatus, HostStatus, PrinterStatus
from drivers.printers.template import Template
from drivers.printers.transport import Transport

__all__ = [
    "BUILTIN_TEMPLATES",
    "SECTION_NAMES",
    "VALUE_NAMES",
    "ExtendedStatus",
    "Faults",
    "FontNotFoundError",
    "HostStatus",
    "JobResult",
    "LabelData",
    "LabelRenderError",
    "Printer",
    "PrinterConfigError",
    "PrinterConnectError",
    "PrinterError",
    "PrinterOptions",
    "PrinterStatus",
    "PrinterTransferError",
    "RendererUnavailable",
    "SimTransport",
    "Template",
    "TemplateError",
    "Transport",
    "VirtualJob",
    "VirtualPrinterEngine",
    "find_cjk_font",
    "load_template",
    "mask_name",
    "mask_phone",
    "open_printer",
    "render_label",
    "render_png",
    "renderer_available",
    "sscc_check_digit",
    "sscc_with_check_digit",
]
