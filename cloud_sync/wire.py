"""The wire contract of `wh/v1` (CONTRACT.md): topics, and encoding / checking every message shape.

Both sides use this module: the station agent (events out, acks and commands in) and the hub kit (events in,
acks and commands out). Inbound checks raise `MessageRejected` with a short reason code; they never trust a
type, a size or a range they have not checked.
"""

import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard, cast

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from cloud_sync.errors import MessageRejected
from cloud_sync.events import Envelope
from cloud_sync.mapping import StatusMapper
from cloud_sync.ports import Command

CONTRACT_VERSION = "wh/v1"
ROOT = "wh/v1"
SHARED_GROUP = "ingest"
HUB_LEVEL = "hub"  # wh/v1/{site}/hub/state: "hub" is therefore not a valid station id

# Site and station ids are single topic levels: no wildcards, separators or `$`.
_TOPIC_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CMD_ID = re.compile(r"^[\x21-\x7e]{1,64}$")  # printable ASCII, no spaces
_CONFIG_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

MAX_ACK_BYTES = 64 * 1024
# Deepest nesting of arrays and objects accepted in an inbound message. A command's deepest part is an order
# document (a handful of levels); events get more room because a batch wraps the command data it records
# (batch → events → envelope → data → ...), so that whatever a station accepted the hub can read back.
MAX_DEPTH = 32
MAX_EVENT_DEPTH = 64
MAX_MISSING_RANGES = 64
MAX_REJECTED_PER_ACK = 100
STATION_KINDS = ("evt", "ack", "cmd", "cmd_ack", "status")

COMMAND_TYPES = (
    "order.upsert",
    "order.cancel",
    "order.hold",
    "order.release",
    "priority.set",
    "config.set",
    "clip.request",
)

# Reason codes for refused inbound messages (CONTRACT.md, "Refusals").
MALFORMED_JSON = "malformed_json"
NOT_AN_OBJECT = "not_an_object"
OVERSIZED = "oversized"
INVALID_FIELD = "invalid_field"
WRONG_STREAM_EPOCH = "wrong_stream_epoch"
ACKED_BEYOND_HEAD = "acked_beyond_head"
INVALID_CMD_ID = "invalid_cmd_id"
INVALID_CMD_SEQ = "invalid_cmd_seq"
UNKNOWN_TYPE = "unknown_type"
INVALID_DATA = "invalid_data"
CMD_SEQ_REUSED = "cmd_seq_reused"
INTERNAL_ERROR = "internal_error"


def check_topic_id(value: str, what: str) -> str:
    """`value` if it can be a site or station id (one topic level, no wildcards); ValueError otherwise."""
    if not _TOPIC_ID.match(value):
        raise ValueError(f"{what} {value!r} must be 1-64 letters, digits, '_', '.', '-' (starting alphanumeric)")
    if what == "station" and value == HUB_LEVEL:
        raise ValueError("station id 'hub' is reserved for wh/v1/{site}/hub/state")
    return value


@dataclass(frozen=True, slots=True)
class StationTopics:
    """The topics of one station: `wh/v1/{site}/{station}/...`."""

    site: str
    station: str

    def __post_init__(self) -> None:
        check_topic_id(self.site, "site")
        check_topic_id(self.station, "station")

    @property
    def prefix(self) -> str:
        """`wh/v1/{site}/{station}`."""
        return f"{ROOT}/{self.site}/{self.station}"

    @property
    def evt(self) -> str:
        """Events, station → hub."""
        return f"{self.prefix}/evt"

    @property
    def ack(self) -> str:
        """Event acknowledgements, hub → station."""
        return f"{self.prefix}/ack"

    @property
    def cmd(self) -> str:
        """Commands, hub → station."""
        return f"{self.prefix}/cmd"

    @property
    def cmd_ack(self) -> str:
        """Command acknowledgements, station → hub."""
        return f"{self.prefix}/cmd_ack"

    @property
    def status(self) -> str:
        """Retained station status (birth / will)."""
        return f"{self.prefix}/status"

    @property
    def hub_state(self) -> str:
        """Retained hub state of this station's site."""
        return hub_state_topic(self.site)

    @property
    def client_id(self) -> str:
        """The station's MQTT client id, `{site}-{station}`."""
        return f"{self.site}-{self.station}"


def hub_state_topic(site: str) -> str:
    """`wh/v1/{site}/hub/state`."""
    return f"{ROOT}/{site}/{HUB_LEVEL}/state"


def parse_station_topic(topic: str) -> tuple[str, str, str] | None:
    """(site, station, kind) of a station topic, or None if `topic` is not one."""
    parts = topic.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != ROOT or parts[4] not in STATION_KINDS:
        return None
    site, station = parts[2], parts[3]
    if station == HUB_LEVEL or not _TOPIC_ID.match(site) or not _TOPIC_ID.match(station):
        return None
    return site, station, parts[4]


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, the encoding of every payload."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


# A JSON string, as JSON lexes it; an unterminated one runs to the end of the payload, so that the search
# never rescans the tail from every later quote (which would be quadratic on hostile input).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+"?', re.DOTALL)
_BRACKET_DEPTH = [0] * 256
_BRACKET_DEPTH[ord("[")] = _BRACKET_DEPTH[ord("{")] = 1
_BRACKET_DEPTH[ord("]")] = _BRACKET_DEPTH[ord("}")] = -1
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
_INT64_DIGITS = 20  # "-9223372036854775808"


def json_depth(payload: bytes) -> int:
    """How deeply the arrays and objects of a JSON text nest (0 for a scalar), without parsing it.

    Linear and allocation-light: the strings are cut out and the brackets counted in C, so that a hostile
    `[[[[...` is measured before `json.loads` recurses into it. Exact for valid JSON; for invalid JSON it is
    an estimate, and `json.loads` refuses the text anyway.
    """
    brackets = _JSON_STRING.sub(b"", payload).translate(None, _NOT_BRACKETS)
    return max(itertools.accumulate(map(_BRACKET_DEPTH.__getitem__, brackets)), default=0)


def _too_deep(payload: bytes, max_depth: int) -> str | None:
    """Why `payload` nests too deeply to be parsed, or None."""
    # Depth is at most the number of opening brackets: most messages are cleared by two C-speed counts.
    if payload.count(b"[") + payload.count(b"{") <= max_depth:
        return None
    depth = json_depth(payload)
    return f"nested {depth} levels deep, more than {max_depth}" if depth > max_depth else None


def _refuse_constant(name: str) -> Any:
    # Python's json reads NaN, Infinity and -Infinity; JSON (RFC 8259) has no such numbers.
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: valid JSON grammar, but no number any system can store
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _int64(text: str) -> int:
    # Integers beyond 64 bits fit no database column (SQLite raises OverflowError on them) and no hub's
    # integer type; the digit limit of int() (4,300) would let far longer ones through.
    if len(text) > _INT64_DIGITS:
        raise ValueError(f"integer {text[:40]}... is out of range")
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"integer {text} is out of range")
    return value


def loads(payload: bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parse an inbound payload as strict JSON; MessageRejected for anything that is not.

    Size first (`oversized`), then nesting deeper than `max_depth` (`malformed_json`, checked before parsing
    so that `json.loads` never recurses into a hostile document), then the parse itself: bytes that are not
    UTF-8 (a UTF-16 or UTF-32 text included), text that is not JSON, `NaN`/`Infinity`, floats that overflow
    and integers outside 64 bits are all `malformed_json`. Nothing else escapes.
    """
    if len(payload) > max_bytes:
        raise MessageRejected(OVERSIZED, f"{len(payload)} bytes > {max_bytes}")
    too_deep = _too_deep(payload, max_depth)
    if too_deep is not None:
        raise MessageRejected(MALFORMED_JSON, too_deep)
    try:
        # Decoded here, strictly: json.loads(bytes) would also take UTF-16 and UTF-32, which the contract is not.
        text = payload.decode("utf-8")
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_int64)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        # RecursionError: only if the depth estimate of an invalid text was wrong; refused all the same.
        raise MessageRejected(MALFORMED_JSON, str(err)[:200]) from err


def _load_object(payload: bytes, max_bytes: int, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    value = loads(payload, max_bytes=max_bytes, max_depth=max_depth)
    if not isinstance(value, dict):
        raise MessageRejected(NOT_AN_OBJECT, type(value).__name__)
    return value


def _strict_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


# -- events (station → hub) -------------------------------------------------------------------------------------
ENVELOPE_FIELDS: dict[str, tuple[type, ...]] = {
    "seq": (int,),
    "event_id": (str,),
    "stream_epoch": (str,),
    "type": (str,),
    "order_id": (str, type(None)),
    "actor": (dict,),
    "at": (dict,),
    "wall_raw": (int,),
    "boot_id": (str,),
    "clock_synced": (bool,),
    "data": (dict,),
    "prev_hash": (str,),
    "hash": (str,),
}


def encode_events(envelopes: Sequence[Envelope]) -> bytes:
    """One `evt` payload: the envelope itself for one event, a batch object for several (contiguous) events."""
    if not envelopes:
        raise ValueError("no events to encode")
    if len(envelopes) == 1:
        return dumps(envelopes[0])
    return dumps(
        {
            "stream_epoch": envelopes[0]["stream_epoch"],
            "first_seq": envelopes[0]["seq"],
            "last_seq": envelopes[-1]["seq"],
            "events": list(envelopes),
        }
    )


def check_envelope(env: Any) -> Envelope:
    """`env` if it has every envelope field with the right JSON type; MessageRejected otherwise."""
    if not isinstance(env, dict):
        raise MessageRejected(NOT_AN_OBJECT, "event is not an object")
    for name, types in ENVELOPE_FIELDS.items():
        if name not in env:
            raise MessageRejected(INVALID_FIELD, f"event lacks {name!r}")
        value = env[name]
        if not isinstance(value, types) or (types == (int,) and isinstance(value, bool)):
            raise MessageRejected(INVALID_FIELD, f"event field {name!r} has type {type(value).__name__}")
    if env["seq"] < 1:
        raise MessageRejected(INVALID_FIELD, "seq must be >= 1")
    return cast(Envelope, env)  # every member checked above (`actor`, `at` and `data` as objects)


def decode_events(payload: bytes, max_bytes: int = 16 * 1024 * 1024) -> list[Envelope]:
    """The envelopes of an `evt` payload (single or batch), checked for shape, contiguity and one epoch."""
    doc = _load_object(payload, max_bytes, MAX_EVENT_DEPTH)
    if "events" not in doc:
        return [check_envelope(doc)]
    events = doc["events"]
    first, last, epoch = doc.get("first_seq"), doc.get("last_seq"), doc.get("stream_epoch")
    if not isinstance(events, list) or not events:
        raise MessageRejected(INVALID_FIELD, "batch events must be a non-empty list")
    if not _strict_int(first) or not _strict_int(last) or not isinstance(epoch, str):
        raise MessageRejected(INVALID_FIELD, "batch needs integer first_seq, last_seq and a stream_epoch")
    if last - first + 1 != len(events):
        raise MessageRejected(INVALID_FIELD, "batch first_seq..last_seq does not match its number of events")
    out = [check_envelope(e) for e in events]
    for offset, env in enumerate(out):
        if env["seq"] != first + offset or env["stream_epoch"] != epoch:
            raise MessageRejected(INVALID_FIELD, f"batch event {offset} is out of sequence or of another epoch")
    return out


# -- acks (hub → station) ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Ack:
    """The hub committed every event of `stream_epoch` through `acked_through`, and lacks the `missing` ranges."""

    stream_epoch: str
    acked_through: int
    missing: tuple[tuple[int, int], ...] = ()
    hub: str | None = None

    def to_wire(self) -> bytes:
        """The `ack` payload."""
        doc: dict[str, Any] = {"stream_epoch": self.stream_epoch, "acked_through": self.acked_through}
        if self.missing:
            doc["missing"] = [list(r) for r in self.missing]
        if self.hub is not None:
            doc["hub"] = self.hub
        return dumps(doc)


def parse_ack(payload: bytes, max_bytes: int = MAX_ACK_BYTES) -> Ack:
    """Check an `ack` payload's shape (the agent checks epoch and range against its outbox)."""
    doc = _load_object(payload, max_bytes)
    epoch, through = doc.get("stream_epoch"), doc.get("acked_through")
    if not isinstance(epoch, str) or not epoch:
        raise MessageRejected(INVALID_FIELD, "stream_epoch must be a non-empty string")
    if not _strict_int(through) or through < 0:
        raise MessageRejected(INVALID_FIELD, "acked_through must be an integer >= 0")
    raw_missing = doc.get("missing", [])
    if not isinstance(raw_missing, list) or len(raw_missing) > MAX_MISSING_RANGES:
        raise MessageRejected(INVALID_FIELD, f"missing must be a list of at most {MAX_MISSING_RANGES} ranges")
    missing: list[tuple[int, int]] = []
    for item in raw_missing:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not all(_strict_int(v) for v in item)
            or not 1 <= item[0] <= item[1]
        ):
            raise MessageRejected(
                INVALID_FIELD, f"missing range {str(item)[:40]} is not [first, last] with 1 <= first <= last"
            )
        missing.append((item[0], item[1]))
    hub = doc.get("hub")
    return Ack(epoch, through, tuple(sorted(missing)), hub if isinstance(hub, str) else None)


# -- commands (hub → station) -----------------------------------------------------------------------------------
class _OrderRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: StrictStr = Field(min_length=1, max_length=64)


class _CancelData(_OrderRef):
    reason: StrictStr = Field("", max_length=500)


class _HoldData(_OrderRef):
    reason: StrictStr = Field(min_length=1, max_length=500)
    expected_version: StrictInt | None = Field(None, ge=1)


class _ReleaseData(_OrderRef):
    reason: StrictStr | None = Field(None, max_length=500)
    expected_version: StrictInt | None = Field(None, ge=1)


class _PriorityData(_OrderRef):
    level: Literal["S", "A", "B", "C"]
    reason: StrictStr | None = Field(None, max_length=500)


class _ClipData(_OrderRef):
    reason: StrictStr | None = Field(None, max_length=500)


class _UpsertData(BaseModel):
    # The order document is validated in full by the station's intake; here only what routing needs.
    model_config = ConfigDict(extra="allow")
    order_id: StrictStr = Field(min_length=1, max_length=64)
    version: StrictInt = Field(ge=1)


class _ConfigData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: StrictStr = Field(pattern=_CONFIG_KEY.pattern, max_length=128)
    value: Any


_DATA_MODELS: dict[str, type[BaseModel]] = {
    "order.upsert": _UpsertData,
    "order.cancel": _CancelData,
    "order.hold": _HoldData,
    "order.release": _ReleaseData,
    "priority.set": _PriorityData,
    "config.set": _ConfigData,
    "clip.request": _ClipData,
}
_ID_SNIFF = re.compile(rb'"cmd_id"\s*:\s*"([\x21\x23-\x7e]{1,64})"')
_SEQ_SNIFF = re.compile(rb'"cmd_seq"\s*:\s*(\d{1,15})[\s,}]')


def _sniff_ids(payload: bytes) -> tuple[str | None, int | None]:
    # An oversized command is not parsed, but naming it lets the hub see which one failed and lets the
    # station record it so that later commands are not blocked behind it.
    head = payload[:4096]
    id_match, seq_match = _ID_SNIFF.search(head), _SEQ_SNIFF.search(head)
    return (
        id_match.group(1).decode() if id_match else None,
        int(seq_match.group(1)) if seq_match else None,
    )


def parse_command(payload: bytes, *, max_bytes: int, mapper: StatusMapper | None = None) -> Command:
    """Check a `cmd` payload and map its data to canonical codes.

    Raises MessageRejected whose `cmd_id` / `cmd_seq` are set as far as they could be read, so that a
    command with a sound id and sequence number but a bad body can still be recorded as refused.
    """
    if len(payload) > max_bytes:
        cmd_id, cmd_seq = _sniff_ids(payload)
        raise MessageRejected(OVERSIZED, f"{len(payload)} bytes > {max_bytes}", cmd_id=cmd_id, cmd_seq=cmd_seq)
    too_deep = _too_deep(payload, MAX_DEPTH)
    if too_deep is not None:
        # Not parsed either (that is the point), but named like an oversized one so that it takes its place.
        cmd_id, cmd_seq = _sniff_ids(payload)
        raise MessageRejected(MALFORMED_JSON, too_deep, cmd_id=cmd_id, cmd_seq=cmd_seq)
    doc = _load_object(payload, max_bytes)
    cmd_id = doc.get("cmd_id")
    if not isinstance(cmd_id, str) or not _CMD_ID.match(cmd_id):
        raise MessageRejected(INVALID_CMD_ID, "cmd_id must be 1-64 printable ASCII characters without spaces")
    cmd_seq = doc.get("cmd_seq")
    if not _strict_int(cmd_seq) or cmd_seq < 1:
        raise MessageRejected(INVALID_CMD_SEQ, "cmd_seq must be an integer >= 1", cmd_id=cmd_id)
    kind = doc.get("type")
    if not isinstance(kind, str) or kind not in _DATA_MODELS:  # a list or object `type` is unhashable
        raise MessageRejected(UNKNOWN_TYPE, f"type {str(kind)[:40]!r}", cmd_id=cmd_id, cmd_seq=cmd_seq)
    raw_data = doc.get("data")
    if not isinstance(raw_data, dict):
        raise MessageRejected(INVALID_DATA, "data must be an object", cmd_id=cmd_id, cmd_seq=cmd_seq)
    data = mapper.inbound(raw_data) if mapper is not None else raw_data
    try:
        _DATA_MODELS[kind].model_validate(data)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'data'}: {e['msg']}" for e in err.errors()[:5])
        raise MessageRejected(INVALID_DATA, problems, cmd_id=cmd_id, cmd_seq=cmd_seq) from err
    issued_at, hub = doc.get("issued_at"), doc.get("hub")
    return Command(
        cmd_id=cmd_id,
        cmd_seq=cmd_seq,
        type=kind,
        data=data,
        issued_at=issued_at if isinstance(issued_at, str) else None,
        hub=hub if isinstance(hub, str) else None,
    )


def encode_command(
    cmd_id: str,
    cmd_seq: int,
    kind: str,
    data: Mapping[str, Any],
    *,
    issued_at: str | None = None,
    hub: str | None = None,
) -> bytes:
    """A `cmd` payload (hub side)."""
    doc: dict[str, Any] = {"cmd_id": cmd_id, "cmd_seq": cmd_seq, "type": kind, "data": dict(data)}
    if issued_at is not None:
        doc["issued_at"] = issued_at
    if hub is not None:
        doc["hub"] = hub
    return dumps(doc)


# -- command acks (station → hub) -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Rejection:
    """One refused command, as reported on `cmd_ack`."""

    cmd_id: str | None
    reason: str
    cmd_seq: int | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Wire form."""
        out: dict[str, Any] = {"cmd_id": self.cmd_id, "reason": self.reason}
        if self.cmd_seq is not None:
            out["cmd_seq"] = self.cmd_seq
        if self.detail:
            out["detail"] = self.detail[:300]
        return out


@dataclass(frozen=True, slots=True)
class CmdAck:
    """Every command through `applied_through` is done (applied or refused); `rejected` lists refusals."""

    applied_through: int
    rejected: tuple[Rejection, ...] = field(default=())

    def to_wire(self) -> bytes:
        """The `cmd_ack` payload."""
        return dumps(
            {
                "applied_through": self.applied_through,
                "rejected": [r.to_dict() for r in self.rejected[:MAX_REJECTED_PER_ACK]],
            }
        )


def parse_cmd_ack(payload: bytes, max_bytes: int = MAX_ACK_BYTES) -> CmdAck:
    """Check a `cmd_ack` payload (hub side)."""
    doc = _load_object(payload, max_bytes)
    through = doc.get("applied_through")
    if not _strict_int(through) or through < 0:
        raise MessageRejected(INVALID_FIELD, "applied_through must be an integer >= 0")
    raw = doc.get("rejected", [])
    if not isinstance(raw, list):
        raise MessageRejected(INVALID_FIELD, "rejected must be a list")
    rejected: list[Rejection] = []
    for item in raw[:MAX_REJECTED_PER_ACK]:
        if not isinstance(item, dict) or not isinstance(item.get("reason"), str):
            raise MessageRejected(INVALID_FIELD, "each rejection needs a reason")
        cid, cseq, detail = item.get("cmd_id"), item.get("cmd_seq"), item.get("detail")
        rejected.append(
            Rejection(
                cid if isinstance(cid, str) else None,
                item["reason"],
                cseq if _strict_int(cseq) else None,
                detail if isinstance(detail, str) else None,
            )
        )
    return CmdAck(through, tuple(rejected))


# -- status and hub state ---------------------------------------------------------------------------------------
def parse_state(payload: bytes) -> Literal["online", "offline"]:
    """The `state` of a retained status or hub-state message."""
    doc = _load_object(payload, MAX_ACK_BYTES)
    state = doc.get("state")
    if state not in ("online", "offline"):
        raise MessageRejected(INVALID_FIELD, "state must be 'online' or 'offline'")
    return "online" if state == "online" else "offline"


def parse_status(payload: bytes) -> dict[str, Any]:
    """A station status document (hub side), with `state` checked."""
    parse_state(payload)
    return _load_object(payload, MAX_ACK_BYTES)
