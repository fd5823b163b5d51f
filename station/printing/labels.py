"""What goes on an order's label, taken from the order, and the label as ZPL or as a PNG preview.

`label_fields` maps an `Order` (and the hub's document it carries) to `LabelFields`: carrier name, waybill,
order id, recipient name and phone, the Chinese address, a gift mark when any line is a gift, and the
priority mark. `LabelMaker` hands them to the renderer (`ports.LabelRendering`, i.e. `drivers.printers`)
with the site's template, Chinese-text mode and privacy masks from `PrintingSettings`.
"""

import dataclasses
from dataclasses import dataclass
from typing import Any

from station.orders.model import Order
from station.printing.errors import LabelDataError, PreviewUnavailable
from station.printing.jobs import JobKind
from station.printing.ports import LabelRendering
from station.printing.settings import PrintingSettings

PRIORITY_LEVELS = ("S", "A", "B", "C")


@dataclass(frozen=True, slots=True)
class LabelFields:
    """One label's content, handed to the renderer as its `LabelData(**fields)`.

    The fields are those of `drivers.printers.LabelData`, declared here because the core imports no driver;
    `test_label_fields_are_the_fields_of_the_renderers_label_data` keeps the two the same.
    """

    order_id: str
    carrier: str
    waybill_no: str
    recipient_name: str
    recipient_phone: str
    province: str = ""
    city: str = ""
    district: str = ""
    street: str = ""
    gift: bool = False
    priority: str | None = None
    sscc: str | None = None
    remark: str = ""


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def label_fields(order: Order, settings: PrintingSettings, *, kind: JobKind = JobKind.LABEL) -> LabelFields:
    """The label content of `order`; raises `LabelDataError` when the order cannot have one (no waybill)."""
    if not order.waybill_no:
        raise LabelDataError(f"order {order.order_id} has no waybill number")
    document = order.document
    customer = document.get("customer") or {}
    address = customer.get("address") or {}
    carrier_code = (order.carrier or _text(document.get("carrier"))).upper()
    sscc = _text(document.get("sscc")) or None
    if kind is JobKind.SSCC and sscc is None:
        raise LabelDataError(f"order {order.order_id} carries no SSCC")
    level = order.priority if order.priority in PRIORITY_LEVELS else None
    return LabelFields(
        order_id=order.order_id,
        carrier=settings.carrier_names.get(carrier_code, carrier_code),
        waybill_no=order.waybill_no,
        recipient_name=_text(customer.get("name")),
        recipient_phone=_text(customer.get("phone")),
        province=_text(address.get("province")),
        city=_text(address.get("city")),
        district=_text(address.get("district")),
        street=_text(address.get("street")),
        gift=any(line.is_gift for line in order.lines),
        priority=level if level in settings.priority_marks else None,
        sscc=sscc if kind is JobKind.SSCC else None,
    )


class LabelMaker:
    """Renders labels with the site's settings through a `LabelRendering` (the `drivers.printers` module)."""

    def __init__(self, settings: PrintingSettings, rendering: LabelRendering) -> None:
        """Use `rendering` with `settings` (template, CJK mode, masks)."""
        self.settings = settings
        self._rendering = rendering

    def zpl(self, fields: LabelFields, kind: JobKind = JobKind.LABEL) -> str:
        """The ZPL of one label; raises `LabelDataError` when the renderer refuses the data or the template."""
        settings = self.settings
        r = self._rendering
        try:
            data = r.LabelData(**dataclasses.asdict(fields))
            return r.render_label(
                data,
                settings.sscc_template if kind is JobKind.SSCC else settings.template,
                settings.cjk,
                mask_phone_number=settings.mask_phone,
                mask_recipient_name=settings.mask_name,
                printer_font=settings.printer_font,
                font_path=settings.cjk_font,
            )
        except (r.PrinterError, OSError, ValueError) as err:
            # The renderer's messages name the field or template line, never the phone number itself.
            raise LabelDataError(f"label for order {fields.order_id}: {err}") from err

    def zpl_for_order(self, order: Order, kind: JobKind = JobKind.LABEL) -> str:
        """The ZPL of an order's label (shipping label for `label` and `reprint`, or its SSCC label)."""
        return self.zpl(label_fields(order, self.settings, kind=kind), kind)

    def png(self, zpl: str) -> bytes:
        """A PNG picture of a label; `PreviewUnavailable` without the renderer, `LabelDataError` for bad ZPL."""
        r = self._rendering
        try:
            return r.render_png(zpl)
        except r.RendererUnavailable as err:
            raise PreviewUnavailable(str(err)) from err
        except (r.PrinterError, ValueError) as err:
            raise LabelDataError(f"label preview: {err}") from err


def label_preview_png(order: Order, maker: LabelMaker, printed_zpl: str | None = None) -> bytes:
    """An order's label as PNG: the label last sent to the printer when given, else made from the order now.

    Rendered on this machine, never by an online service. Raises `PreviewUnavailable` (the renderer is an
    optional extra that is not installed; the message says how to install it) or `LabelDataError`.
    """
    return maker.png(printed_zpl if printed_zpl is not None else maker.zpl_for_order(order))
