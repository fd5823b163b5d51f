"""Every order's clip and photos are its own files: ids that differ only in punctuation never share a name, a
clip or photo is never written over media another order's row references, and retention never deletes a file
a row still keeps. A real store, a fake camera that writes which order it filmed."""

import hashlib
import io
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from benchkit import FakeClock

import station.video.service as service_module
from station.events import Actor, NewEvent
from station.store import Store
from station.video import NoFootage, VideoService
from station.video.backend import ClipResult, PhotoResult, SegmentRow, VideoFile
from station.video.service import MediaPathTaken
from station.video.settings import RetentionSettings, VideoSettings

IDS = ("TB:1001", "TB_1001", "TB/1001")
DAY_MS = 86_400_000


class FilmingCamera:
    """Writes "<kind> of <order>" into each file, so a test can tell whose media a file holds."""

    def __init__(self) -> None:
        self.filming = "nobody"

    def set_overlay(self, order_id: str | None, packer: str | None, bench: str | None) -> None:
        pass

    def take_photo(self, path: Path) -> PhotoResult | None:
        data = f"photo of {self.filming}".encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return PhotoResult(path, hashlib.sha256(data).hexdigest(), len(data), 1)

    def assemble(
        self,
        segments: Sequence[tuple[Path, SegmentRow]],
        start_ms: int,
        end_ms: int,
        out_path: Path,
        markers: Sequence[tuple[int, str]],
    ) -> ClipResult:
        data = f"clip of {self.filming}".encode()
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_bytes(data)
        return ClipResult(out_path, hashlib.sha256(data).hexdigest(), len(data), start_ms, end_ms, 1.0, ())

    def plan_deletions(
        self, files: Sequence[VideoFile], retention: RetentionSettings, now_ms: int, free_bytes: int
    ) -> list[str]:
        """The age rule alone: what is older than clip_days and not disputed goes."""
        cutoff = now_ms - retention.clip_days * DAY_MS
        return [f.path for f in files if f.created_ms < cutoff and not f.disputed]


def _inline(fn: Callable[[], Any]) -> "Future[Any]":
    """The database thread, as the caller's own (the store is used from one thread here)."""
    done: Future[Any] = Future()
    try:
        done.set_result(fn())
    except BaseException as err:  # handed to the caller, as the real executor does
        done.set_exception(err)
    return done


@pytest.fixture
def camera() -> FilmingCamera:
    return FilmingCamera()


@pytest.fixture
def video(store: Store, tmp_path: Path, camera: FilmingCamera) -> VideoService:
    service = VideoService(store, VideoSettings(), tmp_path, camera, db=_inline)
    # One segment covers all time: every order has footage.
    service.record_segment(SegmentRow("video/segments/all.mp4", 0, 2**62, 1, 1, "0" * 64))
    for order_id in (*IDS, "A-1", "B-1"):
        with store.transaction() as tx:
            tx.append(NewEvent("test.scanned", Actor(role="packer", id="OP-1", bench="B01"), order_id, {}))
    return service


def _film(video: VideoService, camera: FilmingCamera, order_id: str) -> None:
    camera.filming = order_id
    assert video.take_packing_photo("B01", order_id) is not None
    assert video.make_clip(order_id) is not None


def _bundle(video: VideoService, order_id: str) -> dict[str, bytes]:
    evidence = video.evidence(order_id, "ST-1")
    assert evidence is not None
    with zipfile.ZipFile(io.BytesIO(evidence)) as zf:
        return {name: zf.read(name) for name in zf.namelist() if name == "clip.mp4" or name.startswith("photos/")}


def test_ids_that_differ_only_in_punctuation_get_files_and_bundles_of_their_own(
    video: VideoService, camera: FilmingCamera
) -> None:
    for order_id in IDS:
        _film(video, camera, order_id)
    clips = {order_id: video.clip_row(order_id) for order_id in IDS}
    clip_paths = {row["path"] for row in clips.values() if row is not None}
    photo_paths = {row["path"] for order_id in IDS for row in video.photos(order_id)}
    assert len(clip_paths) == len(IDS)
    assert len(photo_paths) == len(IDS)
    for order_id in IDS:
        assert _bundle(video, order_id) == {
            "clip.mp4": f"clip of {order_id}".encode(),
            "photos/1.jpg": f"photo of {order_id}".encode(),
        }
    # No temporary file of an assembly is left behind.
    assert not [p for p in (video.video_dir / "clips").iterdir() if p.name.startswith(".")]


def test_a_clip_is_never_written_over_another_orders(
    video: VideoService, camera: FilmingCamera, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(service_module, "_safe", lambda _order_id: "same")  # force the collision
    _film(video, camera, "A-1")
    first = video.clip_row("A-1")
    assert first is not None
    camera.filming = "B-1"
    with pytest.raises(MediaPathTaken) as refused:
        video.make_clip("B-1")
    assert isinstance(refused.value, NoFootage)  # what the API and the hub already answer "no clip" to
    assert (video.data_dir / first["path"]).read_bytes() == b"clip of A-1"
    assert video.clip_row("B-1") is None
    assert "refused" in caplog.text
    assert "A-1" in caplog.text
    assert [p.name for p in (video.video_dir / "clips").iterdir()] == ["same.mp4"]  # B's assembly is gone
    # The order's own clip may still be remade.
    camera.filming = "A-1 again"
    assert video.make_clip("A-1") is not None
    assert (video.data_dir / first["path"]).read_bytes() == b"clip of A-1 again"


def test_a_photo_is_never_taken_among_another_orders(
    video: VideoService, camera: FilmingCamera, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(service_module, "_safe", lambda _order_id: "same")
    camera.filming = "A-1"
    assert video.take_packing_photo("B01", "A-1") is not None
    camera.filming = "B-1"
    assert video.take_packing_photo("B01", "B-1") is None  # refused: `packed` waits for a photo
    assert "refused" in caplog.text
    assert video.photos("B-1") == []
    assert [p.read_bytes() for p in (video.video_dir / "photos" / "same").iterdir()] == [b"photo of A-1"]


def test_a_photo_number_freed_by_retention_is_not_reused(video: VideoService, camera: FilmingCamera) -> None:
    camera.filming = "A-1 first"
    video.take_packing_photo("B01", "A-1")
    camera.filming = "A-1 second"
    video.take_packing_photo("B01", "A-1")
    first, second = video.photos("A-1")
    (video.data_dir / first["path"]).unlink()  # as retention does: the file, then its row
    video._forget([first["path"]])
    camera.filming = "A-1 third"
    ref = video.take_packing_photo("B01", "A-1")
    assert ref is not None
    assert ref.split("#")[0].endswith("/3.jpg")
    assert (video.data_dir / second["path"]).read_bytes() == b"photo of A-1 second"


def _shared_clip_rows(store: Store, path: str, rows: Sequence[tuple[str, int, bool]]) -> None:
    """Clip rows of several orders naming one file, as a station made before ids got their digest could have."""
    with store.transaction():
        for order_id, created_ms, disputed in rows:
            store.db.execute(
                "INSERT INTO video_clips (order_id, path, sha256, bytes, created_ms, disputed) VALUES (?,?,?,?,?,?)",
                [order_id, path, "0" * 64, 4, created_ms, int(disputed)],
            )


def test_retention_never_deletes_a_file_another_row_still_keeps(
    video: VideoService, store: Store, clock: FakeClock
) -> None:
    old = clock.ms - 100 * DAY_MS
    shared = {
        "video/clips/kept-disputed.mp4": [("TB:1001", old, False), ("TB_1001", old, True)],
        "video/clips/kept-young.mp4": [("TB/1001", old, False), ("A-1", clock.ms, False)],
        "video/clips/expired.mp4": [("B-1", old, False), ("C-1", old, False)],
    }
    for path, rows in shared.items():
        (video.data_dir / path).parent.mkdir(parents=True, exist_ok=True)
        (video.data_dir / path).write_bytes(b"clip")
        _shared_clip_rows(store, path, rows)
    assert sorted(f.path for f in video.video_files() if f.kind == "clip") == sorted(shared)  # one item per file

    deleted = video.run_retention(now_ms=clock.ms)

    assert deleted == ["video/clips/expired.mp4"]
    assert not (video.data_dir / "video/clips/expired.mp4").exists()
    assert (video.data_dir / "video/clips/kept-disputed.mp4").exists()
    assert (video.data_dir / "video/clips/kept-young.mp4").exists()
    for order_id in ("B-1", "C-1"):  # both rows of the deleted file forget it
        row = video.clip_row(order_id)
        assert row is not None
        assert row["path"] is None
    kept = video.clip_row("TB:1001")
    assert kept is not None
    assert kept["path"] == "video/clips/kept-disputed.mp4"
