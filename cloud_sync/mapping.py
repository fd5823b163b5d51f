"""Status-code and field-name mapping for hubs that speak other codes (ERP `status=2`, WMS `shipped`...).

Applied at the edge of cloud_sync only: inbound on command data before the station sees it, outbound on
event data before it goes on the wire. Outbound mapping never rewrites an event's `data`, which its hash
covers; it adds a `mapped` member with the translated copy, so the hub can still verify the hash chain.
"""

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cloud_sync.events import Envelope

# The canonical order statuses (docs/orders.md, "Lifecycle"). The codes are the contract with the hub.
CANONICAL_STATUSES: tuple[str, ...] = (
    "pending",
    "packing",
    "packed",
    "labeled",
    "handed_over",
    "on_hold",
    "cancelled",
)


class MappingTable(BaseModel):
    """One direction of the mapping: status codes and field names, each `from → to`."""

    model_config = ConfigDict(extra="forbid")

    status: dict[str, str] = Field(
        default_factory=dict,
        description='Status codes to translate, from → to. Numeric codes are written as strings ("2").',
    )
    fields: dict[str, str] = Field(
        default_factory=dict, description="Field names to translate, from → to (applied at every nesting level)."
    )


class MappingSettings(BaseModel):
    """The `[sync.mapping]` table: how the hub's codes relate to the station's canonical ones."""

    model_config = ConfigDict(extra="forbid")

    status_fields: list[str] = Field(
        default_factory=lambda: ["status", "from", "to", "held_from"],
        description="Canonical names of the fields whose values are order status codes.",
    )
    inbound: MappingTable = Field(
        default_factory=MappingTable,
        description="Hub → station (commands): foreign code or field name → canonical one.",
    )
    outbound: MappingTable = Field(
        default_factory=MappingTable,
        description="Station → hub (events, as the `mapped` copy of `data`): canonical → foreign.",
    )

    @model_validator(mode="after")
    def _canonical_side_is_canonical(self) -> "MappingSettings":
        wrong_in = sorted(v for v in self.inbound.status.values() if v not in CANONICAL_STATUSES)
        if wrong_in:
            raise ValueError(f"inbound.status maps to unknown canonical statuses {wrong_in}; use {CANONICAL_STATUSES}")
        wrong_out = sorted(k for k in self.outbound.status if k not in CANONICAL_STATUSES)
        if wrong_out:
            raise ValueError(f"outbound.status maps from unknown canonical statuses {wrong_out}")
        return self

    @property
    def outbound_active(self) -> bool:
        """True when events get a `mapped` copy."""
        return bool(self.outbound.status or self.outbound.fields)


class StatusMapper:
    """Applies a `MappingSettings` table to JSON-like documents; pure and cheap when the table is empty."""

    def __init__(self, settings: MappingSettings) -> None:
        self._settings = settings
        self._status_fields = frozenset(settings.status_fields)

    @property
    def outbound_active(self) -> bool:
        """True when outbound mapping changes anything."""
        return self._settings.outbound_active

    def inbound(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of a command's `data` with foreign field names and status codes made canonical."""
        table = self._settings.inbound
        if not table.status and not table.fields:
            return dict(doc)
        return _map_object(doc, table.fields, table.status, self._status_fields, rename_first=True)

    def outbound(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of an event's `data` with canonical status codes and field names made foreign."""
        table = self._settings.outbound
        return _map_object(data, table.fields, table.status, self._status_fields, rename_first=False)

    def add_mapped(self, envelope: Envelope) -> Envelope:
        """The envelope to publish: unchanged, or with a `mapped` member when outbound mapping is configured."""
        if not self.outbound_active:
            return envelope
        out = envelope.copy()
        out["mapped"] = self.outbound(envelope.get("data") or {})
        return out


def _map_value(
    value: Any, fields: Mapping[str, str], status: Mapping[str, str], status_fields: frozenset[str], rename_first: bool
) -> Any:
    if isinstance(value, Mapping):
        return _map_object(value, fields, status, status_fields, rename_first=rename_first)
    if isinstance(value, list):
        return [_map_value(v, fields, status, status_fields, rename_first) for v in value]
    return value


def _map_object(
    doc: Mapping[str, Any],
    fields: Mapping[str, str],
    status: Mapping[str, str],
    status_fields: frozenset[str],
    *,
    rename_first: bool,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        new_key = fields.get(key, key)
        # Status fields are named canonically: inbound that is the name after renaming, outbound before it.
        canonical_key = new_key if rename_first else key
        if canonical_key in status_fields and isinstance(value, (str, int)) and not isinstance(value, bool):
            mapped: Any = status.get(str(value), value)
        else:
            mapped = _map_value(value, fields, status, status_fields, rename_first)
        out[new_key] = mapped
    return out
