"""Labels as PNG pictures, rendered on this machine: for the supervisor pages, the virtual printer and tests.

Rendering uses ``zplkit`` (a local ZPL renderer, native code, no network), an optional dependency: without
it :func:`render_png` raises :class:`RendererUnavailable` with the install command, and
:func:`renderer_available` lets a page say "preview needs the render extra" instead of failing.

The renderer has no printer fonts, so before rendering, fields drawn with a printer font that it cannot
draw (``^A@`` with a font file such as ``E:ANMDS.TTF``, or any field text outside ASCII) are replaced by
the same text rasterised with the station's CJK font. A ``^CI28`` label's preview therefore shows the
Chinese text, laid out by the station's own line breaking rather than the printer's font metrics.
"""

import logging
import re
from pathlib import Path

from drivers.printers.errors import RendererUnavailable
from drivers.printers.raster import find_cjk_font, graphic_field, render_text_rows, text_graphic_field
from drivers.printers.template import DEFAULT_HEIGHT_DOTS, DEFAULT_WIDTH_DOTS
from drivers.printers.zpl import tokenize

logger = logging.getLogger(__name__)

INSTALL_HINT = "label preview needs the optional renderer: pip install 'zplkit>=0.3,<0.4'"

_FIELD = re.compile(r"(\^F[OT][^\^~]*)(.*?)(\^FS)", re.DOTALL)


def renderer_available() -> bool:
    """True when :func:`render_png` can work here (``zplkit`` is installed)."""
    try:
        import zplkit  # noqa: F401, PLC0415 - probing an optional dependency
    except ImportError:
        return False
    return True


def render_png(
    zpl: str | bytes,
    *,
    width_dots: int = DEFAULT_WIDTH_DOTS,
    height_dots: int = DEFAULT_HEIGHT_DOTS,
    dpi: int = 203,
    font_path: str | Path | None = None,
) -> bytes:
    """PNG bytes of the first label in ``zpl``, one pixel per printer dot, black on white.

    ``^PW``/``^LL`` in the ZPL override the size given here. Raises :class:`RendererUnavailable` when the
    renderer is not installed, ``ValueError`` (the renderer's ``RenderError``) for ZPL it cannot draw.
    """
    try:
        import zplkit  # noqa: PLC0415 - optional dependency, imported where it is used
    except ImportError as err:
        raise RendererUnavailable(INSTALL_HINT) from err
    text = zpl.decode("utf-8", "replace") if isinstance(zpl, bytes) else zpl
    text = substitute_printer_fonts(text, font_path=font_path)
    options = zplkit.Options(profile="zd621", width=width_dots, height=height_dots, dpi=dpi)
    document = zplkit.render(text, options)
    for warning in document.warnings:
        logger.debug("renderer: %s", warning)
    if not document.labels:
        raise ValueError("the ZPL holds no label (no ^XA ... ^XZ)")
    return document.labels[0].png()


def substitute_printer_fonts(zpl: str, *, font_path: str | Path | None = None) -> str:
    """Replace fields the renderer cannot draw (printer font files, non-ASCII text) by rasterised text."""
    font: list[str] = []

    def font_file() -> str:
        if not font:
            font.append(str(font_path) if font_path else str(find_cjk_font()))
        return font[0]

    def replace(match: re.Match[str]) -> str:
        origin, body, end = match.group(1), match.group(2), match.group(3)
        commands = tokenize(body)
        names = {command.name for command in commands}
        text_command = next((c for c in commands if c.name == "FD"), None)
        font_command = next((c for c in commands if c.name in ("A@", "A0")), None)
        if text_command is None or font_command is None or names & {"BC", "BQ", "GF", "GB"}:
            return match.group(0)
        uses_font_file = font_command.name == "A@" and ":" in font_command.params
        if not uses_font_file and text_command.params.isascii():
            return match.group(0)
        args = font_command.args
        size = _int(args, 1) or 30
        block = next((c for c in commands if c.name == "FB"), None)
        lines = text_command.params.split("\\&")
        width = _int(block.args, 0) if block else 0
        if not width:
            width = max(len(line) for line in lines) * size
        align = block.args[3].strip().upper() if block and len(block.args) > 3 and block.args[3].strip() else "L"
        # Field reverse must survive: the gift mark is white text on a black box.
        keep = "".join(c.prefix + c.name + c.params for c in commands if c.name == "FR")
        if len(lines) == 1:
            graphic = text_graphic_field(lines[0], size, width, 1, font_file(), align)
        else:
            graphic = _stack(lines, size, width, font_file(), align)
        return origin + keep + graphic + end

    return _FIELD.sub(replace, zpl)


def _stack(lines: list[str], size: int, width: int, font: str, align: str) -> str:
    """One picture for lines the station already broke: each drawn on its own line of the box."""
    rows: list[bytes] = []
    bytes_per_row = (width + 7) // 8
    for line in lines:
        line_rows, bytes_per_row, _ = render_text_rows(
            line, size=size, width=width, max_lines=1, font_path=font, align=align
        )
        rows += line_rows
    return graphic_field(rows, bytes_per_row)


def _int(args: list[str], index: int) -> int:
    try:
        return int(args[index].strip())
    except (ValueError, IndexError):
        return 0
