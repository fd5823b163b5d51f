"""The recorder's reused picture buffers: bounded, never overwritten while FFmpeg holds them, same pictures."""

import gc
import threading

import av
import numpy as np
import pytest

from drivers.cameras.encoder import EncoderSettings, FrameEncoder
from drivers.cameras.frames import BufferPool
from drivers.cameras.sources import SimKnobs, render_pattern


def test_a_released_buffer_is_handed_out_again() -> None:
    pool = BufferPool((4, 6))
    first = pool.take()
    address = first.ctypes.data
    del first
    again = pool.take()
    assert again.ctypes.data == address
    assert pool.kept == 1


def test_a_buffer_still_held_is_not_handed_out() -> None:
    pool = BufferPool((4, 6), size=2)
    first = pool.take()
    second = pool.take()
    assert not np.shares_memory(first, second)
    assert pool.kept == 2


def test_an_exhausted_pool_makes_a_buffer_it_does_not_keep() -> None:
    pool = BufferPool((4, 6), size=2)
    held = [pool.take(), pool.take()]
    extra = pool.take()
    assert extra.shape == (4, 6)
    assert not any(np.shares_memory(extra, buffer) for buffer in held)
    assert pool.kept == 2
    del held, extra
    assert pool.take().shape == (4, 6)
    assert pool.kept == 2


def test_a_pyav_frame_over_a_buffer_keeps_it_from_reuse() -> None:
    pool = BufferPool((72, 64), size=3)
    buffer = pool.take()
    address = buffer.ctypes.data
    frame = av.VideoFrame.from_numpy_buffer(buffer, format="yuv420p")
    del buffer
    assert pool.take().ctypes.data != address  # FFmpeg may still read it through the frame
    del frame
    gc.collect()
    assert pool.take().ctypes.data == address


def test_pool_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        BufferPool((4, 6), size=0)


def test_threads_never_get_the_same_buffer() -> None:
    pool = BufferPool((8, 8), size=2)
    seen: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)
    held: list[np.ndarray] = []

    def take() -> None:
        barrier.wait()
        buffer = pool.take()
        with lock:
            held.append(buffer)
            seen.append(buffer.ctypes.data)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 4
    assert pool.kept == 2


def test_pooled_frames_hold_the_same_picture_as_a_fresh_copy() -> None:
    knobs = SimKnobs(width=160, height=120)
    encoder = FrameEncoder(EncoderSettings("libx264", keyframe_interval=15), 160, 120, 15.0)
    for index in range(5):
        image = render_pattern(knobs, index)
        pooled = encoder.frame_for(image)
        fresh = FrameEncoder.prepare(image)
        assert (pooled.width, pooled.height, pooled.format.name) == (160, 120, "yuv420p")
        for mine, theirs in zip(pooled.planes, fresh.planes, strict=True):
            assert bytes(mine) == bytes(theirs)
        image[:] = 0  # the caller may reuse its picture: the frame has its own copy
        assert bytes(pooled.planes[0]) == bytes(fresh.planes[0])
        assert encoder.encode(pooled, index * 66, keyframe=index == 0)


def test_pooled_frames_encode_to_the_same_stream_as_fresh_copies() -> None:
    knobs = SimKnobs(width=160, height=120)
    streams = []
    for pooled in (True, False):
        encoder = FrameEncoder(EncoderSettings("libx264", keyframe_interval=15), 160, 120, 15.0)
        data = b""
        for index in range(20):
            image = render_pattern(knobs, index)
            frame = encoder.frame_for(image) if pooled else FrameEncoder.prepare(image)
            data += b"".join(bytes(packet) for packet in encoder.encode(frame, index * 66, keyframe=index == 0))
        data += b"".join(bytes(packet) for packet in encoder.flush())
        streams.append(data)
    assert streams[0] == streams[1]


def test_odd_sizes_fall_back_to_a_fresh_bgr_frame() -> None:
    encoder = FrameEncoder(EncoderSettings("libx264", keyframe_interval=15), 160, 120, 15.0)
    odd = np.zeros((121, 161, 3), dtype=np.uint8)
    assert encoder.frame_for(odd).format.name == "bgr24"


def test_the_encoder_reuses_one_buffer_when_frames_are_dropped_after_encoding() -> None:
    knobs = SimKnobs(width=160, height=120)
    encoder = FrameEncoder(EncoderSettings("libx264", keyframe_interval=15), 160, 120, 15.0)
    addresses = set()
    for index in range(10):
        frame = encoder.frame_for(render_pattern(knobs, index))
        addresses.add(frame.planes[0].buffer_ptr)
        encoder.encode(frame, index * 66, keyframe=index == 0)
        del frame
    assert len(addresses) == 1
