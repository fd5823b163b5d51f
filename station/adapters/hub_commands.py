"""The hub's commands applied at the station: the `CommandSink` the sync agent drives (cloud_sync/CONTRACT.md).

Each command goes through the same intake and actions as everything else (`order.upsert` → order intake,
`order.cancel` → cancellation with interception, hold/release with the order version, `priority.set`,
`config.set`, `clip.request` → the packing camera, whose `clip.ready` event follows). The bookkeeping that makes
them idempotent — which cmd_id was applied, up to which cmd_seq — lives in the station database. `config.set`
is validated against the configuration schema before it applies, is persisted (a restart keeps it), and only
touches the sections a hub may steer.
"""

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from cloud_sync.ports import Command, CommandOutcome, CommandRecord
from station.config import Settings
from station.events import Actor, NewEvent
from station.orders.actions import perform_action
from station.orders.intake import cancel_order, intake_order
from station.orders.lifecycle import Action
from station.priority.prioritizer import set_priority
from station.store import Store

logger = logging.getLogger(__name__)

# Sections the hub may change at run time; identity, storage, API and sync stay with the site.
HUB_CONFIGURABLE = ("workflow", "scan", "priority")


ConfigApplied = Callable[[str, BaseModel], None]
ClipRequest = Callable[[str], str | None]
"""Starts making an order's clip in the background; returns the refusal reason, or None."""


def validated_section(settings: Settings, section: str, key: str, value: Any) -> BaseModel:
    """The section with `key` set to `value`, validated; raises ValueError naming the problem."""
    if section not in HUB_CONFIGURABLE:
        raise ValueError(f"section '{section}' cannot be set by the hub (allowed: {', '.join(HUB_CONFIGURABLE)})")
    current: BaseModel = getattr(settings, section)
    if key not in type(current).model_fields:
        raise ValueError(f"unknown key '{section}.{key}'")
    data = current.model_dump()
    data[key] = value
    try:
        return type(current).model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        raise ValueError(f"{section}.{key}: {first['msg']}") from err


def apply_stored_config(store: Store, settings: Settings) -> list[str]:
    """Re-apply the configuration the hub set before a restart; return the keys applied."""
    with store.reading() as repo:
        rows = list(repo.db.query("SELECT section, key, value FROM hub_config ORDER BY at_ms"))
    applied = []
    for row in rows:
        try:
            setattr(
                settings,
                row["section"],
                validated_section(settings, row["section"], row["key"], json.loads(row["value"])),
            )
            applied.append(f"{row['section']}.{row['key']}")
        except ValueError:
            logger.exception("stored hub configuration %s.%s no longer validates; ignored", row["section"], row["key"])
    return applied


class StationCommands:
    """Applies hub commands to the station and keeps their bookkeeping."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        on_config: ConfigApplied | None = None,
        request_clip: ClipRequest | None = None,
    ) -> None:
        """``request_clip`` is the packing camera's (None: no camera, and ``clip.request`` is refused)."""
        self.store = store
        self.settings = settings
        self._on_config = on_config
        self._request_clip = request_clip

    # -- bookkeeping (the agent calls these) -------------------------------------------------------------------
    def cmd_applied_through(self) -> int:
        """The highest cmd_seq recorded (0 if none)."""
        with self.store.reading() as repo:
            return int(next(repo.db.query("SELECT coalesce(max(cmd_seq), 0) AS n FROM hub_commands"))["n"])

    def cmd_record(self, cmd_id: str) -> CommandRecord | None:
        """The record of a command already seen, or None."""
        with self.store.reading() as repo:
            row = next(repo.db.query("SELECT * FROM hub_commands WHERE cmd_id = ?", [cmd_id]), None)
        if row is None:
            return None
        return CommandRecord(row["cmd_id"], row["cmd_seq"], bool(row["applied"]), row["reason"])

    def record_cmd(self, cmd_id: str, cmd_seq: int, outcome: CommandOutcome) -> None:
        """Remember a command's outcome (also for commands refused before they were applied)."""
        with self.store.transaction() as tx:
            tx.repo.db.execute(
                "INSERT OR IGNORE INTO hub_commands (cmd_id, cmd_seq, applied, reason, at_ms) VALUES (?,?,?,?,?)",
                [cmd_id, cmd_seq, int(outcome.applied), outcome.reason, tx.wall_now_ms()],
            )

    # -- applying ---------------------------------------------------------------------------------------------
    def apply_command(self, cmd: Command) -> CommandOutcome:
        """Apply one command; a refusal comes back with its reason code and detail (to the hub in cmd_ack)."""
        actor = Actor(role="hub", id=cmd.hub or "hub", device="mqtt")
        try:
            outcome = self._apply(cmd.type, cmd.data, actor, cmd.cmd_id)
        except (KeyError, TypeError, ValueError) as err:
            outcome = _refused("invalid_data", str(err))
        if not outcome.applied:
            logger.warning(
                "hub command %s (%s) refused: %s%s",
                cmd.cmd_id,
                cmd.type,
                outcome.reason,
                f" ({outcome.detail})" if outcome.detail else "",
            )
        return outcome

    def _apply(self, kind: str, data: Mapping[str, Any], actor: Actor, cmd_id: str) -> CommandOutcome:
        if kind == "order.upsert":
            result = intake_order(self.store, data, actor, self.settings.priority)
            return APPLIED if result.ok else _refused(result.reason or "refused", "; ".join(result.errors[:3]))
        if kind == "order.cancel":
            result = cancel_order(
                self.store, str(data["order_id"]), str(data.get("reason") or "cancelled by hub"), actor
            )
            return APPLIED if result.ok else _refused(result.reason or "refused")
        if kind in ("order.hold", "order.release"):
            action = Action.HOLD if kind == "order.hold" else Action.RELEASE
            expected = data.get("expected_version")
            done = perform_action(
                self.store,
                str(data["order_id"]),
                action,
                actor,
                reason=str(data.get("reason") or "hub"),
                expected_version=int(expected) if expected is not None else None,
            )
            return _outcome(done.refusal)
        if kind == "priority.set":
            level = data.get("level")
            if level not in ("S", "A", "B", "C", None):
                return _refused("invalid_data", "level must be S, A, B, C or null")
            return _outcome(
                set_priority(self.store, str(data["order_id"]), level, actor, self.settings.priority).refusal
            )
        if kind == "config.set":
            return self._config_set(data, actor, cmd_id)
        if kind == "clip.request":
            return self._clip_request(str(data["order_id"]))
        return _refused("unknown_type", kind)

    def _clip_request(self, order_id: str) -> CommandOutcome:
        if self._request_clip is None:
            return _refused("clip_unavailable", "this station has no packing camera")
        with self.store.reading() as repo:
            if repo.order(order_id) is None:
                return _refused("order_not_found")
        return _outcome(self._request_clip(order_id))

    def _config_set(self, data: Mapping[str, Any], actor: Actor, cmd_id: str) -> CommandOutcome:
        section, _, key = str(data["key"]).partition(".")
        try:
            model = validated_section(self.settings, section, key, data["value"])
        except ValueError as err:
            return _refused("invalid_config", str(err))
        with self.store.transaction() as tx:
            tx.repo.db.execute(
                "INSERT INTO hub_config (section, key, value, cmd_id, at_ms) VALUES (?,?,?,?,?) "
                "ON CONFLICT (section, key) DO UPDATE SET value = excluded.value, cmd_id = excluded.cmd_id, "
                "at_ms = excluded.at_ms",
                [section, key, json.dumps(data["value"], ensure_ascii=False), cmd_id, tx.wall_now_ms()],
            )
            tx.append(NewEvent("config.changed", actor, None, {"key": f"{section}.{key}", "value": data["value"]}))
        setattr(self.settings, section, model)
        if self._on_config is not None:
            self._on_config(section, model)
        return APPLIED


APPLIED = CommandOutcome(True)


def _refused(reason: str, detail: str | None = None) -> CommandOutcome:
    # The contract's `reason` is a short code the hub can match on; what went wrong goes in `detail`.
    return CommandOutcome(False, reason, detail[:300] if detail else None)


def _outcome(refusal: str | None) -> CommandOutcome:
    return APPLIED if refusal is None else _refused(refusal)
