"""Shipping labels end to end: LabelData -> ZPL -> PNG -> decoded barcodes, Chinese text in both modes,
masking, SSCC, and the ^GF encoding read back by an independent decoder."""

import re
from pathlib import Path

import pytest
from printer_testkit import decode, ink, sample_data

from drivers.printers import (
    FontNotFoundError,
    LabelData,
    PrinterConfigError,
    find_cjk_font,
    mask_name,
    mask_phone,
    render_label,
    render_png,
    sscc_check_digit,
    sscc_with_check_digit,
)
from drivers.printers.raster import graphic_field, render_text_rows, wrap_text

# The address box of the shipping template: ^FO24,630, 764 dots wide, three lines of 48-dot text.
ADDRESS_BOX = (24, 630, 24 + 764, 630 + 3 * 58)


@pytest.mark.parametrize("cjk", ["raster", "ci28"])
def test_label_decodes_to_waybill_order_and_qr(cjk: str) -> None:
    data = sample_data()
    png = render_png(render_label(data, cjk=cjk))  # type: ignore[arg-type]
    found = {(code.format, code.text) for code in decode(png)}
    assert ("Code128", "SF1234567890123") in found
    assert ("Code128", "SO20260205-8821") in found
    assert ("QRCode", "SF1234567890123") in found


def test_the_waybill_barcode_sits_above_the_order_barcode() -> None:
    # Two Code 128s on one label: the scan-back at the bench must find the waybill where the template says.
    png = render_png(render_label(sample_data(), cjk="raster"))
    codes = {code.text: code for code in decode(png) if code.format == "Code128"}
    assert codes["SF1234567890123"].top < codes["SO20260205-8821"].top


def test_rasterised_address_is_a_graphic_field_with_ink() -> None:
    zpl = render_label(sample_data(), cjk="raster")
    fields = re.findall(r"\^FO24,630\^GFA,(\d+),(\d+),(\d+),([^\^]+)\^FS", zpl)
    assert len(fields) == 1
    total, _, per_row, data = fields[0]
    assert int(total) == int(per_row) * 58  # one line used, 58-dot pitch
    assert data.strip(",:") != ""
    assert "浙江" not in zpl  # the text went as dots, not characters
    png = render_png(zpl)
    assert ink(png, ADDRESS_BOX) > 0.03


def test_address_area_is_blank_without_an_address() -> None:
    png = render_png(render_label(sample_data(province="", city="", district="", street=""), cjk="raster"))
    assert ink(png, ADDRESS_BOX) == 0


def test_ci28_label_sends_utf8_text_to_the_printer_font() -> None:
    zpl = render_label(sample_data(), cjk="ci28", printer_font="E:SIMSUN.TTF")
    assert zpl.startswith("^XA^CI28")
    assert "^FO24,630^A@N,48,48,E:SIMSUN.TTF^FB764,1,10,L,0^FD浙江省杭州市西湖区文三路 90 号^FS" in zpl
    assert "^GF" not in zpl
    # The preview still shows the Chinese text: printer-font fields are rasterised for the renderer.
    assert ink(render_png(zpl), ADDRESS_BOX) > 0.03


def test_long_address_wraps_onto_three_lines_in_both_modes() -> None:
    street = "文三路 90 号 华星时代广场 A 座 12 楼 1201 室 前台代收 请勿放快递柜"
    raster = render_label(sample_data(street=street), cjk="raster")
    rows = int(re.search(r"\^FO24,630\^GFA,\d+,(\d+),(\d+),", raster).group(1))  # type: ignore[union-attr]
    per_row = int(re.search(r"\^FO24,630\^GFA,\d+,\d+,(\d+),", raster).group(1))  # type: ignore[union-attr]
    assert rows // per_row == 3 * 58
    printer = render_label(sample_data(street=street), cjk="ci28")
    address = re.search(r"\^FO24,630\^A@[^\^]*\^FB764,(\d),[^\^]*\^FD([^\^]*)\^FS", printer)
    assert address is not None
    assert address.group(1) == "3"
    assert address.group(2).count("\\&") == 2


def test_phone_masked_by_default_and_on_request_only() -> None:
    masked = render_label(sample_data(), cjk="ci28")
    assert "张三 138****8000" in masked
    plain = render_label(sample_data(), cjk="ci28", mask_phone_number=False, mask_recipient_name=True)
    assert "张* 13800138000" in plain


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13800138000", "138****8000"),
        ("138 0013 8000", "138 **** 8000"),
        ("0571-88886666", "057*-****6666"),
        ("12345678", "****5678"),
        ("1234", "1234"),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_mask_name() -> None:
    assert (mask_name("张三"), mask_name("欧阳娜娜"), mask_name("李")) == ("张*", "欧***", "李")


def test_marks_follow_the_data() -> None:
    plain = render_label(sample_data(gift=False, priority=None), cjk="ci28")
    marked = render_label(sample_data(gift=True, priority="A"), cjk="ci28")
    assert "赠品" not in plain
    assert "^GB128,128,128" not in plain
    assert "赠品" in marked
    assert "^FDA^FS" in marked


def test_priority_mark_is_printed_white_on_black() -> None:
    png = render_png(render_label(sample_data(priority="S"), cjk="raster"))
    box = ink(png, (668, 16, 796, 144))
    assert 0.5 < box < 0.98  # a black box with a white letter in it
    assert ink(render_png(render_label(sample_data(priority=None), cjk="raster")), (668, 16, 796, 144)) == 0


def test_sscc_label_is_gs1_128_with_the_check_digit() -> None:
    data = sample_data(sscc="10614141123456789")  # GS1's own example; its check digit is 7
    png = render_png(render_label(data, "sscc_100x150", cjk="raster"))
    gs1 = [code for code in decode(png) if code.symbology == "]C1"]
    assert [code.text for code in gs1] == ["(00)106141411234567897"]


def test_sscc_check_digit() -> None:
    assert sscc_check_digit("10614141123456789") == "7"
    assert sscc_with_check_digit("106141411234567897") == "106141411234567897"
    with pytest.raises(PrinterConfigError, match="check digit should be 7"):
        sscc_with_check_digit("106141411234567890")
    with pytest.raises(PrinterConfigError, match="17 or 18 digits"):
        sscc_with_check_digit("12345")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("waybill_no", "SF 123", "waybill_no 'SF 123'"),
        ("order_id", "SO^XZ", "order_id"),
        ("priority", "X", "priority 'X'"),
        ("sscc", "123", "SSCC"),
    ],
)
def test_label_data_refuses_what_a_label_cannot_carry(field: str, value: str, message: str) -> None:
    with pytest.raises(PrinterConfigError, match=re.escape(message)):
        sample_data(**{field: value})


def test_zpl_special_characters_in_text_cannot_inject_commands() -> None:
    zpl = render_label(sample_data(street="A^XZ~JA\\1"), cjk="ci28")
    body = zpl[zpl.index("^FO24,630") : zpl.index("^FS", zpl.index("^FO24,630"))]
    assert "^XZ" not in body
    assert "~JA" not in body
    assert "A＾XZ～JA＼1" in body


def test_raster_mode_without_a_cjk_font_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(FontNotFoundError, match="fonts-noto-cjk"):
        find_cjk_font([tmp_path])
    with pytest.raises(FontNotFoundError, match="does not exist"):
        render_label(sample_data(), cjk="raster", font_path=tmp_path / "missing.ttf")


def test_unknown_cjk_mode() -> None:
    with pytest.raises(PrinterConfigError, match="cjk='bitmap'"):
        render_label(sample_data(), cjk="bitmap")  # type: ignore[arg-type]


def test_label_data_address_joins_parts() -> None:
    data = LabelData("SO1", "SF", "SF1", "张三", "138", province="浙江省", city="杭州市", street=" 文三路 ")
    assert data.address == "浙江省杭州市文三路"


# ------------------------------------------------------------------------------ ^GF encoding


def _decode_graphic_field(command: str) -> list[bytes]:
    """An independent reader of ZPL's ASCII compression, written from the programming guide's rules."""
    _, total, _, per_row, data = command.split(",", 4)
    width = int(per_row) * 2
    rows: list[str] = []
    current = ""
    count = 0
    for char in data:
        if "G" <= char <= "Y":
            count += ord(char) - ord("F")
        elif "g" <= char <= "z":
            count += (ord(char) - ord("f")) * 20
        elif char == ",":
            rows.append(current.ljust(width, "0"))
            current = ""
        elif char == "!":
            rows.append(current.ljust(width, "F"))
            current = ""
        elif char == ":":
            rows.append(rows[-1])
        else:
            current += char * (count or 1)
            count = 0
            if len(current) == width:
                rows.append(current)
                current = ""
    assert current == ""
    assert len(rows) * int(per_row) == int(total)
    return [bytes.fromhex(row) for row in rows]


def test_graphic_field_compression_round_trips() -> None:
    rows = [bytes(12), bytes([0xFF] * 12), bytes([0xFF] * 12), bytes([0x80] + [0] * 11), bytes([0x0F] * 6 + [0] * 6)]
    rows += [bytes([0xAA] * 12)] * 3 + [bytes([0x00] * 11 + [0x01])]
    assert _decode_graphic_field(graphic_field(rows, 12)) == rows


def test_rasterised_text_round_trips_through_the_encoding() -> None:
    font = str(find_cjk_font())
    rows, per_row, truncated = render_text_rows("收件人 张三", size=40, width=300, max_lines=1, font_path=font)
    assert not truncated
    assert any(any(row) for row in rows)
    assert _decode_graphic_field(graphic_field(rows, per_row)) == rows


def test_wrap_keeps_latin_runs_whole_and_marks_cuts() -> None:
    def measure(text: str) -> float:
        return len(text) * 10.0

    lines, cut = wrap_text("杭州市 Building12345 室", 140, 3, measure)
    assert lines == ["杭州市", "Building12345", "室"]
    assert not cut
    lines, cut = wrap_text("一二三四五六七八九十", 40, 2, measure)
    assert cut
    assert lines == ["一二三四", "五六七…"]


@pytest.mark.parametrize("cjk", ["raster", "ci28"])
def test_an_address_cut_to_fit_is_not_written_to_the_log(cjk: str, caplog: pytest.LogCaptureFixture) -> None:
    street = "文三路 90 号 浙江大学玉泉校区 东门对面 华星科技大厦 B 座 1801 室 前台代收" * 3
    render_label(sample_data(street=street, recipient_name="欧阳娜娜"), cjk=cjk)  # type: ignore[arg-type]
    assert "cut to fit" in caplog.text  # the cut is reported...
    assert "文三路" not in caplog.text  # ...without the customer's address
    assert "欧阳" not in caplog.text
