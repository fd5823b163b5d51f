"""The uplink state machine: which events to publish next, and what the hub's acks and the broker's PUBACKs mean.

Pure logic over the `Outbox` port, no MQTT, so it can be tested step by step. The rules (CONTRACT.md §3.3):
- events go out in seq order from the first one the hub has not acknowledged; several at once when behind;
- at most `window` messages wait for a PUBACK (the broker's Receive Maximum), and at most `max_ahead_events`
  events in `max_ahead_messages` messages wait for the hub's ack, so the broker never has to queue much on
  our behalf (Mosquitto drops QoS 1 messages beyond a client's `max_queued_messages`, 1000 by default);
- an event is done only when the hub's ack covers it; a PUBACK only frees a window slot, and a PUBACK with a
  failure reason code (e.g. not authorised) is a failure: the events are sent again after a pause;
- the hub's `missing` ranges are sent again selectively; a link (re)start, a restart of the process and a
  stall of ack progress send again from the first unacknowledged event (go-back-N).
"""

import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from cloud_sync.errors import MessageRejected
from cloud_sync.events import Envelope
from cloud_sync.mapping import StatusMapper
from cloud_sync.ports import Outbox
from cloud_sync.wire import ACKED_BEYOND_HEAD, WRONG_STREAM_EPOCH, Ack, encode_events

logger = logging.getLogger(__name__)

StallVerdict = Literal["ok", "resent", "restart"]


@dataclass(frozen=True, slots=True)
class Publication:
    """One `evt` message to publish: events first_seq..last_seq."""

    first_seq: int
    last_seq: int
    payload: bytes
    resend: bool

    @property
    def count(self) -> int:
        """Number of events carried."""
        return self.last_seq - self.first_seq + 1


@dataclass
class UplinkStats:
    """Counters for health and tests."""

    messages: int = 0
    events: int = 0
    resent_events: int = 0
    puback_failures: int = 0
    acks: int = 0
    duplicate_acks: int = 0
    stale_acks: int = 0
    rejected_acks: Counter[str] = field(default_factory=Counter)
    stall_resends: int = 0
    missing_resends: int = 0
    max_inflight_seen: int = 0
    lost_pubacks: int = 0


class Uplink:
    """Decides what to publish; call `load()` once, `link_up()` on each CONNACK, then `take()` / `sent()`."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        batch_max_events: int,
        batch_max_bytes: int,
        max_ahead_events: int,
        ack_timeout_s: float,
        max_ahead_messages: int = 200,
        stall_restarts_link_after: int,
        mapper: StatusMapper | None = None,
        clock: Callable[[], float] = time.monotonic,
        ack_flush_interval_s: float = 0.05,
        readahead_events: int = 500,
    ) -> None:
        self._outbox = outbox
        self._batch_max_events = batch_max_events
        self._batch_max_bytes = batch_max_bytes
        self._max_ahead = max_ahead_events
        self._max_ahead_messages = max_ahead_messages
        self._ahead: deque[int] = deque()  # last seq of each message published in order and not yet acked
        self._ack_timeout_s = ack_timeout_s
        self._restart_after = stall_restarts_link_after
        self._mapper = mapper
        self._clock = clock
        self.stats = UplinkStats()
        self.acked_through = 0
        self.next_seq = 1
        self.known_head = 0
        self.max_published = 0
        self.last_ack_wall: float | None = None
        self._up = False
        self._window = 1
        self._max_bytes = batch_max_bytes
        self._inflight: dict[int, Publication] = {}
        self._sent_at: dict[int, float] = {}
        self._resend: list[tuple[int, int]] = []
        self._resent_at: dict[int, float] = {}
        self._last_progress = clock()
        self._stalls = 0
        self._blocked_until = 0.0
        self._puback_penalty_s = 1.0
        self._flush_interval_s = ack_flush_interval_s
        self._saved_through = 0
        self._last_flush = float("-inf")
        self._readahead_n = readahead_events
        self._readahead: list[Envelope] = []

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def load(self) -> None:
        """Read where the hub is from the outbox (after a restart, everything unacked is sent again)."""
        self.known_head = self._outbox.last_seq()
        first = self._outbox.unacked(limit=1)
        self.acked_through = int(first[0]["seq"]) - 1 if first else self.known_head
        self._saved_through = self.acked_through
        self.next_seq = self.acked_through + 1
        self.max_published = self.acked_through

    def link_up(self, window: int, max_packet_bytes: int | None = None) -> None:
        """A session is up: resend from the first unacknowledged event, `window` messages at a time."""
        self._up = True
        self._window = max(1, window)
        # Leave room for the MQTT fixed header, topic and properties.
        self._max_bytes = (
            self._batch_max_bytes
            if max_packet_bytes is None
            else min(self._batch_max_bytes, max(1024, max_packet_bytes - 1024))
        )
        self._inflight.clear()
        self._sent_at.clear()
        self._blocked_until = 0.0
        self.rewind()

    def link_down(self) -> None:
        """The session is gone: PUBACKs for the old messages will never come."""
        self.flush_acks(force=True)
        self._up = False
        self._inflight.clear()
        self._sent_at.clear()

    def rewind(self) -> None:
        """Go back to the first unacknowledged event (the hub deduplicates what it already has)."""
        self.next_seq = self.acked_through + 1
        self._resend.clear()
        self._ahead.clear()
        self._readahead = []
        self._last_progress = self._clock()
        self.refresh_head()

    def refresh_head(self, seq: int | None = None) -> None:
        """Learn about new events (from the store's commit notification, or by asking the outbox)."""
        if seq is None:
            self.known_head = self._outbox.last_seq()
        elif seq > self.known_head:
            self.known_head = seq

    # -- publishing ---------------------------------------------------------------------------------------------
    @property
    def inflight(self) -> int:
        """Messages waiting for a PUBACK."""
        return len(self._inflight)

    @property
    def window(self) -> int:
        """The current in-flight limit."""
        return self._window

    def take(self, other_inflight: int = 0) -> Publication | None:
        """The next message to publish, or None if the window is full, the hub is too far behind, or all is sent.

        `other_inflight` counts the caller's other QoS 1 messages awaiting PUBACK (status, cmd_ack): the
        broker's Receive Maximum covers them too.
        """
        if not self._up or len(self._inflight) + other_inflight >= self._window:
            return None
        if self._clock() < self._blocked_until:
            return None
        while self._resend:
            first, last = self._resend[0]
            if first >= self.next_seq:  # will go out in order anyway
                self._resend.pop(0)
                continue
            last = min(last, self.next_seq - 1)
            envelopes = self._outbox.events_from(first, min(self._batch_max_events, last - first + 1))
            if not envelopes or envelopes[0]["seq"] > last:
                self._resend.pop(0)
                continue
            pub = self._publication(envelopes, resend=True)
            if pub.last_seq >= last:
                self._resend.pop(0)
            else:
                self._resend[0] = (pub.last_seq + 1, last)
            self.stats.missing_resends += pub.count
            return pub
        room = self.acked_through + self._max_ahead - (self.next_seq - 1)
        if room <= 0 or self.next_seq > self.known_head or len(self._ahead) >= self._max_ahead_messages:
            return None
        envelopes = self._fetch(self.next_seq, min(self._batch_max_events, room))
        if not envelopes:
            self.refresh_head()
            return None
        resend = int(envelopes[0]["seq"]) <= self.max_published
        pub = self._publication(envelopes, resend=resend)
        self.next_seq = pub.last_seq + 1
        self._ahead.append(pub.last_seq)
        return pub

    def _fetch(self, first: int, limit: int) -> list[Envelope]:
        # One query per few hundred events rather than one per message when the stream is not batched.
        buffered = self._readahead
        if not buffered or int(buffered[0]["seq"]) != first:
            buffered = self._outbox.events_from(first, max(limit, self._readahead_n))
        out, self._readahead = buffered[:limit], buffered[limit:]
        return out

    def _publication(self, envelopes: list[Envelope], *, resend: bool) -> Publication:
        if self._mapper is not None and self._mapper.outbound_active:
            envelopes = [self._mapper.add_mapped(e) for e in envelopes]
        payload = encode_events(envelopes)
        while len(payload) > self._max_bytes and len(envelopes) > 1:
            # Shrink proportionally (with a margin) rather than one event at a time.
            keep = max(1, min(len(envelopes) - 1, int(len(envelopes) * self._max_bytes / len(payload) * 0.9)))
            envelopes = envelopes[:keep]
            payload = encode_events(envelopes)
        return Publication(int(envelopes[0]["seq"]), int(envelopes[-1]["seq"]), payload, resend)

    def sent(self, mid: int, pub: Publication) -> None:
        """`pub` was handed to the MQTT client as message `mid`."""
        if self.max_published <= self.acked_through:
            self._last_progress = self._clock()  # the ack timer starts when something is outstanding
        self._inflight[mid] = pub
        self._sent_at[mid] = self._clock()
        self.stats.messages += 1
        self.stats.events += pub.count
        if pub.resend:
            self.stats.resent_events += pub.count
        self.max_published = max(self.max_published, pub.last_seq)
        self.stats.max_inflight_seen = max(self.stats.max_inflight_seen, len(self._inflight))

    def puback(self, mid: int, ok: bool, reason: str = "") -> None:
        """The broker answered message `mid`. Only frees the window; a failure means the events were not taken."""
        pub = self._inflight.pop(mid, None)
        self._sent_at.pop(mid, None)
        if pub is None or ok:
            self._puback_penalty_s = 1.0 if ok else self._puback_penalty_s
            return
        self.stats.puback_failures += 1
        logger.error(
            "broker refused events %s..%s (%s); retrying in %.1f s",
            pub.first_seq,
            pub.last_seq,
            reason,
            self._puback_penalty_s,
        )
        if pub.first_seq > self.acked_through:
            self.next_seq = min(self.next_seq, pub.first_seq)
        self._blocked_until = self._clock() + self._puback_penalty_s
        self._puback_penalty_s = min(self._puback_penalty_s * 2, self._ack_timeout_s)

    # -- the hub's acks -----------------------------------------------------------------------------------------
    def ack(self, ack: Ack) -> int:
        """Apply a hub ack; return how many events it newly acknowledged. Raises MessageRejected."""
        if ack.stream_epoch != self._outbox.stream_epoch:
            raise MessageRejected(WRONG_STREAM_EPOCH, f"ack for epoch {ack.stream_epoch[:40]}")
        if ack.acked_through > self.known_head:
            self.refresh_head()
            if ack.acked_through > self.known_head:
                raise MessageRejected(ACKED_BEYOND_HEAD, f"{ack.acked_through} > last seq {self.known_head}")
        now = self._clock()
        self.stats.acks += 1
        newly = 0
        if ack.acked_through > self.acked_through:
            newly = ack.acked_through - self.acked_through
            self.acked_through = ack.acked_through
            self.max_published = max(self.max_published, self.acked_through)
            self.last_ack_wall = time.time()
            self._last_progress = now
            self._stalls = 0
            self.next_seq = max(self.next_seq, self.acked_through + 1)
            self._resend = [(max(a, self.acked_through + 1), b) for a, b in self._resend if b > self.acked_through]
            while self._ahead and self._ahead[0] <= self.acked_through:
                self._ahead.popleft()
        elif ack.acked_through == self.acked_through:
            self.stats.duplicate_acks += 1
        else:
            self.stats.stale_acks += 1
        self._note_missing(ack.missing, now)
        self.flush_acks()
        return newly

    def flush_acks(self, *, force: bool = False) -> None:
        """Persist the hub's acks in the outbox: at once after a quiet spell, then at most every interval.

        Each `mark_acked` is a synchronous commit (an fsync on the SD card); coalescing them costs nothing but
        a few duplicate resends if the station dies in between, which the hub deduplicates.
        """
        if self.acked_through <= self._saved_through:
            return
        now = self._clock()
        if not force and now - self._last_flush < self._flush_interval_s:
            return
        self._outbox.mark_acked(self.acked_through)
        self._saved_through = self.acked_through
        self._last_flush = now

    def _note_missing(self, missing: tuple[tuple[int, int], ...], now: float) -> None:
        holdoff = self._ack_timeout_s / 2
        self._resent_at = {a: t for a, t in self._resent_at.items() if now - t < holdoff}
        for first, asked_last in missing:
            last = min(asked_last, self.max_published, self.known_head)
            # Not yet published: it goes out in order. Asked for recently: the resend is probably in flight.
            if first > last or first in self._resent_at:
                continue
            self._resent_at[first] = now
            self._resend.append((first, last))
        self._resend.sort()

    # -- the watchdog's view ------------------------------------------------------------------------------------
    def check_stall(self) -> StallVerdict:
        """Called periodically while publishing is allowed: resend or ask for a link restart when acks stall."""
        now = self._clock()
        # A PUBACK that has not come for this long never will on this link (e.g. a callback lost it):
        # free its window slot rather than let the window shrink for good.
        lost = [mid for mid, at in self._sent_at.items() if now - at >= self._ack_timeout_s]
        for mid in lost:
            self._inflight.pop(mid, None)
            del self._sent_at[mid]
        self.stats.lost_pubacks += len(lost)
        if self.max_published <= self.acked_through:
            self._last_progress = now
            self._stalls = 0
            return "ok"
        if now - self._last_progress < self._ack_timeout_s:
            return "ok"
        self._stalls += 1
        self._last_progress = now
        if self._stalls >= self._restart_after:
            self._stalls = 0
            logger.warning("no hub ack progress past seq %s: restarting the link", self.acked_through)
            return "restart"
        self.stats.stall_resends += 1
        logger.warning("no hub ack progress past seq %s for %.0f s: resending", self.acked_through, self._ack_timeout_s)
        self.rewind()
        return "resent"

    @property
    def outstanding(self) -> bool:
        """True when published events wait for the hub's ack."""
        return self.max_published > self.acked_through
