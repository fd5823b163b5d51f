"""What the print queue needs from a label printer and from a label renderer, as small Protocols.

`drivers.printers` implements both: a `Printer` from `open_printer(url)` is a `LabelPrinter`, and the
`drivers.printers` module itself is a `LabelRendering`. The composition root passes them in, so this core
package never imports a device library.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol


class PrinterState(Protocol):
    """A printer's answer to a status query."""

    @property
    def ready(self) -> bool:
        """True when the printer answered and nothing stops it printing."""

    @property
    def reasons(self) -> Sequence[str]:
        """Why not ready: ``paper_out``, ``head_open``, ``no_answer``, ``unreachable``..."""

    @property
    def odometer(self) -> int | None:
        """The label counter, None when it could not be read."""

    @property
    def busy(self) -> bool:
        """True while formats wait in the printer or a batch is still printing."""


class JobReport(Protocol):
    """What a printer knows about one job after `print_job`."""

    @property
    def state(self) -> str:
        """``done``, ``failed`` or ``unknown``."""

    @property
    def reason(self) -> str | None:
        """A code: ``not_ready``, ``no_answer``, ``transfer_broken``, ``printer_error``, ``timeout``..."""

    @property
    def odometer_before(self) -> int | None:
        """The label counter before the job."""

    @property
    def odometer_after(self) -> int | None:
        """The label counter after the job."""

    @property
    def sent(self) -> bool:
        """False only when no byte of the job left the station (it may be sent again without a duplicate)."""

    @property
    def detail(self) -> str:
        """Free text for people (never a secret or a phone number)."""


class LabelPrinter(Protocol):
    """One label printer. Every call blocks: the print worker's thread is the only caller."""

    @property
    def description(self) -> str:
        """Where the printer is, for logs (``tcp://10.0.0.5:9100``)."""

    def status(self) -> PrinterState:
        """Ask the printer how it is (with its label counter)."""

    def odometer(self) -> int | None:
        """The label counter now, None when it cannot be read."""

    def print_job(self, job_id: str, zpl: str) -> JobReport:
        """Print one job once; never resends. Tells what the label counter says about it."""

    def cancel_all(self) -> None:
        """Drop every format waiting in the printer; raises when the cancel may not have arrived."""


class LabelRendering(Protocol):
    """Turning label data into ZPL and ZPL into a PNG picture (the `drivers.printers` module)."""

    # The module's classes: read-only members, so that the module's own subclasses of Exception fit.
    @property
    def LabelData(self) -> Any:
        """The label data class (keyword arguments: the fields of `labels.LabelFields`)."""

    @property
    def PrinterError(self) -> type[Exception]:
        """The root of the renderer's errors (a bad field value, template or font)."""

    @property
    def RendererUnavailable(self) -> type[Exception]:
        """Raised by `render_png` when the optional PNG renderer is not installed."""

    def render_label(
        self,
        data: Any,
        template: str,
        cjk: Literal["ci28", "raster"],
        *,
        mask_phone_number: bool,
        mask_recipient_name: bool,
        printer_font: str,
        font_path: str | Path | None,
    ) -> str:
        """The ZPL of one label."""

    def render_png(self, zpl: str) -> bytes:
        """A PNG picture of the first label in `zpl`; raises `RendererUnavailable` without the renderer."""
