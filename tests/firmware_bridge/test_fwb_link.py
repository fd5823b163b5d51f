"""The sans-I/O link state machine: sequencing, acks, retransmission, duplicates, sessions — on a fake clock, and
between two links over a channel that drops, corrupts, duplicates and reorders frames."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.core import link as corelink
from firmware_bridge.core import wire


def frames_in(data: bytes) -> list[wire.Frame]:
    return wire.FrameDecoder().feed(data)


def cmd(n: int) -> bytes:
    return bytes((n & 0xFF, 0, 0))


# -- Link ---------------------------------------------------------------------------------------------------------


def test_sequenced_frames_are_numbered_from_one_and_carry_the_ack() -> None:
    a = corelink.Link()
    a.rx_seq = 7  # pretend we received 7 frames
    a.send(wire.SET_LIGHT, cmd(1), 0)
    a.send(wire.SET_LIGHT, cmd(2), 0)
    sent = frames_in(a.take_output())
    assert [(f.seq, f.ack, f.payload) for f in sent] == [(1, 7, cmd(1)), (2, 7, cmd(2))]


def test_window_limits_frames_in_flight_and_acks_open_it() -> None:
    a = corelink.Link(window=4)
    for n in range(6):
        a.send(wire.SET_LIGHT, cmd(n), 0)
    assert [f.seq for f in frames_in(a.take_output())] == [1, 2, 3, 4]
    assert a.in_flight == 4
    a.receive(wire.encode_frame(wire.ACK, 0, 2, b""), 10)
    assert [f.seq for f in frames_in(a.take_output())] == [5, 6]
    assert a.in_flight == 4
    a.receive(wire.encode_frame(wire.ACK, 0, 6, b""), 20)
    assert a.idle


def test_retransmit_resends_the_whole_window_only_when_due() -> None:
    a = corelink.Link(retransmit_ms=250)
    a.send(wire.SET_LIGHT, cmd(1), 0)
    a.send(wire.SET_BUZZER, b"\x01\x01", 0)
    a.take_output()
    a.poll(249)
    assert a.take_output() == b""
    assert a.next_deadline_ms() == 250
    a.poll(250)
    assert [(f.ftype, f.seq) for f in frames_in(a.take_output())] == [(wire.SET_LIGHT, 1), (wire.SET_BUZZER, 2)]
    assert a.retransmits == 2
    # An ack for the first restarts the timer for the rest.
    a.receive(wire.encode_frame(wire.ACK, 0, 1, b""), 300)
    a.poll(549)
    assert a.take_output() == b""
    a.poll(550)
    assert [f.seq for f in frames_in(a.take_output())] == [2]


def test_gives_up_after_max_attempts() -> None:
    a = corelink.Link(retransmit_ms=100, max_attempts=3)
    a.send(wire.SET_LIGHT, cmd(1), 0)
    for t in (100, 200, 300):
        a.poll(t)
        assert not a.failed
    a.poll(400)
    assert a.failed


def test_duplicates_are_acked_again_but_delivered_once() -> None:
    b = corelink.Link()
    frame = wire.encode_frame(wire.PEDAL, 1, 0, b"\x00\x01\x00\x00\x00\x05")
    assert len(b.receive(frame, 0)) == 1
    assert [(f.ftype, f.ack) for f in frames_in(b.take_output())] == [(wire.ACK, 1)]
    assert b.receive(frame, 10) == []
    assert [(f.ftype, f.ack) for f in frames_in(b.take_output())] == [(wire.ACK, 1)]
    assert b.duplicates == 1


def test_a_frame_after_a_gap_is_dropped_until_the_gap_is_filled() -> None:
    b = corelink.Link()
    f1 = wire.encode_frame(wire.SET_LIGHT, 1, 0, cmd(1))
    f2 = wire.encode_frame(wire.SET_LIGHT, 2, 0, cmd(2))
    assert b.receive(f2, 0) == []
    assert b.out_of_order == 1
    assert [f.ack for f in frames_in(b.take_output())] == [0]
    assert [f.payload for f in b.receive(f1 + f2, 5)] == [cmd(1), cmd(2)]


def test_an_ack_for_a_frame_never_sent_is_ignored() -> None:
    a = corelink.Link()
    a.send(wire.SET_LIGHT, cmd(1), 0, token="t1")
    a.receive(wire.encode_frame(wire.ACK, 0, 9, b""), 1)
    assert a.in_flight == 1
    assert a.bogus_acks == 1
    assert a.acked_tokens == []


def test_replace_overwrites_a_waiting_state_and_keeps_its_tokens() -> None:
    a = corelink.Link(window=1)
    a.send(wire.SET_LIGHT, cmd(1), 0, token=1)
    a.send(wire.SET_LIGHT, cmd(2), 0, token=2, replace=True)
    a.send(wire.SET_LIGHT, cmd(3), 0, token=3, replace=True)
    assert [f.payload for f in frames_in(a.take_output())] == [cmd(1)]
    a.receive(wire.encode_frame(wire.ACK, 0, 1, b""), 1)
    assert [f.payload for f in frames_in(a.take_output())] == [cmd(3)]
    a.receive(wire.encode_frame(wire.ACK, 0, 2, b""), 2)
    assert a.acked_tokens == [1, 2, 3]


def test_backlog_overflow_drops_the_oldest_waiting_frame() -> None:
    a = corelink.Link(window=1, backlog_limit=2)
    assert a.send(wire.PEDAL, b"1", 0, token="in flight")
    assert a.send(wire.PEDAL, b"2", 0, token="old")
    assert a.send(wire.PEDAL, b"3", 0, token="mid")
    assert not a.send(wire.PEDAL, b"4", 0, token="new")
    assert a.dropped_tokens == ["old"]
    assert a.backlog_dropped == 1


def test_reset_drops_everything_in_flight_and_reports_the_tokens() -> None:
    a = corelink.Link(window=1)
    a.send(wire.SET_LIGHT, cmd(1), 0, token="a")
    a.send(wire.SET_LIGHT, cmd(2), 0, token="b")
    a.take_output()
    a.reset()
    assert a.dropped_tokens == ["a", "b"]
    assert a.idle
    a.send(wire.SET_LIGHT, cmd(3), 0)
    assert [f.seq for f in frames_in(a.take_output())] == [1]


def test_control_and_sequenced_types_cannot_be_mixed_up() -> None:
    a = corelink.Link()
    with pytest.raises(ValueError, match="not sequenced"):
        a.send(wire.HEARTBEAT, b"", 0)
    with pytest.raises(ValueError, match="use send"):
        a.send_control(wire.PEDAL, b"", 0)


def _pump(a: corelink.Link, b: corelink.Link, now: int) -> tuple[list[wire.Frame], list[wire.Frame]]:
    to_b = a.take_output()
    to_a = b.take_output()
    got_b = b.receive(to_b, now) if to_b else []
    got_a = a.receive(to_a, now) if to_a else []
    return got_a, got_b


def test_sequence_numbers_wrap_past_255() -> None:
    a, b = corelink.Link(), corelink.Link()
    delivered: list[bytes] = []
    for n in range(600):
        a.send(wire.SET_LIGHT, n.to_bytes(2, "big"), n)
        for _ in range(3):
            _got_a, got_b = _pump(a, b, n)
            delivered.extend(f.payload for f in got_b)
    assert delivered == [n.to_bytes(2, "big") for n in range(600)]
    assert a.idle


# -- lossy channel ------------------------------------------------------------------------------------------------


class LossyChannel:
    """One direction of a serial line with faults: frames dropped, bit-flipped, duplicated, or delayed past each
    other (reordered). Driven by a seeded `random.Random`."""

    def __init__(self, rng: random.Random, drop: float, corrupt: float, duplicate: float, reorder: float) -> None:
        self.rng = rng
        self.drop, self.corrupt, self.duplicate, self.reorder = drop, corrupt, duplicate, reorder
        self.in_flight: list[tuple[int, int, bytes]] = []
        self._order = 0

    def send(self, data: bytes, now: int) -> None:
        for chunk in data.split(b"\x00"):
            if not chunk:
                continue
            frame = chunk + b"\x00"
            if self.rng.random() < self.drop:
                continue
            if self.rng.random() < self.corrupt:
                mutable = bytearray(frame)
                index = self.rng.randrange(len(mutable) - 1)
                mutable[index] ^= 1 << self.rng.randrange(8)
                frame = bytes(mutable)
            copies = 2 if self.rng.random() < self.duplicate else 1
            for _ in range(copies):
                delay = self.rng.randrange(1, 60) if self.rng.random() < self.reorder else 5
                self._order += 1
                self.in_flight.append((now + delay, self._order, frame))

    def due(self, now: int) -> bytes:
        ready = sorted(item for item in self.in_flight if item[0] <= now)
        self.in_flight = [item for item in self.in_flight if item[0] > now]
        return b"".join(frame for _t, _o, frame in ready)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    drop=st.floats(0, 0.4),
    corrupt=st.floats(0, 0.3),
    duplicate=st.floats(0, 0.3),
    reorder=st.floats(0, 0.5),
    n_a=st.integers(0, 40),
    n_b=st.integers(0, 40),
)
def test_every_frame_arrives_exactly_once_in_order_over_a_bad_line(
    seed: int, drop: float, corrupt: float, duplicate: float, reorder: float, n_a: int, n_b: int
) -> None:
    rng = random.Random(seed)
    # A backlog deep enough for every message: overflow (tested on its own) is not what this test is about.
    a = corelink.Link(retransmit_ms=100, max_attempts=10_000, backlog_limit=100)
    b = corelink.Link(retransmit_ms=100, max_attempts=10_000, backlog_limit=100)
    a_to_b = LossyChannel(rng, drop, corrupt, duplicate, reorder)
    b_to_a = LossyChannel(rng, drop, corrupt, duplicate, reorder)
    got_by_b: list[bytes] = []
    got_by_a: list[bytes] = []
    now = 0
    sent_a = sent_b = 0
    while now < 120_000:
        now += 10
        # Senders produce at random moments, both directions at once.
        if sent_a < n_a and rng.random() < 0.3:
            a.send(wire.SET_LIGHT, sent_a.to_bytes(2, "big"), now)
            sent_a += 1
        if sent_b < n_b and rng.random() < 0.3:
            b.send(wire.PEDAL, sent_b.to_bytes(2, "big"), now)
            sent_b += 1
        a.poll(now)
        b.poll(now)
        a_to_b.send(a.take_output(), now)
        b_to_a.send(b.take_output(), now)
        got_by_b.extend(f.payload for f in b.receive(a_to_b.due(now), now) if wire.is_sequenced(f.ftype))
        got_by_a.extend(f.payload for f in a.receive(b_to_a.due(now), now) if wire.is_sequenced(f.ftype))
        if sent_a == n_a and sent_b == n_b and a.idle and b.idle:
            break
    assert got_by_b == [n.to_bytes(2, "big") for n in range(n_a)]
    assert got_by_a == [n.to_bytes(2, "big") for n in range(n_b)]
    assert a.idle
    assert b.idle


# -- HostLink -----------------------------------------------------------------------------------------------------


class Nonces:
    def __init__(self, *values: int) -> None:
        self.values = list(values)

    def __call__(self) -> int:
        return self.values.pop(0)


def hello_ack(nonce: int, version: int = wire.PROTOCOL_VERSION, proto: int = wire.PROTOCOL_VERSION) -> bytes:
    payload = wire.pack_payload(wire.HELLO_ACK, (nonce, proto, 1, 2, 3, wire.CAP_ALL, 2000, 1))
    return wire.encode_frame(wire.HELLO_ACK, 0, 0, payload, version)


def make_host(*nonces: int, **kwargs: int) -> corelink.HostLink:
    params = {"heartbeat_ms": 500, "silence_ms": 2000, "hello_retry_ms": 500, "hello_attempts": 3}
    params.update(kwargs)
    return corelink.HostLink(Nonces(*nonces), **params)


def test_host_handshake_sends_a_delimiter_then_hello_and_comes_up_on_the_matching_answer() -> None:
    host = make_host(0x1234)
    host.start(0)
    out = host.take_output()
    assert out.startswith(b"\x00")
    [hello] = frames_in(out)
    assert wire.unpack_payload(wire.HELLO, hello.payload) == (0x1234, 2000)
    host.receive(hello_ack(0x9999), 10)  # an answer to somebody else's HELLO
    assert host.state == corelink.HOST_HELLO
    host.receive(hello_ack(0x1234), 20)
    assert host.state == corelink.HOST_UP
    assert [kind for kind, _detail in host.take_events()] == ["up"]
    host.receive(hello_ack(0x1234), 30)  # the answer to a retried HELLO changes nothing
    assert host.take_events() == []


def test_host_ignores_frames_before_the_handshake() -> None:
    host = make_host(1)
    host.start(0)
    got = host.receive(wire.encode_frame(wire.PEDAL, 1, 0, b"\x00\x01\x00\x00\x00\x01"), 5)
    assert got == []
    assert host.rx_seq == 0


def test_host_retries_hello_then_goes_down() -> None:
    host = make_host(7, hello_attempts=3)
    host.start(0)
    host.take_output()
    for t in (500, 1000):
        host.poll(t)
        assert [f.ftype for f in frames_in(host.take_output())] == [wire.HELLO]
    host.poll(1500)
    assert host.state == corelink.HOST_DOWN
    assert host.take_events() == [("down", "no_answer")]


def test_host_refuses_a_device_of_another_protocol_version() -> None:
    host = make_host(5)
    host.start(0)
    host.receive(hello_ack(5, version=2, proto=2), 10)
    assert host.state == corelink.HOST_DOWN
    assert host.take_events() == [("down", "incompatible_protocol_2")]
    assert host.peer_version == 2


def test_host_heartbeats_when_idle_and_loses_the_session_on_silence() -> None:
    host = make_host(1, 2, heartbeat_ms=500, silence_ms=2000)
    host.start(0)
    host.receive(hello_ack(1), 0)
    host.take_output()
    host.poll(499)
    assert host.take_output() == b""
    host.poll(500)
    assert [f.ftype for f in frames_in(host.take_output())] == [wire.HEARTBEAT]
    status = wire.encode_frame(wire.STATUS, 0, 0, b"\x01\x00\x00")
    host.receive(status, 900)
    host.poll(2899)
    assert host.state == corelink.HOST_UP
    host.poll(2900)
    assert host.state == corelink.HOST_HELLO
    assert host.take_events()[-1] == ("lost", "silence")
    assert wire.unpack_payload(wire.HELLO, frames_in(host.take_output())[-1].payload)[0] == 2


def test_host_reset_from_the_device_restarts_the_handshake_and_drops_pending_commands() -> None:
    host = make_host(1, 2)
    host.start(0)
    host.receive(hello_ack(1), 0)
    host.take_events()
    host.send(wire.SET_LIGHT, cmd(1), 10, token="light")
    host.receive(wire.encode_frame(wire.RESET, 0, 0, bytes((wire.RESET_REBOOTED,))), 20)
    assert host.take_events() == [("lost", "device_rebooted")]
    assert host.state == corelink.HOST_HELLO
    assert host.dropped_tokens == ["light"]
    assert not host.send(wire.SET_LIGHT, cmd(2), 30, token="late")
    assert host.dropped_tokens == ["light", "late"]


def test_host_loses_the_session_when_commands_go_unacked() -> None:
    host = make_host(1, 2, retransmit_ms=100, max_attempts=2, silence_ms=100_000, heartbeat_ms=100_000)
    host.start(0)
    host.receive(hello_ack(1), 0)
    host.send(wire.SET_LIGHT, cmd(1), 0)
    for t in (100, 200, 300):
        host.receive(wire.encode_frame(wire.STATUS, 0, 0, b"\x01\x00\x00"), t)  # alive, but never acks
        host.poll(t)
    assert host.take_events()[-1] == ("lost", "no_ack")


def test_host_next_deadline_is_the_earliest_timer() -> None:
    host = make_host(1, heartbeat_ms=500, silence_ms=2000, retransmit_ms=250)
    host.start(0)
    assert host.next_deadline_ms() == 500  # HELLO retry
    host.receive(hello_ack(1), 100)
    assert host.next_deadline_ms() == 500  # heartbeat: last frame sent at 0
    host.send(wire.SET_LIGHT, cmd(1), 120)
    assert host.next_deadline_ms() == 370  # retransmit


# -- DeviceLink ---------------------------------------------------------------------------------------------------


def make_device() -> corelink.DeviceLink:
    return corelink.DeviceLink((1, 0, 0), wire.CAP_ALL, wire.RESET_CAUSE_POWER_ON)


def test_device_session_nonce_rules_and_watchdog() -> None:
    dev = make_device()
    hello = wire.encode_frame(wire.HELLO, 0, 0, wire.pack_payload(wire.HELLO, (42, 300)))
    dev.receive(hello, 0)
    assert dev.in_session
    assert dev.sessions_started == 1
    dev.receive(wire.encode_frame(wire.SET_LIGHT, 1, 0, cmd(1)), 10)
    assert dev.rx_seq == 1
    dev.receive(hello, 20)  # same nonce: answered, session kept
    assert dev.rx_seq == 1
    assert dev.sessions_started == 1
    assert not dev.check_watchdog(319)
    assert dev.check_watchdog(320)
    assert not dev.in_session
    dev.take_output()
    dev.receive(wire.encode_frame(wire.HEARTBEAT, 0, 0, b""), 400)
    [reply] = frames_in(dev.take_output())
    assert (reply.ftype, reply.payload) == (wire.RESET, bytes((wire.RESET_WATCHDOG,)))
    dev.receive(hello, 500)  # the same nonce opens a new session once the old one is gone
    assert dev.in_session
    assert dev.sessions_started == 2
