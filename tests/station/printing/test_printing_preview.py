"""What goes on the label, taken from the order, and the label preview as a PNG whose barcodes decode."""

import dataclasses
import io
from typing import Any

import pytest
import zxingcpp
from benchkit import HUB, Bench, order_doc
from PIL import Image
from printing_kit import PACKER, make_worker, pack, sim_printer

from drivers import printers
from station.orders.intake import intake_order
from station.orders.model import Order
from station.printing import (
    LabelDataError,
    LabelFields,
    LabelMaker,
    PreviewUnavailable,
    PrintingSettings,
    enqueue_label,
    label_fields,
    label_preview_png,
)

ORDER = "SO20260205-8821"


def order(bench: Bench, order_id: str = ORDER) -> Order:
    with bench.store.reading() as repo:
        found = repo.order(order_id)
    assert found is not None
    return found


def decoded(png: bytes) -> set[tuple[str, str]]:
    """(format, text) of every barcode zxing-cpp finds: an independent decoder, not the renderer."""
    image = Image.open(io.BytesIO(png))
    return {(str(r.format).split(".")[-1].replace(" ", ""), r.text) for r in zxingcpp.read_barcodes(image)}


def test_label_fields_come_from_the_order(bench: Bench) -> None:
    doc = order_doc(
        order_id="SO20260205-8822",
        waybill_no="YT1234567890",
        carrier="XYZ",
        customer={
            "name": "欧阳娜娜",
            "phone": "13900139000",
            "address": {"province": "浙江省", "city": "杭州市", "district": "西湖区", "street": "文三路 90 号"},
        },
    )
    assert intake_order(bench.store, doc, HUB).ok
    fields = label_fields(order(bench, "SO20260205-8822"), PrintingSettings())
    assert fields.carrier == "XYZ"  # an unlisted carrier prints as its code
    assert (fields.waybill_no, fields.order_id) == ("YT1234567890", "SO20260205-8822")
    assert (fields.recipient_name, fields.recipient_phone) == ("欧阳娜娜", "13900139000")  # masked when rendered
    assert (fields.province, fields.city, fields.district, fields.street) == (
        "浙江省",
        "杭州市",
        "西湖区",
        "文三路 90 号",
    )
    assert fields.gift is True  # line 2 is a gift
    sample = label_fields(order(bench), PrintingSettings())
    assert sample.carrier == "顺丰速运"
    assert sample.priority == order(bench).priority
    assert label_fields(order(bench), PrintingSettings(priority_marks=[])).priority is None


def test_label_fields_are_the_fields_of_the_renderers_label_data() -> None:
    """`LabelMaker` hands `LabelFields` to the renderer as `LabelData(**fields)`: same names, same defaults."""
    ours = {f.name: (f.default, str(f.type)) for f in dataclasses.fields(LabelFields)}
    theirs = {f.name: (f.default, str(f.type)) for f in dataclasses.fields(printers.LabelData)}
    assert ours == theirs


def test_preview_decodes_to_the_waybill_and_order(bench: Bench) -> None:
    maker = LabelMaker(PrintingSettings(cjk="raster", mask_name=True), printers)
    png = label_preview_png(order(bench), maker)
    assert decoded(png) == {("Code128", "SF1234567890123"), ("Code128", ORDER), ("QRCode", "SF1234567890123")}
    zpl = maker.zpl_for_order(order(bench))
    assert "13800138000" not in zpl  # the phone is masked; Chinese is rasterised, so check the raw text is gone
    assert "^GF" in zpl


def test_preview_shows_the_label_that_was_sent(bench: Bench) -> None:
    printer, engine = sim_printer()
    worker = make_worker(bench.store, printer, auto_print=False)
    pack(bench)
    assert enqueue_label(bench.store, ORDER, PACKER).ok
    worker.run_until_idle()
    sent = worker.preview_png(order(bench))
    # Settings changed since (a site switched templates' text mode): the preview still shows the printed label.
    worker.labels.settings = PrintingSettings(cjk="raster", mask_phone=False)
    assert worker.preview_png(order(bench)) == sent
    assert ("Code128", "SF1234567890123") in decoded(sent)
    assert len(engine.jobs) == 1


class NoRenderer:
    """The driver module as seen on a station installed without the optional renderer."""

    LabelData = printers.LabelData
    PrinterError = printers.PrinterError
    RendererUnavailable = printers.RendererUnavailable

    @staticmethod
    def render_label(*args: Any, **kwargs: Any) -> str:
        return printers.render_label(*args, **kwargs)

    @staticmethod
    def render_png(zpl: str) -> bytes:
        raise printers.RendererUnavailable("label preview needs the optional renderer: pip install 'zplkit>=0.3,<0.4'")


def test_preview_without_the_renderer_says_what_to_install(bench: Bench) -> None:
    maker = LabelMaker(PrintingSettings(cjk="ci28"), NoRenderer())
    with pytest.raises(PreviewUnavailable, match="pip install"):
        label_preview_png(order(bench), maker)


def test_an_order_without_waybill_has_no_label(bench: Bench) -> None:
    doc = order_doc(order_id="SO20260205-8823")
    del doc["waybill_no"]
    assert intake_order(bench.store, doc, HUB).ok
    maker = LabelMaker(PrintingSettings(cjk="ci28"), printers)
    with pytest.raises(LabelDataError, match="no waybill"):
        label_preview_png(order(bench, "SO20260205-8823"), maker)
    bad = order_doc(order_id="SO20260205-8824", waybill_no="SF 123")  # a space cannot go in a Code 128 here
    assert intake_order(bench.store, bad, HUB).ok
    with pytest.raises(LabelDataError, match="waybill_no"):
        maker.zpl_for_order(order(bench, "SO20260205-8824"))
