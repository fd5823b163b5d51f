"""Chinese text as pictures: find a CJK font on this machine, lay text out in a box, and turn it into a ZPL
``^GF`` graphic field with ZPL's ASCII compression.

This is how Chinese prints on a printer without a Unicode font: the station draws the text with Pillow and
sends the dots. The layout rules are shared with the ``^CI28`` path (:func:`wrap_text` takes the measuring
function), so both modes break lines the same way.

Fonts are looked for in the standard font directories, Noto Sans CJK first (Debian ``fonts-noto-cjk``),
then WenQuanYi (``fonts-wqy-microhei``, ``fonts-wqy-zenhei``), then Droid Sans Fallback; a site can name a
font file instead. Pillow is imported only when a field is actually rasterised.
"""

import functools
import logging
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from drivers.printers.errors import FontNotFoundError, RendererUnavailable

if TYPE_CHECKING:
    from PIL.ImageFont import FreeTypeFont

logger = logging.getLogger(__name__)

FONT_DIRS = (
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local/share/fonts",
    Path.home() / ".fonts",
)

#: File name patterns in order of preference: the Simplified Chinese faces first.
FONT_PATTERNS = (
    "NotoSansCJKsc-Regular.otf",
    "NotoSansSC-Regular.otf",
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJK*.ttc",
    "NotoSerifCJK*.ttc",
    "SourceHanSans*.ttc",
    "wqy-microhei.ttc",
    "wqy-zenhei.ttc",
    "DroidSansFallbackFull.ttf",
    "DroidSansFallback.ttf",
)

INSTALL_HINT = "install one (Debian: apt-get install fonts-noto-cjk, or fonts-wqy-microhei) or pass font_path="

#: Line pitch as a multiple of the character size; the same in both CJK modes so layouts match.
LINE_PITCH = 1.2

_TOKEN = re.compile(r"[A-Za-z0-9@.\-_/#*+]+|\s+|.", re.DOTALL)
_ELLIPSIS = "…"


def line_height(size: int) -> int:
    """Dots from one text line to the next for characters of ``size`` dots."""
    return round(size * LINE_PITCH)


def find_cjk_font(search_dirs: Iterable[Path] = FONT_DIRS) -> Path:
    """The first CJK font found in ``search_dirs`` by :data:`FONT_PATTERNS` order (remembered once found).

    Raises :class:`FontNotFoundError` naming the directories searched and how to install a font.
    """
    return _find_cjk_font(tuple(Path(d) for d in search_dirs))


@functools.lru_cache(maxsize=8)
def _find_cjk_font(dirs: tuple[Path, ...]) -> Path:
    # Walking the font tree costs tens of milliseconds on an SD card; a found font is kept, a failure is
    # not (lru_cache does not keep exceptions), so installing a font needs no restart.
    for pattern in FONT_PATTERNS:
        for directory in dirs:
            if not directory.is_dir():
                continue
            found = sorted(directory.rglob(pattern))
            if found:
                return found[0]
    searched = ", ".join(str(d) for d in dirs)
    raise FontNotFoundError(f"no CJK font found for Chinese text (searched {searched}); {INSTALL_HINT}")


@functools.lru_cache(maxsize=32)
def load_font(path: str, size: int) -> "FreeTypeFont":
    """Open a font at ``size`` pixels; in a collection (``.ttc``) pick the Simplified Chinese face."""
    try:
        from PIL import ImageFont  # noqa: PLC0415 - Pillow is needed only when text is rasterised
    except ImportError as err:
        raise RendererUnavailable("rasterised Chinese text needs Pillow: pip install 'pillow>=10'") from err
    if not os.path.isfile(path):
        raise FontNotFoundError(f"font file {path} does not exist; {INSTALL_HINT}")
    first = ImageFont.truetype(path, size, index=0)
    if not path.lower().endswith(".ttc"):
        return first
    for index in range(1, 16):
        try:
            face = ImageFont.truetype(path, size, index=index)
        except OSError:
            break
        family = face.getname()[0] or ""
        if family.endswith(" SC") or "SC" in family.split():
            return face
    return first


def wrap_text(text: str, width: int, max_lines: int, measure: Callable[[str], float]) -> tuple[list[str], bool]:
    """Break ``text`` into at most ``max_lines`` lines no wider than ``width`` by ``measure``.

    Chinese breaks between any two characters; runs of Latin letters and digits (a house number, a phone
    number) stay whole unless a run alone is wider than a line. Returns the lines and whether text was cut;
    a cut last line ends with an ellipsis.
    """
    lines: list[str] = []
    current = ""
    truncated = False
    for token in _TOKEN.findall(" ".join(text.split())):
        pieces = [token] if measure(token) <= width else list(token)
        for piece in pieces:
            candidate = current + piece
            if measure(candidate) <= width or not current:
                current = candidate
                continue
            lines.append(current.rstrip())
            current = piece.lstrip()
            if len(lines) == max_lines:
                truncated = True
                break
        if truncated:
            break
    if not truncated and current.strip():
        lines.append(current.rstrip())
    if len(lines) > max_lines:
        lines, truncated = lines[:max_lines], True
    if truncated and lines:
        last = lines[-1]
        while last and measure(last + _ELLIPSIS) > width:
            last = last[:-1]
        lines[-1] = last + _ELLIPSIS
    return lines, truncated


#: Font scales tried, in order, before text is cut: a long carrier name prints smaller rather than cut.
SHRINK_STEPS = (1.0, 0.9, 0.8, 0.7)


def fit_text(
    text: str, size: int, width: int, max_lines: int, measure_at: Callable[[int], Callable[[str], float]]
) -> tuple[int, list[str], bool]:
    """Lay text out at ``size``, or smaller (down to 70 %) when it does not fit; cut it only then.

    ``measure_at(size)`` gives the measuring function for that character size. Returns the size used, the
    lines and whether text was cut.
    """
    attempt: tuple[int, list[str], bool] = (size, [], False)
    for scale in SHRINK_STEPS:
        scaled = max(round(size * scale), 8)
        lines, truncated = wrap_text(text, width, max_lines, measure_at(scaled))
        attempt = (scaled, lines, truncated)
        if not truncated:
            return attempt
    return attempt


def _count_code(count: int) -> str:
    """ZPL's repeat count letters: G..Y are 1..19, g..z are 20..400 in steps of 20."""
    high, low = divmod(count, 20)
    return (chr(ord("f") + high) if high else "") + (chr(ord("F") + low) if low else "")


def _compress_row(hex_row: str) -> str:
    stripped = hex_row.rstrip("0")
    out = []
    index = 0
    while index < len(stripped):
        char = stripped[index]
        run = 1
        while index + run < len(stripped) and stripped[index + run] == char and run < 419:
            run += 1
        out.append((_count_code(run) if run > 1 else "") + char)
        index += run
    if len(stripped) < len(hex_row):
        out.append(",")  # the rest of the row is white
    return "".join(out)


def graphic_field(rows: list[bytes], bytes_per_row: int) -> str:
    """A ``^GFA`` command (without ``^FS``) for 1-bit rows, 1 = printed dot, compressed the ZPL way.

    A row equal to the one before is written as ``:``; each row's hex is run-length coded and its white
    tail written as ``,``.
    """
    parts = []
    previous: bytes | None = None
    for row in rows:
        if len(row) != bytes_per_row:
            raise ValueError("every row must have bytes_per_row bytes")
        parts.append(":" if row == previous else _compress_row(row.hex().upper()))
        previous = row
    total = bytes_per_row * len(rows)
    return f"^GFA,{total},{total},{bytes_per_row},{''.join(parts)}"


def render_text_rows(
    text: str, *, size: int, width: int, max_lines: int, font_path: str, align: str = "L"
) -> tuple[list[bytes], int, bool]:
    """Draw text laid out in a box; returns 1-bit rows (1 = ink), bytes per row, and whether it was cut.

    The box is ``width`` dots wide (rounded up to whole bytes) and as tall as the lines used; text that does
    not fit is drawn smaller first (:func:`fit_text`).
    """
    try:
        from PIL import Image, ImageDraw  # noqa: PLC0415 - Pillow is needed only when text is rasterised
    except ImportError as err:
        raise RendererUnavailable("rasterised Chinese text needs Pillow: pip install 'pillow>=10'") from err
    used_size, lines, truncated = fit_text(text, size, width, max_lines, lambda s: load_font(font_path, s).getlength)
    font = load_font(font_path, used_size)
    if truncated:
        # The text is a recipient's name or address: its length goes to the log, never the text itself.
        logger.warning("text of %d characters cut to fit %d line(s) of %d dots", len(text), max_lines, width)
    bytes_per_row = (width + 7) // 8
    pitch = line_height(used_size)
    image = Image.new("1", (bytes_per_row * 8, max(len(lines), 1) * pitch), 0)
    draw = ImageDraw.Draw(image)
    # Pillow places text by its top; the font's ascent puts the glyphs' baseline at the same row for every
    # line, centred in the line pitch.
    top_pad = (pitch - used_size) // 2
    for number, line in enumerate(lines):
        offset = 0.0
        if align in ("C", "R"):
            spare = width - font.getlength(line)
            offset = spare / 2 if align == "C" else spare
        draw.text((offset, number * pitch + top_pad), line, font=font, fill=1)
    raw = image.tobytes()
    rows = [raw[i : i + bytes_per_row] for i in range(0, len(raw), bytes_per_row)]
    return rows, bytes_per_row, truncated


@functools.lru_cache(maxsize=256)
def text_graphic_field(text: str, size: int, width: int, max_lines: int, font_path: str, align: str = "L") -> str:
    """``^GFA`` command for text laid out in a box (cached: the same static caption is drawn once)."""
    rows, bytes_per_row, _ = render_text_rows(
        text, size=size, width=width, max_lines=max_lines, font_path=font_path, align=align
    )
    return graphic_field(rows, bytes_per_row)
