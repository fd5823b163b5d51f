"""Property tests of the codec: COBS and frame round trips, and a decoder fed random bytes that must neither raise
anything but `FrameError` nor lose sync for longer than one frame."""

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import frames
from firmware_bridge.core import cobs, wire
from firmware_bridge.core.crc import crc16
from firmware_bridge.errors import FrameError

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
i32 = st.integers(-(2**31), 2**31 - 1)


def _enum(cls: type) -> st.SearchStrategy:  # type: ignore[type-arg]
    return st.sampled_from(list(cls))


messages = st.one_of(
    st.builds(frames.Hello, u16, u16),
    st.builds(
        frames.HelloAck,
        u16,
        u8,
        u8,
        u8,
        u8,
        st.integers(0, 15).map(frames.Capability),
        u16,
        _enum(frames.ResetCause),
    ),
    st.builds(frames.Heartbeat),
    st.builds(frames.Status, u8, u16),
    st.builds(frames.Ack),
    st.builds(frames.Reset, _enum(frames.ResetReason)),
    st.builds(frames.SetLight, _enum(frames.LightPattern), _enum(frames.LightPattern), _enum(frames.LightPattern)),
    st.builds(frames.SetBuzzer, _enum(frames.BuzzerPattern), u8),
    st.builds(frames.Tare, u8),
    st.builds(frames.SetScale, u16, u16),
    st.builds(frames.Pedal, u16, u32),
    st.builds(frames.Weight, i32, u32),
    st.builds(frames.TareDone, u8, st.booleans()),
    st.builds(frames.Fault, _enum(frames.FaultCode), st.booleans()),
)


@given(st.binary(max_size=700))
def test_cobs_round_trip_has_no_zero_and_bounded_overhead(data: bytes) -> None:
    encoded = cobs.encode(data)
    assert 0 not in encoded
    assert len(encoded) <= len(data) + 1 + len(data) // 254
    assert cobs.decode(encoded) == data


@given(messages, u8, u8)
def test_frame_round_trip(message: frames.Message, seq: int, ack: int) -> None:
    data = frames.encode(message, seq, ack)
    assert data.endswith(b"\x00")
    assert 0 not in data[:-1]
    assert len(data) <= wire.MAX_ENCODED + 1
    assert frames.decode(data) == frames.Decoded(wire.PROTOCOL_VERSION, seq, ack, message)


@given(st.binary(max_size=80))
def test_decoding_random_bytes_raises_only_frame_error(data: bytes) -> None:
    with contextlib.suppress(FrameError):
        frames.decode(data)


@given(st.binary(min_size=6, max_size=38))
def test_random_raw_frames_with_a_valid_crc_decode_or_raise_frame_error(body: bytes) -> None:
    # A CRC-valid frame with a random type and payload: the typed layer must cope (Unknown or FrameError).
    raw = body[:-2] + crc16(body[:-2]).to_bytes(2, "big")
    with contextlib.suppress(FrameError):
        frames.decode(cobs.encode(raw))


@given(st.lists(st.binary(max_size=120), max_size=8), messages, u8, u8)
def test_stream_decoder_never_raises_and_resyncs_on_the_next_delimiter(
    junk: list[bytes], message: frames.Message, seq: int, ack: int
) -> None:
    decoder = wire.FrameDecoder()
    for chunk in junk:
        decoder.feed(chunk)
    decoder.feed(b"\x00")
    good = frames.encode(message, seq, ack)
    got = decoder.feed(good)
    assert got == [wire.decode_frame(good)]


@settings(max_examples=50)
@given(st.lists(messages, min_size=1, max_size=10), st.data())
def test_a_damaged_frame_costs_only_itself(msgs: list[frames.Message], data: st.DataObject) -> None:
    raws = [frames.encode_raw(m, i & 0xFF, 0) for i, m in enumerate(msgs)]
    damaged_index = data.draw(st.integers(0, len(raws) - 1))
    victim = bytearray(raws[damaged_index])
    # One flipped bit: CRC-16/CCITT detects every single-bit error, so the outcome is certain, not probable.
    bit = data.draw(st.integers(0, len(victim) * 8 - 1))
    victim[bit // 8] ^= 1 << (bit % 8)
    raws[damaged_index] = bytes(victim)
    stream = b"".join(cobs.encode(raw) + b"\x00" for raw in raws)
    split = data.draw(st.integers(0, len(stream)))
    decoder = wire.FrameDecoder()
    got = decoder.feed(stream[:split]) + decoder.feed(stream[split:])
    expected = [wire.decode_raw(raw) for i, raw in enumerate(raws) if i != damaged_index]
    assert got == expected
    assert decoder.errors == 1
