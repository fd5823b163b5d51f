"""The downlink: hub commands applied once each (on `cmd_id`), in `cmd_seq` order, answered with a `cmd_ack`.

`cmd_seq` is a gapless per-station sequence the hub assigns. A command that arrives ahead of its turn waits in
a bounded buffer until the ones before it arrive (the hub resends everything above `applied_through`). A
command whose id and sequence number can be read but whose body breaks the contract is recorded as refused,
so it takes its place in the sequence and does not block the commands after it; one whose id or sequence
number cannot be read is refused without a place (reported on `cmd_ack` with whatever id could be read).
"""

import logging
from collections import Counter
from dataclasses import dataclass, field

from cloud_sync.errors import MessageRejected
from cloud_sync.mapping import StatusMapper
from cloud_sync.ports import Command, CommandOutcome, CommandSink
from cloud_sync.wire import CMD_SEQ_REUSED, INTERNAL_ERROR, CmdAck, Rejection, parse_command

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Pending:
    cmd_id: str
    cmd_seq: int
    command: Command | None  # None: refused by the contract checks, `refusal` says why
    refusal: Rejection | None = None


@dataclass
class DownlinkStats:
    """Counters for health and tests."""

    received: int = 0
    applied: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    buffered_max: int = 0
    apply_errors: int = 0


class Downlink:
    """Turns `cmd` payloads into calls on the `CommandSink`; every method returns the `cmd_ack` to publish."""

    def __init__(
        self,
        sink: CommandSink,
        *,
        max_command_bytes: int,
        mapper: StatusMapper | None = None,
        buffer_max: int = 1000,
        max_apply_attempts: int = 3,
    ) -> None:
        self._sink = sink
        self._max_bytes = max_command_bytes
        self._mapper = mapper
        self._buffer_max = buffer_max
        self._max_attempts = max_apply_attempts
        self._buffer: dict[int, _Pending] = {}
        self._attempts: Counter[str] = Counter()
        self.applied_through = 0
        self.stats = DownlinkStats()

    def load(self) -> None:
        """Read the bookkeeping from the station."""
        self.applied_through = self._sink.cmd_applied_through()

    @property
    def waiting(self) -> int:
        """Commands buffered ahead of their turn (or waiting for a retry after an error)."""
        return len(self._buffer)

    def current(self) -> CmdAck:
        """A `cmd_ack` with no rejections: where the station is."""
        return CmdAck(self.applied_through)

    def handle(self, payload: bytes) -> CmdAck:
        """Process one `cmd` payload; never raises for anything the hub sent."""
        self.stats.received += 1
        rejections: list[Rejection] = []
        try:
            cmd = parse_command(payload, max_bytes=self._max_bytes, mapper=self._mapper)
        except MessageRejected as err:
            self.stats.refused[err.reason] += 1
            logger.warning("command %s (seq %s) refused: %s", err.cmd_id, err.cmd_seq, err)
            refusal = Rejection(err.cmd_id, err.reason, err.cmd_seq, err.detail)
            if err.cmd_id is not None and err.cmd_seq is not None:
                self._enqueue(_Pending(err.cmd_id, err.cmd_seq, None, refusal), rejections)
            else:
                rejections.append(refusal)
        else:
            self._enqueue(_Pending(cmd.cmd_id, cmd.cmd_seq, cmd), rejections)
        rejections.extend(self._drain())
        return CmdAck(self.applied_through, tuple(rejections))

    def retry(self) -> CmdAck | None:
        """Try again commands held back by an error in the station; a `cmd_ack` if anything moved."""
        before = self.applied_through
        rejections = self._drain()
        if self.applied_through == before and not rejections:
            return None
        return CmdAck(self.applied_through, tuple(rejections))

    def _enqueue(self, pending: _Pending, rejections: list[Rejection]) -> None:
        record = self._sink.cmd_record(pending.cmd_id)
        if record is not None:
            # Already done: say so again (the hub may have lost our cmd_ack), never apply twice.
            self.stats.duplicates += 1
            if not record.applied:
                rejections.append(Rejection(record.cmd_id, record.reason or "refused", record.cmd_seq))
            return
        if pending.cmd_seq <= self.applied_through:
            self.stats.refused[CMD_SEQ_REUSED] += 1
            logger.warning("command %s reuses cmd_seq %s, already done", pending.cmd_id, pending.cmd_seq)
            rejections.append(Rejection(pending.cmd_id, CMD_SEQ_REUSED, pending.cmd_seq))
            return
        held = self._buffer.get(pending.cmd_seq)
        if held is not None and held.cmd_id != pending.cmd_id:
            self.stats.refused[CMD_SEQ_REUSED] += 1
            rejections.append(Rejection(pending.cmd_id, CMD_SEQ_REUSED, pending.cmd_seq))
            return
        if held is None and len(self._buffer) >= self._buffer_max:
            logger.warning(
                "command buffer full; dropping %s (seq %s), the hub will resend", pending.cmd_id, pending.cmd_seq
            )
            return
        self._buffer[pending.cmd_seq] = pending
        self.stats.buffered_max = max(self.stats.buffered_max, len(self._buffer))

    def _drain(self) -> list[Rejection]:
        rejections: list[Rejection] = []
        while (pending := self._buffer.get(self.applied_through + 1)) is not None:
            outcome = self._outcome(pending)
            if outcome is None:
                break  # the station failed; keep the command for `retry()`
            try:
                self._sink.record_cmd(pending.cmd_id, pending.cmd_seq, outcome)
            except Exception:
                logger.exception("could not record command %s; will retry", pending.cmd_id)
                self.stats.apply_errors += 1
                break
            del self._buffer[pending.cmd_seq]
            self._attempts.pop(pending.cmd_id, None)
            self.applied_through = pending.cmd_seq
            if outcome.applied:
                self.stats.applied += 1
            else:
                reason = outcome.reason or "refused"
                if pending.command is not None:
                    self.stats.refused[reason] += 1
                detail = pending.refusal.detail if pending.refusal is not None else outcome.detail
                rejections.append(Rejection(pending.cmd_id, reason, pending.cmd_seq, detail))
        return rejections

    def _outcome(self, pending: _Pending) -> CommandOutcome | None:
        if pending.command is None:
            assert pending.refusal is not None
            return CommandOutcome(False, pending.refusal.reason)
        try:
            return self._sink.apply_command(pending.command)
        except Exception:
            self.stats.apply_errors += 1
            self._attempts[pending.cmd_id] += 1
            attempts = self._attempts[pending.cmd_id]
            logger.exception("command %s failed in the station (attempt %s)", pending.cmd_id, attempts)
            if attempts < self._max_attempts:
                return None
            return CommandOutcome(False, INTERNAL_ERROR)
