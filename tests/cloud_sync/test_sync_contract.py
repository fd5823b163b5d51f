"""The written contract (CONTRACT.md + schema/*.json) matches the code: examples validate, counter-examples
are refused by both the schemas and our parsers, and what the agent and hub kit actually send validates."""

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from sync_harness import append_events, open_store

from cloud_sync import chain, wire
from cloud_sync.errors import MessageRejected
from cloud_sync.mapping import CANONICAL_STATUSES
from station.orders.intake import OrderIn
from station.orders.model import Status

PKG = Path(wire.__file__).parent
SCHEMA_DIR = PKG / "schema"
EXAMPLES = SCHEMA_DIR / "examples"
SCHEMAS = ("envelope", "batch", "ack", "cmd", "cmd_ack", "status", "order")


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validators() -> dict[str, Draft202012Validator]:
    docs = {name: _load(SCHEMA_DIR / f"{name}.json") for name in SCHEMAS}
    registry: Registry = Registry().with_resources((doc["$id"], Resource.from_contents(doc)) for doc in docs.values())
    out = {}
    for name, doc in docs.items():
        Draft202012Validator.check_schema(doc)
        out[name] = Draft202012Validator(doc, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return out


def _schema_of(path: Path) -> str:
    return path.name.split(".")[0]


def test_every_schema_has_examples() -> None:
    covered = {_schema_of(p) for p in EXAMPLES.glob("*.json")}
    assert covered == set(SCHEMAS)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_example_is_valid(path: Path, validators: dict[str, Draft202012Validator]) -> None:
    doc = _load(path)
    validators[_schema_of(path)].validate(doc)
    # ...and our own parsers accept it.
    payload = json.dumps(doc).encode()
    kind = _schema_of(path)
    if kind in ("envelope", "batch"):
        events = wire.decode_events(payload)
        assert all(chain.hash_ok(e) for e in events)
    elif kind == "ack":
        wire.parse_ack(payload)
    elif kind == "cmd":
        wire.parse_command(payload, max_bytes=256 * 1024)
    elif kind == "cmd_ack":
        wire.parse_cmd_ack(payload)
    elif kind == "order":
        OrderIn.model_validate(doc)
    else:
        wire.parse_state(payload)


@pytest.mark.parametrize("path", sorted((EXAMPLES / "invalid").glob("*.json")), ids=lambda p: p.name)
def test_counter_example_is_refused(path: Path, validators: dict[str, Draft202012Validator]) -> None:
    doc = _load(path)
    assert not validators[_schema_of(path)].is_valid(doc)
    payload = json.dumps(doc).encode()
    parsers = {
        "ack": wire.parse_ack,
        "cmd": lambda p: wire.parse_command(p, max_bytes=256 * 1024),
        "batch": wire.decode_events,
    }
    with pytest.raises(MessageRejected):
        parsers[_schema_of(path)](payload)


def test_real_store_output_validates(tmp_path: Path, validators: dict[str, Draft202012Validator]) -> None:
    store = open_store(tmp_path / "station.db")
    append_events(store, 5)
    envelopes = store.events_from(1, 10)
    for env in envelopes:
        validators["envelope"].validate(env)
        # What the station stored verifies with the contract's definition of the hash.
        assert chain.event_hash(env) == env["hash"]
    assert envelopes[0]["prev_hash"] == chain.genesis_hash(store.stream_epoch)
    validators["batch"].validate(json.loads(wire.encode_events(envelopes)))
    validators["envelope"].validate(json.loads(wire.encode_events(envelopes[:1])))
    ack = wire.Ack(store.stream_epoch, 3, ((4, 5),), hub="hub-1")
    validators["ack"].validate(json.loads(ack.to_wire()))
    cmd_ack = wire.CmdAck(7, (wire.Rejection("c1", "invalid_data", 6, "x"), wire.Rejection(None, "malformed_json")))
    validators["cmd_ack"].validate(json.loads(cmd_ack.to_wire()))
    validators["cmd"].validate(json.loads(wire.encode_command("c9", 9, "order.cancel", {"order_id": "SO1"})))
    store.close()


def test_statuses_match_the_station() -> None:
    assert set(CANONICAL_STATUSES) == {s.value for s in Status}


def test_contract_document_names_every_topic_type_and_reason() -> None:
    text = (PKG / "CONTRACT.md").read_text(encoding="utf-8")
    for kind in wire.STATION_KINDS:
        assert f"`{{p}}/{kind}`" in text
    assert "wh/v1/{site}/hub/state" in text
    assert "$share/ingest/wh/v1/+/+/evt" in text
    for kind in wire.COMMAND_TYPES:
        assert f"`{kind}`" in text
    not_reasons = {"CONTRACT_VERSION", "ROOT", "SHARED_GROUP", "HUB_LEVEL"}
    reasons = [v for k, v in vars(wire).items() if isinstance(v, str) and k.isupper() and k not in not_reasons]
    assert "oversized" in reasons
    for reason in reasons:
        assert f"`{reason}`" in text, reason
