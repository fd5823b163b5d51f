"""PNG preview: what it draws, and how it says so when the optional renderer is missing."""

import io
import sys

import pytest
from PIL import Image
from printer_testkit import ink

from drivers.printers import RendererUnavailable, render_png, renderer_available
from drivers.printers.preview import substitute_printer_fonts


def test_png_has_one_pixel_per_dot() -> None:
    png = render_png("^XA^PW400^LL300^FO10,10^GB100,50,50^FS^XZ")
    image = Image.open(io.BytesIO(png))
    assert image.size == (400, 300)
    assert ink(png, (10, 10, 110, 60)) == 1.0
    assert ink(png, (120, 10, 400, 300)) == 0.0


def test_missing_renderer_is_reported_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zplkit", None)  # makes "import zplkit" fail as if not installed
    assert not renderer_available()
    with pytest.raises(RendererUnavailable, match=r"pip install 'zplkit"):
        render_png("^XA^XZ")


def test_renderer_is_available_here() -> None:
    assert renderer_available()


def test_printer_font_fields_become_pictures_for_the_preview() -> None:
    zpl = "^XA^CI28^FO20,20^A@N,40,40,E:ANMDS.TTF^FB400,2,8,L,0^FD第一行\\&第二行^FS^FO20,200^A0N,30,30^FDABC^FS^XZ"
    substituted = substitute_printer_fonts(zpl)
    assert "E:ANMDS.TTF" not in substituted
    assert "^FO20,20^GFA," in substituted
    assert "^FO20,200^A0N,30,30^FDABC^FS" in substituted  # ASCII in a resident font is left alone
    png = render_png(zpl)
    assert ink(png, (20, 20, 420, 68)) > 0.02  # first line
    assert ink(png, (20, 68, 420, 116)) > 0.02  # second line


def test_reversed_printer_font_field_keeps_its_reverse() -> None:
    zpl = "^XA^FO20,20^GB200,80,80^FS^FO30,30^FR^A@N,40,40,E:ANMDS.TTF^FD赠品^FS^XZ"
    assert "^FO30,30^FR^GFA," in substitute_printer_fonts(zpl)
    png = render_png(zpl)
    assert 0.3 < ink(png, (20, 20, 220, 100)) < 1.0  # white text knocked out of the black box


def test_zpl_without_a_label() -> None:
    with pytest.raises(ValueError, match="no label"):
        render_png("^FX nothing")
