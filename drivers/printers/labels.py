"""Shipping labels from :class:`LabelData`: pick a template, fill it, and make Chinese text printable.

Two ways to print Chinese (``cjk=``):

- ``"ci28"``: the printer draws the text with its own Unicode TrueType font (``printer_font``, by default
  ``E:ANMDS.TTF``, the Simplified Chinese font Zebra installs on Asian-model printers); the label switches to
  UTF-8 with ``^CI28`` and each text box becomes ``^A@`` + ``^FB`` with the lines broken by the station.
- ``"raster"`` (default): the station draws each text box with Pillow and a CJK font found on this machine
  (or ``font_path``) and sends it as a ``^GF`` picture. Works on every ZPL printer, costs a few KB per label.

Built-in templates live in ``templates/`` beside this module (``shipping_100x150``, ``sscc_100x150``); a
site passes its own file path instead. Placeholders the templates can use are :data:`VALUE_NAMES`; sections
are :data:`SECTION_NAMES`.
"""

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from drivers.printers.errors import PrinterConfigError
from drivers.printers.label_data import LabelData, mask_name, mask_phone, sscc_human_readable, sscc_with_check_digit
from drivers.printers.raster import find_cjk_font, fit_text, line_height, text_graphic_field
from drivers.printers.template import Template, TextRenderer, TextSpec
from drivers.printers.zpl import estimate_text_width, sanitize_text

logger = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).with_name("templates")
BUILTIN_TEMPLATES = ("shipping_100x150", "sscc_100x150")
DEFAULT_PRINTER_FONT = "E:ANMDS.TTF"

#: Every placeholder a template may use.
VALUE_NAMES = frozenset(
    {
        "order_id",
        "carrier",
        "waybill_no",
        "recipient_name",
        "recipient_phone",
        "recipient",
        "address",
        "province",
        "city",
        "district",
        "street",
        "priority",
        "remark",
        "sscc",
        "sscc_hri",
    }
)
#: Every section a template may use: kept when true.
SECTION_NAMES = frozenset({"gift", "priority", "remark", "sscc"})

CjkMode = Literal["ci28", "raster"]

_FB_NEWLINE = "\\&"


def load_template(template: str | Path) -> Template:
    """Load a built-in template by name or a template file by path, validated (see ``template``)."""
    path = TEMPLATE_DIR / f"{template}.zpl" if str(template) in BUILTIN_TEMPLATES else Path(template)
    return _load_cached(str(path), path.stat().st_mtime_ns if path.exists() else 0)


@functools.lru_cache(maxsize=16)
def _load_cached(path: str, _mtime_ns: int) -> Template:
    # Keyed on the modification time too, so a site's edit is picked up without a restart.
    return Template.load(path, values=VALUE_NAMES, sections=SECTION_NAMES)


def label_values(
    data: LabelData, *, mask_phone_number: bool = True, mask_recipient_name: bool = False
) -> dict[str, str]:
    """The placeholder values for ``data``, masked as asked and made safe for ZPL field data."""
    name = mask_name(data.recipient_name) if mask_recipient_name else data.recipient_name.strip()
    phone = mask_phone(data.recipient_phone) if mask_phone_number else data.recipient_phone.strip()
    sscc = sscc_with_check_digit(data.sscc) if data.sscc else ""
    raw = {
        "order_id": data.order_id,
        "carrier": data.carrier,
        "waybill_no": data.waybill_no,
        "recipient_name": name,
        "recipient_phone": phone,
        "recipient": f"{name}  {phone}".strip(),
        "address": data.address,
        "province": data.province,
        "city": data.city,
        "district": data.district,
        "street": data.street,
        "priority": data.priority or "",
        "remark": data.remark,
        "sscc": sscc,
        "sscc_hri": sscc_human_readable(sscc) if sscc else "",
    }
    return {key: sanitize_text(value) for key, value in raw.items()}


def label_flags(data: LabelData) -> dict[str, bool]:
    """The section switches for ``data``."""
    return {
        "gift": data.gift,
        "priority": data.priority is not None,
        "remark": bool(data.remark.strip()),
        "sscc": data.sscc is not None,
    }


def printer_font_renderer(printer_font: str = DEFAULT_PRINTER_FONT) -> TextRenderer:
    """Text boxes drawn by the printer's Unicode font (the label must carry ``^CI28``)."""

    def render(spec: TextSpec, text: str) -> str:
        def measure_at(size: int) -> Callable[[str], float]:
            return lambda candidate: estimate_text_width(candidate, size)

        size, lines, truncated = fit_text(text, spec.size, spec.width, spec.lines, measure_at)
        if truncated:
            # The text is a recipient's name or address: its length goes to the log, never the text itself.
            logger.warning(
                "text %s (%d characters) cut to fit %d line(s) of %d dots",
                spec.source if not spec.literal else "literal",
                len(text),
                spec.lines,
                spec.width,
            )
        gap = line_height(size) - size
        # ^FB wraps only at spaces, so the station breaks the lines itself and joins them with \& (new line).
        body = _FB_NEWLINE.join(lines)
        return f"^A@N,{size},{size},{printer_font}^FB{spec.width},{max(len(lines), 1)},{gap},{spec.align},0^FD{body}"

    return render


def raster_renderer(font_path: str | Path | None = None) -> TextRenderer:
    """Text boxes drawn here with a CJK font and sent as ``^GF`` pictures.

    The font is looked up once, when the renderer is made: a machine without a CJK font fails here with a
    :class:`FontNotFoundError` that says what to install, not in the middle of a label.
    """
    font = str(font_path) if font_path else str(find_cjk_font())

    def render(spec: TextSpec, text: str) -> str:
        return text_graphic_field(text, spec.size, spec.width, spec.lines, font, spec.align)

    return render


def render_label(
    data: LabelData,
    template: str | Path | Template = "shipping_100x150",
    cjk: CjkMode = "raster",
    *,
    mask_phone_number: bool = True,
    mask_recipient_name: bool = False,
    printer_font: str = DEFAULT_PRINTER_FONT,
    font_path: str | Path | None = None,
) -> str:
    """The ZPL of one label for ``data``.

    ``template`` is a built-in name, a file path, or a loaded :class:`Template`. ``cjk`` chooses how Chinese
    prints (see the module docstring). ``mask_phone_number`` prints ``138****8000``; ``mask_recipient_name``
    prints ``张*``. Raises :class:`TemplateError` for a bad template, :class:`LabelRenderError` when the data
    does not fit (a waybill too long for its barcode's room), :class:`FontNotFoundError` in raster mode
    without a CJK font.
    """
    loaded = template if isinstance(template, Template) else load_template(template)
    if cjk == "ci28":
        renderer = printer_font_renderer(printer_font)
    elif cjk == "raster":
        renderer = raster_renderer(font_path)
    else:
        raise PrinterConfigError(f"cjk={cjk!r}: use 'ci28' (printer font) or 'raster' (pictures)")
    zpl = loaded.expand(
        label_values(data, mask_phone_number=mask_phone_number, mask_recipient_name=mask_recipient_name),
        label_flags(data),
        renderer,
    )
    if cjk == "ci28" and "^CI28" not in zpl:
        start = zpl.index("^XA") + 3
        zpl = zpl[:start] + "^CI28" + zpl[start:]
    return zpl
