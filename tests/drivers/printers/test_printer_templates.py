"""Label templates: the built-in ones load, a site's edits are checked, and each kind of mistake is named."""

from pathlib import Path

import pytest
from printer_testkit import sample_data

from drivers.printers import (
    BUILTIN_TEMPLATES,
    SECTION_NAMES,
    VALUE_NAMES,
    LabelRenderError,
    Template,
    TemplateError,
    load_template,
    render_label,
)

GOOD = """^XA
^PW812
^LL1218
^FO40,40^A0N,40,40^FDORDER {{order_id}}^FS
{{#gift}}
^FO40,200{{text:"赠品" size=40 width=200}}^FS
{{/gift}}
^FO40,300^BCN,100,Y,N,N,A^FD{{waybill_no}}^FS
^XZ
"""


GIFT = """{{#gift}}
^FO40,200{{text:"赠品" size=40 width=200}}^FS
{{/gift}}
"""


def parse(text: str) -> Template:
    return Template.from_text(text, name="site.zpl", values=VALUE_NAMES, sections=SECTION_NAMES)


def ci28(spec: object, text: str) -> str:
    return f"^A@N,40,40,E:ANMDS.TTF^FD{text}"


@pytest.mark.parametrize("name", BUILTIN_TEMPLATES)
def test_builtin_templates_load(name: str) -> None:
    template = load_template(name)
    assert (template.width_dots, template.height_dots) == (812, 1218)
    assert template.text_specs


def test_a_good_template_expands_sections_and_values() -> None:
    template = parse(GOOD)
    with_gift = template.expand({"order_id": "SO1", "waybill_no": "SF1"}, {"gift": True}, ci28)
    without = template.expand({"order_id": "SO1", "waybill_no": "SF1"}, {"gift": False}, ci28)
    assert "^FDORDER SO1^FS" in with_gift
    assert "赠品" in with_gift
    assert "赠品" not in without
    assert "\n\n" not in without  # section lines leave no blank line behind


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace("{{order_id}}", "{{order_number}}"), "line 4: unknown placeholder {{order_number}}"),
        (lambda t: t.replace("^XA\n", ""), "line 1: ^PW before ^XA (is ^XA missing?)"),
        (lambda t: t.replace("^XZ\n", "^XZ\n^FO1,1^FS\n"), "line 10: ^FO after the label's ^XZ"),
        (lambda t: t.replace("^XZ\n", ""), "has no closing ^XZ"),
        (lambda t: t.replace("^XZ", "^XZ^XA^XZ"), "a template holds one label"),
        (lambda t: t.replace("{{/gift}}\n", ""), "line 5: section {{#gift}} is never closed"),
        (lambda t: t.replace("{{#gift}}\n", ""), "line 6: {{/gift}} closes no open section"),
        (lambda t: t.replace("{{#gift}}", "{{#urgent}}"), "line 5: unknown section {{#urgent}}"),
        (lambda t: t.replace("{{/gift}}", "{{/priority}}"), "line 7: {{/priority}} closes {{#gift}}"),
        (lambda t: t.replace("{{order_id}}^FS", "{{order_id}}").replace(GIFT, ""), "^FO before the field of line 4"),
        (lambda t: t.replace("^FO40,200", "^FO40,200^FR^FS"), "line 6: a {{text:...}} tag must follow ^FOx,y"),
        (lambda t: t.replace("{{order_id}}^FS", "{{order_id}}"), "line 5: section tag {{#gift}} inside a field"),
        (lambda t: t.replace("^FO40,300", "^FO900,300"), "line 8: field at 900,300 is off the 812 x 1218"),
        (lambda t: t.replace("^FO40,300", "^FO40,1150"), "line 8: ^BC barcode at 40,1150"),
        (lambda t: t.replace("width=200", "width=800"), "line 6: text box at 40,200 of 800 x 48 dots runs off"),
        (lambda t: t.replace("^FDORDER", "^FD订单"), "line 4: non-ASCII text '订'"),
        (lambda t: t.replace("^FO40,40", "{{order_id}}^FO40,40"), "line 4: {{order_id}} must be inside"),
        (lambda t: t.replace("size=40", "size=4"), "text tag needs size >= 8"),
        (lambda t: t.replace("size=40 ", "size=40 colour=red "), "unknown text option(s) colour"),
        (lambda t: t.replace(" width=200", ""), "a text tag needs width="),
        (lambda t: t.replace("{{/gift}}", "{{/gift"), "line 7: '{{' without a closing '}}' on its line"),
        (lambda t: t.replace("{{/gift}}", "/gift}}"), "line 7: '}}' without an opening '{{'"),
        (lambda t: t.replace("^PW812", "~HS"), "control command ~HS does not belong"),
        (
            lambda t: t.replace("^FO40,40^A0N,40,40^FDORDER", "^FO40,40{{text:carrier size=40 width=300}}^FD"),
            "line 4: ^FD in a field that already has a {{text:...}} tag",
        ),
        (lambda t: t.replace("^FO40,200", "^FO40,200^A0N,30,30"), "line 6: a {{text:...}} field takes no ^FD, font"),
        (lambda t: t.replace("^PW812", "^PWabc"), "^PW needs 1 whole number"),
        (lambda t: t.replace("^XA", "hello ^XA"), "line 1: text outside the label"),
    ],
)
def test_template_mistakes_are_named(change: object, message: str) -> None:
    broken = change(GOOD)  # type: ignore[operator]
    with pytest.raises(TemplateError) as raised:
        parse(broken)
    assert message in str(raised.value)
    assert "site.zpl" in str(raised.value)


def test_template_without_any_label() -> None:
    with pytest.raises(TemplateError, match="no label in the template"):
        parse("\n\n")


def test_label_size_comes_from_the_template(tmp_path: Path) -> None:
    small = GOOD.replace("^PW812", "^PW400").replace("^FO40,300^BCN", "^FO40,300^BY1^BCN")
    with pytest.raises(TemplateError, match="off the 400 x 1218 dot label"):
        parse(small.replace("^FO40,40", "^FO420,40"))


def test_a_site_edit_is_picked_up_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "bench.zpl"
    path.write_text(GOOD, encoding="utf-8")
    zpl = render_label(sample_data(), path, cjk="ci28")
    assert "^FDORDER SO20260205-8821^FS" in zpl
    path.write_text(GOOD.replace("{{order_id}}", "{{order}}"), encoding="utf-8")
    with pytest.raises(TemplateError, match=r"bench\.zpl, line 4: unknown placeholder \{\{order\}\}"):
        render_label(sample_data(), path, cjk="ci28")


def test_missing_template_file(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="cannot read the template"):
        render_label(sample_data(), tmp_path / "nope.zpl", cjk="ci28")


def test_a_waybill_too_long_for_the_label_is_refused_at_render() -> None:
    with pytest.raises(LabelRenderError, match="Code 128 of 'SFA1B2C3D4E5F6G7H8I9J0'"):
        render_label(sample_data(waybill_no="SFA1B2C3D4E5F6G7H8I9J0"), cjk="ci28")


def test_a_long_qr_payload_is_refused_at_render() -> None:
    template = parse("^XA\n^FO600,1000^BQN,2,8^FDMA,{{waybill_no}}^FS\n^XZ\n")
    with pytest.raises(LabelRenderError, match="QR code"):
        template.expand({"waybill_no": "SF" + "1" * 60}, {}, ci28)
