"""Priority levels (S > A > B > C) from configurable rules, and SLA colours from the time left to the deadline.

Rules are tried in order; the first whose conditions all hold gives the level and is named in the
`priority.changed` event. An explicit level from the hub or a supervisor wins over the rules. The defaults
(docs/orders.md, "Priority and alerts"): VIP ≥ A and amount > 5000 → S; notes with 加急/urgent → A; ordered in
the last 10 minutes of a live-stream promotion → B; otherwise C.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import ConfigDict, Field

from station.config_section import ConfigSection

Level = Literal["S", "A", "B", "C"]
LEVEL_RANK: dict[str, int] = {"S": 0, "A": 1, "B": 2, "C": 3}
VIP_RANK = LEVEL_RANK


class PriorityRule(ConfigSection):
    """One rule: every condition given must hold (conditions left unset are ignored)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=64, description="Named in the priority.changed event.")
    level: Level
    vip_at_least: Level | None = Field(None, description="Customer VIP level at least this (S best).")
    amount_above: Decimal | None = Field(None, ge=0, description="Order amount strictly above this.")
    notes_contain: list[str] = Field(default_factory=list, description="Notes contain any of these (case-insensitive).")
    tags_any: list[str] = Field(default_factory=list, description="The order carries any of these tags.")
    channel_in: list[str] = Field(default_factory=list, description="The order came from one of these channels.")
    placed_in_last_promo_minutes: int | None = Field(
        None, ge=1, description="Placed within this many minutes before the promotion ended (promo_ends_at)."
    )

    def matches(self, doc: Mapping[str, Any]) -> bool:
        """True when every condition set on this rule holds for the order document."""
        customer = doc.get("customer") or {}
        checks = []
        if self.vip_at_least is not None:
            vip = customer.get("vip_level") if isinstance(customer, Mapping) else None
            checks.append(vip in VIP_RANK and VIP_RANK[vip] <= VIP_RANK[self.vip_at_least])
        if self.amount_above is not None:
            checks.append(_decimal(doc.get("amount")) > self.amount_above)
        if self.notes_contain:
            notes = str(doc.get("notes") or "").casefold()
            checks.append(any(word.casefold() in notes for word in self.notes_contain))
        if self.tags_any:
            checks.append(bool(set(doc.get("tags") or []) & set(self.tags_any)))
        if self.channel_in:
            checks.append(doc.get("channel") in self.channel_in)
        if self.placed_in_last_promo_minutes is not None:
            placed, ends = _when(doc.get("placed_at")), _when(doc.get("promo_ends_at"))
            window = timedelta(minutes=self.placed_in_last_promo_minutes)
            checks.append(placed is not None and ends is not None and ends - window <= placed <= ends)
        return all(checks)


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(-1)
    except (InvalidOperation, ValueError):
        return Decimal(-1)


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _default_rules() -> list[PriorityRule]:
    return [
        PriorityRule(name="vip_big_order", level="S", vip_at_least="A", amount_above=Decimal(5000)),
        PriorityRule(name="urgent_note", level="A", notes_contain=["加急", "urgent"]),
        PriorityRule(name="live_promo_rush", level="B", placed_in_last_promo_minutes=10),
    ]


class PrioritySettings(ConfigSection):
    """The `[priority]` section: level rules, SLA colour thresholds, queue leases and alert thresholds."""

    rules: list[PriorityRule] = Field(
        default_factory=_default_rules,
        description="Tried in order; the first matching rule sets the level. "
        "Conditions: vip_at_least, amount_above, notes_contain, tags_any, channel_in, placed_in_last_promo_minutes.",
    )
    default_level: Level = Field("C", description="Level when no rule matches.")
    sla_red_h: float = Field(2, gt=0, description="Red when the deadline is less than this many hours away.")
    sla_orange_h: float = Field(24, gt=0, description="Orange below this many hours.")
    sla_yellow_h: float = Field(72, gt=0, description="Yellow below this many hours; green beyond.")
    claim_lease_s: int = Field(180, ge=10, le=3600, description="How long a PDA's claim on an order lasts.")
    stale_order_h: float = Field(2, gt=0, description="Alert when an active order has no status change this long.")
    s_waiting_max: int = Field(3, ge=1, description="Alert (and stop new S escalations) above this many S waiting.")
    s_breaker_h: float = Field(2, gt=0, description="How long new S escalations are refused after that alert.")
    pending_max: int = Field(200, ge=1, description="Alert above this many pending orders.")
    mean_wait_max_min: float = Field(8, gt=0, description="Alert when pending orders wait longer than this on average.")
    conflict_roles: int = Field(3, ge=2, description="Alert when this many different roles changed one order...")
    conflict_window_h: float = Field(24, gt=0, description="...within this many hours.")
    alert_tick_s: float = Field(30, gt=0, description="How often alert conditions are evaluated.")
    broker_down_after_s: float = Field(
        120, gt=0, description="Alert (device_down broker) when a configured MQTT broker is unreachable this long."
    )
    attention_light: bool = Field(True, description="Show a raised alert on the stack light (amber blinking).")


@dataclass(frozen=True, slots=True)
class PriorityDecision:
    """The level an order gets and why."""

    level: str
    rule: str  # the rule's name, "default", or "override" (an explicit level from the hub or a supervisor)


def evaluate(doc: Mapping[str, Any], settings: PrioritySettings, override: str | None = None) -> PriorityDecision:
    """The order's level: an explicit override wins, else the first matching rule, else the default."""
    if override is not None:
        return PriorityDecision(override, "override")
    for rule in settings.rules:
        if rule.matches(doc):
            return PriorityDecision(rule.level, rule.name)
    return PriorityDecision(settings.default_level, "default")


def sla_colour(seconds_left: float | None, settings: PrioritySettings) -> str:
    """red / orange / yellow / green from the time left; `none` without a deadline."""
    if seconds_left is None:
        return "none"
    hours = seconds_left / 3600
    if hours < settings.sla_red_h:
        return "red"
    if hours < settings.sla_orange_h:
        return "orange"
    if hours < settings.sla_yellow_h:
        return "yellow"
    return "green"
