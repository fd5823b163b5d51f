"""A full disk or RAM directory pauses recording cleanly, is reported, and recording resumes when room returns."""

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from camera_testkit import packets_of, wait_for

from drivers.cameras import (
    CameraAlert,
    DirectoryStore,
    Recorder,
    RecorderSettings,
    SegmentInfo,
    StorageFullError,
    open_camera,
)

SIM = "sim://disk?width=160&height=120&fps=10"


class QuotaStore:
    """A store that runs out of space after ``quota_bytes``, failing like the kernel does (ENOSPC)."""

    def __init__(self, root: Path, quota_bytes: int) -> None:
        self.inner = DirectoryStore(root)
        self.quota_bytes = quota_bytes
        self.used = 0
        self.refused = 0

    def free_bytes(self) -> int:
        return max(0, self.quota_bytes - self.used)

    def commit(self, source: Path, relative: str) -> Path:
        size = source.stat().st_size
        if self.used + size > self.quota_bytes:
            self.refused += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(source))
        self.used += size
        return self.inner.commit(source, relative)


def _recorder(tmp_path: Path, store: object = None, **settings: object) -> tuple[Recorder, list[SegmentInfo]]:
    segments: list[SegmentInfo] = []
    recorder = Recorder(
        open_camera(SIM),
        tmp_path / "segments",
        ram_dir=tmp_path / "ram",
        segment_s=2,
        on_segment=segments.append,
        settings=RecorderSettings(**{"storage_min_free_bytes": 0, **settings}),  # type: ignore[arg-type]
        store=store,  # type: ignore[arg-type]
    )
    return recorder, segments


def test_full_storage_pauses_recording_and_keeps_capturing(tmp_path: Path) -> None:
    store = QuotaStore(tmp_path / "segments", quota_bytes=1)  # nothing fits
    recorder, segments = _recorder(tmp_path, store, storage_retry_s=600)
    recorder.start()
    try:
        assert wait_for(lambda: CameraAlert.STORAGE_FULL in recorder.health_state().alerts)
        state = recorder.health_state()
        assert not state.recording
        assert state.running  # no crash: capture goes on
        assert state.storage_full_reason is not None
        assert "full" in state.storage_full_reason
        assert store.refused == 1
        captured = state.frames_captured
        assert wait_for(lambda: recorder.health_state().frames_captured > captured + 3)
        recorder.take_photo(tmp_path / "still-works.jpg")  # photos need no segment storage
    finally:
        recorder.stop()
    assert segments == []
    assert list((tmp_path / "ram").iterdir()) == []  # nothing left behind in RAM


def test_recording_resumes_when_room_returns(tmp_path: Path) -> None:
    store = QuotaStore(tmp_path / "segments", quota_bytes=1)
    recorder, segments = _recorder(tmp_path, store, storage_retry_s=0.3)
    recorder.start()
    try:
        assert wait_for(lambda: CameraAlert.STORAGE_FULL in recorder.health_state().alerts)
        store.quota_bytes = 100 << 20  # retention freed space
        assert wait_for(lambda: recorder.health_state().recording and len(segments) >= 1)
        assert CameraAlert.STORAGE_FULL not in recorder.health_state().alerts
    finally:
        recorder.stop()
    for segment in segments:
        assert packets_of(segment.path)[0].keyframe


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True, capture_output=True
        )
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"cannot mount a tmpfs here ({err}); the injected store covers the same path")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def test_a_really_full_file_system_stops_recording_cleanly(tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "small", "64k") as small:
        segments: list[SegmentInfo] = []
        recorder = Recorder(
            open_camera(SIM),
            small,
            ram_dir=tmp_path / "ram",
            segment_s=2,
            on_segment=segments.append,
            settings=RecorderSettings(storage_min_free_bytes=0, storage_retry_s=600),
        )
        recorder.start()
        try:
            assert wait_for(lambda: CameraAlert.STORAGE_FULL in recorder.health_state().alerts, timeout_s=30)
            assert recorder.running
        finally:
            recorder.stop()
        for segment in segments:  # whatever was stored is whole
            assert len(packets_of(segment.path)) == segment.frames
        assert not list(small.rglob("*.part"))


def _fill(path: Path) -> None:
    """Take every free byte of ``path``'s file system."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        for chunk in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * chunk)
    finally:
        os.close(fd)


def test_ram_directory_full_mid_segment_is_handled(tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "ram", "6m") as ram:
        segments: list[SegmentInfo] = []
        recorder = Recorder(
            open_camera(SIM),
            tmp_path / "segments",
            ram_dir=ram,
            segment_s=2,
            on_segment=segments.append,
            settings=RecorderSettings(storage_min_free_bytes=0, ram_min_free_bytes=0, storage_retry_s=600),
        )
        recorder.start()
        try:
            assert wait_for(lambda: recorder.health_state().frames_encoded > 0)
            # Fill the RAM directory behind the open segment's back, as another writer would.
            _fill(ram / "ballast")
            assert wait_for(lambda: CameraAlert.STORAGE_FULL in recorder.health_state().alerts, timeout_s=15)
            state = recorder.health_state()
            assert state.running
            assert state.storage_full_reason is not None
            assert "RAM" in state.storage_full_reason
            # The segment that was open when RAM ran out is cut short: it is dropped, never stored as whole.
            assert wait_for(lambda: recorder.health_state().segments_lost >= 1)
        finally:
            recorder.stop()
        assert segments == []
        assert [p.name for p in ram.iterdir()] == ["ballast"]


def test_directory_store_keeps_its_floor(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store", min_free_bytes=1 << 60)
    source = tmp_path / "seg.mp4"
    source.write_bytes(b"x" * 100)
    with pytest.raises(StorageFullError) as caught:
        store.commit(source, "day/seg.mp4")
    assert caught.value.errno == errno.ENOSPC
    assert source.exists()
    assert not (tmp_path / "store" / "day").exists()


def test_directory_store_moves_durably(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    source = tmp_path / "seg.mp4"
    source.write_bytes(b"x" * 100)
    final = store.commit(source, "2026-02-05/seg.mp4")
    assert final == tmp_path / "store" / "2026-02-05" / "seg.mp4"
    assert final.read_bytes() == b"x" * 100
    assert not source.exists()
    assert store.free_bytes() > 0
