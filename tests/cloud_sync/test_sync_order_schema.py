"""The order document's JSON Schema (`cloud_sync/schema/order.json`) says what the station's intake takes.

`test_sync_contract.py` checks the examples (`schema/examples/order.*.json`): valid under the schema and
accepted by `OrderIn`. Here: the schema and `OrderIn` agree member by member at every level (order, customer,
address, line) on names, required lists, types, bounds, enums and defaults; the documents the station ships
or is sent validate; documents that break a rule are refused by both; and the two rules a JSON Schema cannot
state are the ones its description names.
"""

import copy
import json
import re
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from cloud_sync import wire
from station.orders.intake import LineIn, OrderIn

SCHEMA_DIR = Path(wire.__file__).parent / "schema"
DEMO_ORDERS = files("station.demo").joinpath("orders.jsonl")

# The keywords compared between the two schemas; patterns and formats are not (pydantic's schema has none
# for rules it checks in validators), which the refusals below cover instead.
_FACETS = ("minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems")


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


SCHEMA = _load(SCHEMA_DIR / "order.json")
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
MINIMAL = _load(SCHEMA_DIR / "examples" / "order.minimal.json")


def _alternatives(node: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    """The node with its `$ref` resolved, followed by every `anyOf` / `oneOf` branch, resolved the same way."""
    if "$ref" in node:
        target = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    found = [node]
    for branch in [*node.get("anyOf", []), *node.get("oneOf", [])]:
        found.extend(_alternatives(branch, root))
    return found


def _shape(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """What a schema node accepts, normalised: `"type": ["string", "null"]` and `anyOf: [{string}, {null}]`
    give the same shape, and nested objects and array items are shapes too."""
    types: set[str] = set()
    shape: dict[str, Any] = {}
    for part in _alternatives(node, root):
        declared = part.get("type", [])
        types.update([declared] if isinstance(declared, str) else declared)
        shape.update({key: part[key] for key in _FACETS if key in part})
        if "enum" in part:
            shape["enum"] = sorted(value for value in part["enum"] if value is not None)
        if part.get("default") is not None:
            shape["default"] = part["default"]
        if "properties" in part:
            shape["properties"] = {name: _shape(sub, root) for name, sub in part["properties"].items()}
            shape["required"] = sorted(part.get("required", []))
        if "items" in part:
            shape["items"] = _shape(part["items"], root)
    shape["type"] = sorted(types)
    return shape


def _intake_shape() -> dict[str, Any]:
    model = OrderIn.model_json_schema()
    shape = _shape(model, model)
    # Checked by `LineIn._barcodes_printable`, a validator pydantic's generated schema cannot show.
    shape["properties"]["lines"]["items"]["properties"]["barcodes"]["items"] |= {"minLength": 1, "maxLength": 128}
    return shape


def test_schema_agrees_with_intake_at_every_level() -> None:
    assert _shape(SCHEMA, SCHEMA) == _intake_shape()


def test_the_comparison_reaches_every_nested_object() -> None:
    # Guards the walker above: an agreement found by comparing nothing would prove nothing.
    order = _shape(SCHEMA, SCHEMA)
    customer = order["properties"]["customer"]
    line = order["properties"]["lines"]["items"]
    assert order["required"] == ["lines", "order_id", "version"]
    assert customer["required"] == ["name"]
    assert customer["properties"]["address"]["required"] == ["city", "province", "street"]
    assert line["required"] == ["barcodes", "line_no", "name", "qty", "sku"]
    assert set(line["properties"]) == set(LineIn.model_fields)


def test_barcode_pattern_refuses_only_what_intake_refuses() -> None:
    # The pattern spells out the control characters (and the no-break space); intake's `str.isprintable()` also
    # refuses format and separator characters, which a pattern cannot list briefly: the schema is looser there,
    # never stricter.
    pattern = re.compile(SCHEMA["$defs"]["line"]["properties"]["barcodes"]["items"]["pattern"])
    refused = [chr(c) for c in range(sys.maxunicode + 1) if not pattern.search(chr(c))]
    assert "\x1d" in refused
    assert not [char for char in refused if char.isprintable()]


def _documents_the_station_takes() -> dict[str, Any]:
    upsert = _load(SCHEMA_DIR / "examples" / "cmd.order_upsert.json")["data"]
    demo = [json.loads(line) for line in DEMO_ORDERS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {"cmd.order_upsert data": upsert} | {f"demo {doc['order_id']}": doc for doc in demo}


TAKEN = _documents_the_station_takes()


@pytest.mark.parametrize("doc", TAKEN.values(), ids=TAKEN.keys())
def test_documents_the_station_ships_or_is_sent_validate(doc: Any) -> None:
    VALIDATOR.validate(doc)
    OrderIn.model_validate(doc)


def _minimal(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(MINIMAL)
    doc.update(changes)
    return doc


def _with_line(**changes: Any) -> dict[str, Any]:
    doc = _minimal()
    doc["lines"][0].update(changes)
    return doc


def _without(doc: dict[str, Any], *path: str | int) -> dict[str, Any]:
    parent: Any = doc
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return doc


_CUSTOMER = {"name": "张三", "address": {"province": "浙江省", "city": "杭州市", "street": "文三路 90 号"}}

BROKEN = {
    "no lines": _without(_minimal(), "lines"),
    "empty lines": _minimal(lines=[]),
    "501 lines": _minimal(
        lines=[{"line_no": n, "sku": "S", "name": "n", "barcodes": ["6925123456715"], "qty": 1} for n in range(1, 502)]
    ),
    "no version": _without(_minimal(), "version"),
    "version 0": _minimal(version=0),
    "order_id with a space": _minimal(order_id="SO 1"),
    "empty order_id": _minimal(order_id=""),
    "order_id of 65 characters": _minimal(order_id="S" * 65),
    "ship_by without offset": _minimal(ship_by="2026-02-05T18:00:00"),
    "placed_at not a time": _minimal(placed_at="yesterday"),
    "negative amount": _minimal(amount="-1"),
    "amount not a number": _minimal(amount="lots"),
    "amount true": _minimal(amount=True),
    "currency of 4 letters": _minimal(currency="RMBX"),
    "tags null": _minimal(tags=None),
    "negative weight": _minimal(weight_g=-5),
    "customer without name": _minimal(customer={"vip_level": "A"}),
    "unknown VIP level": _minimal(customer={**_CUSTOMER, "vip_level": "VIP"}),
    "address without street": _without(_minimal(customer=copy.deepcopy(_CUSTOMER)), "customer", "address", "street"),
    "line without sku": _without(_minimal(), "lines", 0, "sku"),
    "qty 0": _with_line(qty=0),
    "line_no 10000": _with_line(line_no=10000),
    "no barcodes": _with_line(barcodes=[]),
    "barcode with a GS": _with_line(barcodes=["0106901234567892\x1d10L1"]),
    "barcode of 129 characters": _with_line(barcodes=["A" * 129]),
    "empty barcode": _with_line(barcodes=[""]),
    "serialized null": _with_line(serialized=None),
    "gift_for 0": _with_line(gift_for=0),
}


@pytest.mark.parametrize("doc", BROKEN.values(), ids=BROKEN.keys())
def test_broken_document_is_refused_by_both(doc: dict[str, Any]) -> None:
    assert not VALIDATOR.is_valid(doc)
    with pytest.raises(ValidationError):
        OrderIn.model_validate(doc)


_GIFT = {"line_no": 2, "sku": "BOWL-GIFT", "name": "赠品", "barcodes": ["6901234567809"], "qty": 1}
BEYOND_THE_SCHEMA = {
    "line_no twice": _minimal(lines=[*MINIMAL["lines"], {**MINIMAL["lines"][0], "sku": "OTHER"}]),
    "gift for a line that is not there": _minimal(lines=[*MINIMAL["lines"], {**_GIFT, "gift_for": 9}]),
    "gift for a gift": _minimal(
        lines=[*MINIMAL["lines"], {**_GIFT, "gift_for": 1}, {**_GIFT, "line_no": 3, "gift_for": 2}]
    ),
}


@pytest.mark.parametrize("doc", BEYOND_THE_SCHEMA.values(), ids=BEYOND_THE_SCHEMA.keys())
def test_rules_beyond_the_schema_are_the_ones_it_names(doc: dict[str, Any]) -> None:
    assert VALIDATOR.is_valid(doc)
    with pytest.raises(ValidationError, match="lines: "):
        OrderIn.model_validate(doc)
    assert "line_no is unique within the order" in SCHEMA["description"]
    assert "gift_for names a line of the same order that is not itself a gift" in SCHEMA["description"]
