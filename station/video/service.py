"""The station's packing video: index of recorded segments, order clips with markers, photos, retention.

The values it trades with the camera side are in :mod:`station.video.backend`, the clip window of an order in
:mod:`station.video.window`.

Threads (docs/architecture.md, "Runtime shape"): the recorder reports closed segments on its own thread;
:meth:`VideoService.segment_closed` only hands the row to the database thread (``db``). Committed events arrive
in :meth:`VideoService.notify` on the database thread; it sets the overlay (cheap) and hands slow work (clip
assembly) to ``schedule``, which runs it off the event loop. Every read and write of the video tables runs on the
database thread.
"""

import dataclasses
import functools
import hashlib
import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from station.events import SYSTEM, Envelope, EventType, NewEvent
from station.store import Store
from station.video.backend import ClipResult, NoFootage, SegmentRow, VideoBackend, VideoFile
from station.video.settings import VideoSettings
from station.video.window import ClipWindow, clip_window, recording_gaps

logger = logging.getLogger(__name__)

T = TypeVar("T")

VIDEO_DIR = "video"
# How many times a clip waits for the segment that covers its end before it is assembled from what there is.
_CLIP_ATTEMPTS = 4


class MediaPathTaken(NoFootage):
    """A clip or photo would be written where another order's media is: refused, nothing is overwritten.

    A kind of :class:`NoFootage` because that is what it means to whoever asked for the clip: none can be made
    for this order (the reason is in the message and the log)."""


class VideoService:
    """Video bookkeeping for one station (see the module docstring); also the bench's `PackingCamera`."""

    def __init__(
        self,
        store: Store,
        settings: VideoSettings,
        data_dir: Path,
        backend: VideoBackend,
        *,
        db: Callable[[Callable[[], Any]], "Future[Any]"],
        schedule: Callable[[float, Callable[[], None]], None] | None = None,
    ) -> None:
        """``db(fn)`` runs ``fn`` on the database thread; ``schedule(delay_s, fn)`` runs ``fn`` later, off the loop
        (None: clips are made on demand only)."""
        self.store = store
        self.settings = settings
        self.data_dir = data_dir
        self.backend = backend
        self._db = db
        self._schedule = schedule
        self._photo_lock = threading.Lock()
        # The printed label of an order as PNG (set by the station when it has a printer): in the evidence bundle.
        self.label_image: Callable[[str], bytes | None] | None = None

    @property
    def video_dir(self) -> Path:
        """``<data_dir>/video``: segments, clips, photos."""
        return self.data_dir / VIDEO_DIR

    def _relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.data_dir.resolve()).as_posix()

    def _db_wait(self, fn: Callable[[], T]) -> T:
        result: T = self._db(fn).result()
        return result

    # -- segments ------------------------------------------------------------------------------------------------
    def segment_closed(self, path: Path, start_ms: int, end_ms: int, frames: int, size: int, sha256: str) -> None:
        """A recorder thread reports a closed segment: index it on the database thread (never blocks)."""
        row = SegmentRow(self._relative(path), start_ms, end_ms, frames, size, sha256)
        self._db(lambda: self.record_segment(row))

    def record_segment(self, row: SegmentRow) -> None:
        """Index a segment (database thread)."""
        with self.store.transaction():
            self.store.db.execute(
                "INSERT OR REPLACE INTO video_segments (path, start_ms, end_ms, frames, bytes, sha256) "
                "VALUES (?,?,?,?,?,?)",
                [row.path, row.start_ms, row.end_ms, row.frames, row.bytes, row.sha256],
            )

    def segments_between(self, start_ms: int, end_ms: int) -> list[SegmentRow]:
        """Indexed segments overlapping ``[start_ms, end_ms)``, oldest first (database thread)."""
        with self.store.reading():
            rows = self.store.db.query(
                "SELECT * FROM video_segments WHERE end_ms > ? AND start_ms < ? ORDER BY start_ms",
                [start_ms, end_ms],
            )
            return [SegmentRow(**r) for r in rows]

    def recording_gaps(self, order_id: str) -> list[tuple[int, int]]:
        """What the order's clip window is missing from the recording, as wall-time stretches (database thread)."""
        window = self.window(order_id)
        if window is None:
            return []
        rows = self.segments_between(window.start_ms, window.end_ms)
        return recording_gaps([(r.start_ms, r.end_ms) for r in rows], window.start_ms, window.end_ms)

    def _recorded_until(self) -> int:
        with self.store.reading():
            return int(self.store.conn.execute("SELECT coalesce(max(end_ms), 0) FROM video_segments").fetchone()[0])

    # -- overlay and clip triggers (committed events, database thread) ---------------------------------------------
    def notify(self, events: Iterable[Envelope]) -> None:
        """Store subscriber: follow orders opened and closed at the bench. Must not block."""
        for event in events:
            if event["type"] != EventType.STATUS_CHANGED or not event.get("order_id"):
                continue
            to = (event.get("data") or {}).get("to")
            actor = event.get("actor") or {}
            if to == "packing":
                self.backend.set_overlay(event["order_id"], actor.get("id"), actor.get("bench"))
            elif to in ("labeled", "pending", "cancelled", "on_hold"):
                self.backend.set_overlay(None, None, actor.get("bench"))
            if to == "labeled" and self._schedule is not None:
                order_id = str(event["order_id"])
                self._schedule(
                    self._clip_delay_s(), functools.partial(self._clip_when_recorded, order_id, _CLIP_ATTEMPTS)
                )

    def _clip_delay_s(self) -> float:
        # The segment holding the post-roll closes at most one segment length after it ends.
        return self.settings.post_roll_s + self.settings.segment_s + 1.0

    def _clip_when_recorded(self, order_id: str, attempts: int) -> None:
        window = self._db_wait(lambda: self.window(order_id))
        if window is None:
            return
        if attempts > 1 and self._db_wait(self._recorded_until) < window.end_ms and self._schedule is not None:
            self._schedule(self.settings.segment_s, lambda: self._clip_when_recorded(order_id, attempts - 1))
            return
        try:
            self.make_clip(order_id)
        except Exception:
            logger.exception("clip of order %s could not be made", order_id)

    # -- clips ---------------------------------------------------------------------------------------------------
    def window(self, order_id: str) -> ClipWindow | None:
        """The order's clip window (database thread)."""
        events = self.store.events_for_order(order_id)
        return clip_window(events, self.settings.pre_roll_s, self.settings.post_roll_s)

    def request_clip(self, order_id: str) -> str | None:
        """Any thread: start making the order's clip in the background (a ``clip.ready`` event follows); the
        refusal reason, or None when it is under way."""
        if self._schedule is None:
            return "clip_unavailable"
        if clip_window(self.store.events_for_order(order_id), 0, 0) is None:
            return "no_bench_events"
        self._schedule(0.0, functools.partial(self._clip_when_recorded, order_id, 1))
        return None

    def make_clip(self, order_id: str) -> ClipResult | None:
        """Assemble and record the order's clip now (blocking: call from an executor, never the loop or the
        database thread). None when the order has no bench events; raises :class:`NoFootage` when nothing
        recorded covers it."""
        window = self._db_wait(lambda: self.window(order_id))
        if window is None:
            return None
        rows = self._db_wait(lambda: self.segments_between(window.start_ms, window.end_ms))
        if not rows:
            raise NoFootage(f"no recorded segment covers order {order_id}")
        out = self.video_dir / "clips" / f"{_safe(order_id)}.mp4"
        # Assembled under a name of its own and moved to `out` on the database thread only once no other order's
        # row is known to reference `out`: even two clips made at once never overwrite another order's.
        part = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:12]}.mp4")
        segments = [(self.data_dir / row.path, row) for row in rows]
        try:
            assembled = self.backend.assemble(segments, window.start_ms, window.end_ms, part, window.markers)
            return self._db_wait(lambda: self._publish_clip(order_id, assembled, out))
        finally:
            part.unlink(missing_ok=True)  # gone already once published

    def _publish_clip(self, order_id: str, clip: ClipResult, out: Path) -> ClipResult:
        """Move an assembled clip to its name and record it, or refuse when that name is another order's
        (database thread)."""
        self._refuse_if_taken(order_id, self._relative(out), "clip")
        os.replace(clip.path, out)
        _fsync_dir(out.parent)  # the row committed next must not outlive the rename across a power cut
        published = dataclasses.replace(clip, path=out)
        self._record_clip(order_id, published)
        return published

    def _refuse_if_taken(self, order_id: str, relative: str, what: str) -> None:
        """Raise :class:`MediaPathTaken` when another order's clip or photo row references ``relative`` or a file
        under it (database thread). Media is evidence: a name collision must never replace another order's."""
        prefix = relative.rstrip("/") + "/"
        # substr rather than LIKE: `_` and `%` are ordinary characters of safe names, wildcards to LIKE.
        match = "order_id != ? AND (path = ? OR substr(path, 1, ?) = ?)"
        args = [order_id, relative, len(prefix), prefix]
        with self.store.reading():
            row = self.store.conn.execute(
                f"SELECT order_id FROM video_clips WHERE {match} "  # noqa: S608 (constant SQL, values bound)
                f"UNION ALL SELECT order_id FROM video_photos WHERE {match} LIMIT 1",
                args + args,
            ).fetchone()
        if row is not None:
            logger.error(
                "%s of order %s refused: %s already holds media of order %s (nothing overwritten)",
                what,
                order_id,
                relative,
                row[0],
            )
            raise MediaPathTaken(f"{what} of order {order_id}: {relative} holds media of another order")

    def _record_clip(self, order_id: str, clip: ClipResult) -> None:
        path = self._relative(clip.path)
        markers = json.dumps([[offset, label] for offset, label in clip.markers], ensure_ascii=False)
        with self.store.transaction() as tx:
            self.store.db.execute(
                "INSERT INTO video_clips (order_id, path, sha256, bytes, start_ms, end_ms, duration_s, markers, "
                "created_ms) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(order_id) DO UPDATE SET path=excluded.path, "
                "sha256=excluded.sha256, bytes=excluded.bytes, start_ms=excluded.start_ms, end_ms=excluded.end_ms, "
                "duration_s=excluded.duration_s, markers=excluded.markers, created_ms=excluded.created_ms",
                [
                    order_id,
                    path,
                    clip.sha256,
                    clip.bytes,
                    clip.start_ms,
                    clip.end_ms,
                    clip.duration_s,
                    markers,
                    tx.wall_now_ms(),
                ],
            )
            data = {
                "path": path,
                "sha256": clip.sha256,
                "bytes": clip.bytes,
                "duration_s": clip.duration_s,
                "start_ms": clip.start_ms,
                "end_ms": clip.end_ms,
            }
            tx.append(NewEvent(EventType.CLIP_READY, SYSTEM, order_id, data))

    def clip_row(self, order_id: str) -> dict[str, Any] | None:
        """The order's clip row (with ``markers`` decoded), or None (database thread)."""
        with self.store.reading():
            row = next(self.store.db.query("SELECT * FROM video_clips WHERE order_id = ?", [order_id]), None)
        if row is None:
            return None
        row["markers"] = json.loads(row["markers"])
        return dict(row)

    # -- photos (PackingCamera) ----------------------------------------------------------------------------------
    def take_packing_photo(self, bench_id: str, order_id: str) -> str | None:
        """The `packed` guard's evidence: a JPEG under ``video/photos/<order>/``; the reference is
        ``<relative path>#sha256=<hex>``, or None when the camera has no fresh picture.

        Runs on the database thread before the transaction (the workflow asks evidence ports there), so the
        photo row is written right here.
        """
        folder = self.video_dir / "photos" / _safe(order_id)
        with self._photo_lock:
            try:
                self._refuse_if_taken(order_id, self._relative(folder), "packing photo")
            except MediaPathTaken:
                return None  # logged; no photo is a missing photo: `packed` waits rather than mix up evidence
            n = self._next_photo_number(order_id, folder)
            photo = self.backend.take_photo(folder / f"{n}.jpg")
        if photo is None:
            logger.warning("bench %s: no packing photo for order %s (no fresh picture)", bench_id, order_id)
            return None
        relative = self._relative(photo.path)
        with self.store.transaction():
            self.store.db.execute(
                "INSERT OR REPLACE INTO video_photos (order_id, n, path, sha256, bytes, wall_ms) VALUES (?,?,?,?,?,?)",
                [order_id, n, relative, photo.sha256, photo.bytes, photo.wall_ms],
            )
        return f"{relative}#sha256={photo.sha256}"

    def _next_photo_number(self, order_id: str, folder: Path) -> int:
        """One past both the order's last photo row and the highest numbered file in its folder: a number
        freed by retention (or a file left without a row) is never reused, so no photo replaces another."""
        with self.store.reading():
            last_row = int(
                self.store.conn.execute(
                    "SELECT coalesce(max(n), 0) FROM video_photos WHERE order_id = ?", [order_id]
                ).fetchone()[0]
            )
        numbers = [int(p.stem) for p in folder.glob("*.jpg") if p.stem.isdigit()] if folder.exists() else []
        return max([last_row, *numbers]) + 1

    def photos(self, order_id: str) -> list[dict[str, Any]]:
        """The order's photo rows, by number (database thread)."""
        with self.store.reading():
            return list(self.store.db.query("SELECT * FROM video_photos WHERE order_id = ? ORDER BY n", [order_id]))

    # -- evidence ------------------------------------------------------------------------------------------------
    def evidence(self, order_id: str, station: str) -> bytes | None:
        """The order's evidence zip (blocking: from an executor); None for an unknown order."""

        def gather() -> tuple[list[Envelope], dict[str, Any] | None, list[dict[str, Any]], dict[str, Any]]:
            seq, head = self.store.head()
            chain = {"seq": seq, "hash": head, "stream_epoch": self.store.stream_epoch}
            return self.store.events_for_order(order_id), self.clip_row(order_id), self.photos(order_id), chain

        timeline, clip, photos, chain_head = self._db_wait(gather)
        if not timeline:
            return None
        files: dict[str, Path] = {}
        if clip is not None and clip.get("path"):
            files["clip.mp4"] = self.data_dir / clip["path"]
        for photo in photos:
            files[f"photos/{photo['n']}.jpg"] = self.data_dir / photo["path"]
        # lazy: the signing library costs ~10 MB of RSS, for a bundle a supervisor asks for now and then
        from station.video.evidence import build_evidence  # noqa: PLC0415

        label = self.label_image(order_id) if self.label_image is not None else None
        gaps = self._db_wait(lambda: self.recording_gaps(order_id))
        return build_evidence(
            self.data_dir,
            order_id=order_id,
            station=station,
            files={name: path for name, path in files.items() if path.exists()},
            blobs={"label.png": label} if label is not None else None,
            recording_gaps=gaps,
            timeline=timeline,
            chain_head=chain_head,
            created_ms=self.store.wall_ms(),
        )

    # -- retention -----------------------------------------------------------------------------------------------
    def video_files(self) -> list[VideoFile]:
        """Every indexed video file with its class, size, age and dispute flag (database thread), once per path.

        A file more than one row references is one item, disputed if any of its rows is and as young as its
        youngest row: retention never deletes a file that another row still keeps."""
        with self.store.reading():
            db = self.store.db
            files = [
                VideoFile(r["path"], "segment", r["bytes"], r["end_ms"], False)
                for r in db.query("SELECT path, bytes, end_ms FROM video_segments")
            ]
            files += [
                VideoFile(r["path"], "clip", r["bytes"] or 0, r["created_ms"] or 0, bool(r["disputed"]))
                for r in db.query("SELECT * FROM video_clips WHERE path IS NOT NULL")
            ]
            files += [
                VideoFile(r["path"], "photo", r["bytes"], r["wall_ms"], bool(r["disputed"]))
                for r in db.query(
                    "SELECT p.path, p.bytes, p.wall_ms, coalesce(c.disputed, 0) AS disputed FROM video_photos p "
                    "LEFT JOIN video_clips c ON c.order_id = p.order_id"
                )
            ]
        return _one_per_path(files)

    def run_retention(self, now_ms: int | None = None) -> list[str]:
        """Delete what the retention rules say (blocking: from an executor); return the deleted paths."""
        files = self._db_wait(self.video_files)
        now = self.store.wall_ms() if now_ms is None else now_ms
        try:
            free = shutil.disk_usage(self.data_dir).free
        except OSError:
            free = 0
        doomed = self.backend.plan_deletions(files, self.settings.retention, now, free)
        for path in doomed:
            (self.data_dir / path).unlink(missing_ok=True)
        if doomed:
            self._db_wait(lambda: self._forget(doomed))
            logger.info("video retention deleted %d files", len(doomed))
        return doomed

    def _forget(self, paths: Sequence[str]) -> None:
        with self.store.transaction():
            for path in paths:
                self.store.db.execute("DELETE FROM video_segments WHERE path = ?", [path])
                self.store.db.execute("DELETE FROM video_photos WHERE path = ?", [path])
                self.store.db.execute(
                    "UPDATE video_clips SET path = NULL, sha256 = NULL, bytes = NULL WHERE path = ?", [path]
                )


def _one_per_path(files: Iterable[VideoFile]) -> list[VideoFile]:
    """Merge rows that reference the same file (see :meth:`VideoService.video_files`), in first-seen order."""
    merged: dict[str, VideoFile] = {}
    for f in files:
        seen = merged.get(f.path)
        merged[f.path] = (
            f
            if seen is None
            else dataclasses.replace(
                seen,
                bytes=max(seen.bytes, f.bytes),
                created_ms=max(seen.created_ms, f.created_ms),
                disputed=seen.disputed or f.disputed,
            )
        )
    return list(merged.values())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _safe(order_id: str) -> str:
    """An order id as one path component (ids come from the hub and shops: never let one climb out of the
    directory). An id that had to be changed (`#1001`) gets a digest of itself, so that two ids that differ
    only where they were changed (`#1001`, `_1001`) never share a file."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in order_id).lstrip(".")
    if safe == order_id:
        return safe
    return f"{safe or '_'}~{hashlib.sha256(order_id.encode()).hexdigest()[:12]}"
