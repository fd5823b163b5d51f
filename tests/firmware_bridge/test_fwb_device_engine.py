"""Corners of the device engine that the contract tests do not reach through the pins: event backlog overflow,
tare that cannot settle, scale overload, scale settings, and the safe state at boot."""

from firmware_bridge import frames
from firmware_bridge.core import patterns, wire
from firmware_bridge.core.device import DeviceEngine


class Board:
    def __init__(self) -> None:
        self.lamps = (False, False, False)
        self.tone = 0
        self.pedal = False
        self.reading: int | None = None
        self.calls = 0

    def set_lamps(self, red: bool, amber: bool, green: bool) -> None:
        self.lamps = (red, amber, green)
        self.calls += 1

    def set_tone(self, freq_hz: int) -> None:
        self.tone = freq_hz

    def pedal_raw(self) -> bool:
        return self.pedal

    def read_scale(self) -> int | None:
        reading, self.reading = self.reading, None
        return reading


def start(board: Board) -> DeviceEngine:
    engine = DeviceEngine(board, 0, counts_per_g=10.0)
    engine.receive(frames.encode(frames.Hello(1, 60000)), 0)
    engine.take_output()
    return engine


def sent(engine: DeviceEngine) -> list[frames.Message]:
    return [frames.message_from_frame(f) for f in wire.FrameDecoder().feed(engine.take_output())]


def test_boot_shows_the_safe_state_and_writes_outputs_only_on_change() -> None:
    board = Board()
    engine = DeviceEngine(board, 0)
    assert not engine.in_session
    assert engine.light == list(patterns.SAFE_LIGHT)
    assert board.lamps == (False, True, False)
    calls = board.calls
    for t in range(1, 400, 5):
        board.reading = 0
        engine.tick(t)
    assert board.calls == calls  # amber still in its first lit half-second: no pin writes
    engine.tick(500)
    assert board.lamps == (False, False, False)


def test_a_full_event_backlog_drops_the_oldest_and_reports_overflow_once() -> None:
    board = Board()
    engine = start(board)
    now = 0
    for _ in range(30):  # 30 presses, never acknowledged: window 4 + backlog 16 cannot hold them
        board.pedal = True
        for _ in range(5):
            now += 5
            engine.tick(now)
        board.pedal = False
        for _ in range(5):
            now += 5
            engine.tick(now)
    assert engine.presses == 30
    assert engine.link.backlog_dropped > 0
    engine.take_output()
    # The host comes back and acks everything, step by step.
    got: list[frames.Message] = []
    for _ in range(40):
        engine.receive(frames.encode(frames.Heartbeat(), 0, engine.link.tx_seq), now)
        got.extend(m for m in sent(engine) if not isinstance(m, frames.Status))
        now += 5
        engine.tick(now)
        got.extend(m for m in sent(engine) if not isinstance(m, frames.Status))
    assert got.count(frames.Fault(frames.FaultCode.EVENT_OVERFLOW, True)) == 1
    presses = [m.press_no for m in got if isinstance(m, frames.Pedal)]
    assert presses == sorted(presses)
    assert presses[-1] == 30


def test_a_tare_that_cannot_settle_fails_and_keeps_the_zero() -> None:
    board = Board()
    engine = start(board)
    engine.receive(frames.encode(frames.Tare(3), 1), 0)
    for t in range(100, 3200, 100):
        board.reading = 5000 if (t // 100) % 2 else 9000  # swinging by 400 g: never stable
        engine.tick(t)
    assert frames.TareDone(3, False) in sent(engine)
    assert engine.offset_counts == 0
    engine.receive(frames.encode(frames.Tare(3), 2, 1), 3300)  # the same tare asked again: same answer, no redo
    assert frames.TareDone(3, False) in sent(engine)
    assert not engine.taring


def test_scale_overload_is_a_fault_until_readings_return() -> None:
    board = Board()
    engine = start(board)
    board.reading = 0x7FFFFF
    engine.tick(100)
    board.reading = 1000
    engine.tick(200)
    faults = [m for m in sent(engine) if isinstance(m, frames.Fault)]
    assert faults == [
        frames.Fault(frames.FaultCode.SCALE_OVERLOAD, True),
        frames.Fault(frames.FaultCode.SCALE_OVERLOAD, False),
    ]


def test_scale_settings_are_clamped_and_change_the_settle_time() -> None:
    board = Board()
    engine = start(board)
    engine.receive(frames.encode(frames.SetScale(20, 0), 1), 0)
    assert (engine.settle.settle_ms, engine.settle.band) == (100, 1)
    engine.receive(frames.encode(frames.SetScale(200, 5), 2), 0)
    weights = []
    for t in range(10, 400, 10):
        board.reading = 12340
        engine.tick(t)
        weights += [(t, m.weight_g) for m in sent(engine) if isinstance(m, frames.Weight)]
    assert weights == [(210, 1234)]


def test_weights_are_reported_when_they_move_by_more_than_the_band() -> None:
    board = Board()
    engine = start(board)
    weights = []

    def run(grams: int, times: range) -> None:
        for t in times:
            board.reading = grams * 10
            engine.tick(t)
            weights.extend(m.weight_g for m in sent(engine) if isinstance(m, frames.Weight))
            engine.receive(frames.encode(frames.Ack(), 0, engine.link.tx_seq), t)  # a host acking at once
            engine.take_output()

    run(500, range(0, 1000, 100))
    run(502, range(1000, 2000, 100))
    assert weights == [500]  # 2 g is inside the 3 g band: one box, one event
    run(510, range(2000, 3000, 100))
    assert weights == [500, 510]
