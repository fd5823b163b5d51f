"""The narrow interface between the sync agent and the station: what cloud_sync needs, nothing more.

cloud_sync never imports `station` (docs/architecture.md, "Packages and import rules"). The station's composition
root passes objects that satisfy these protocols: its `Store` already is an `Outbox`; a small adapter over order
intake, actions and config is the `CommandSink`. Every method is called from the asyncio loop thread that runs the
agent, never from paho's network thread, so the station keeps its single SQLite writer.
"""

from dataclasses import dataclass
from typing import Any, Protocol

from cloud_sync.events import Envelope


class Outbox(Protocol):
    """The station's event log seen as an outbox: events in gapless `seq` order, acknowledged by prefix."""

    @property
    def stream_epoch(self) -> str:
        """UUID of this event stream (changes only when the station database is recreated)."""
        ...

    def events_from(self, first_seq: int, limit: int = 1000) -> list[Envelope]:
        """Event envelopes with seq >= first_seq, in seq order, at most `limit` of them."""
        ...

    def unacked(self, limit: int = 1000) -> list[Envelope]:
        """The oldest envelopes not yet acknowledged by the hub, in seq order."""
        ...

    def mark_acked(self, through_seq: int) -> int:
        """Record that the hub committed every event up to `through_seq`; return how many events that newly covers."""
        ...

    def backlog(self) -> int:
        """How many events wait for the hub's acknowledgement."""
        ...

    def last_seq(self) -> int:
        """The highest seq written (0 for an empty stream)."""
        ...


@dataclass(frozen=True, slots=True)
class Command:
    """A hub command that passed the contract checks (CONTRACT.md, "Commands"), already mapped to canonical codes.

    `data` has been checked for its shape per `type` (e.g. `order_id` present); the station still applies its
    own rules (order versions, the lifecycle, the config schema) and may refuse with a reason.
    """

    cmd_id: str
    cmd_seq: int
    type: str
    data: dict[str, Any]
    issued_at: str | None = None
    hub: str | None = None


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """What the station did with a command: applied, or refused with a short reason code (`unknown_order`...)
    and optionally a human-readable `detail` (both go to the hub in `cmd_ack`)."""

    applied: bool
    reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """A command already processed, as the station's bookkeeping remembers it."""

    cmd_id: str
    cmd_seq: int
    applied: bool
    reason: str | None = None


class CommandSink(Protocol):
    """Applies hub commands and persists the command bookkeeping (in the station database).

    The agent guarantees: `apply_command` is called at most once per `cmd_id` as long as `record_cmd` was
    called after it, and in strictly increasing `cmd_seq` order without gaps. `record_cmd` is also called
    without `apply_command` for commands refused by the contract checks, so `cmd_applied_through` advances past
    them. The station should record in the same transaction as the command's effect when it can; if it
    records right after instead, a power cut in between makes the agent apply that one command again, which
    every command type tolerates (order versions, "already cancelled", "already on hold").
    """

    def apply_command(self, cmd: Command) -> CommandOutcome:
        """Apply one command through the station's intake / actions / config; never raise for a refusal."""
        ...

    def cmd_applied_through(self) -> int:
        """The highest cmd_seq recorded so far (0 when none): every command up to it is done."""
        ...

    def cmd_record(self, cmd_id: str) -> CommandRecord | None:
        """The bookkeeping of `cmd_id`, or None if it was never processed."""
        ...

    def record_cmd(self, cmd_id: str, cmd_seq: int, outcome: CommandOutcome) -> None:
        """Persist that command `cmd_id` (number `cmd_seq`) is done with `outcome`."""
        ...
