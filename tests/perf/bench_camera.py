"""Benchmark: continuous recording with overlay, against the ffmpeg command line encoding the same frames.

DESIGN §10: 720p30 recorded with overlay, no dropped frames over 10 minutes; CPU per frame within 1.3x of
``ffmpeg`` encoding the same frames with the same codec settings, in the same run.

Both sides get the same raw BGR frames (a pool of simulator pictures, rendered before measuring so that making
them costs neither side), paced in real time at the camera rate:

- ours: a replay camera → :class:`Recorder` (overlay burned in, libx264 ultrafast/zerolatency, fragmented-MP4
  segments in a RAM directory, hashed, checked and moved to storage) — process CPU from ``os.times()``;
- ffmpeg: the same frames written to ``ffmpeg -f rawvideo ... -c:v libx264 -preset ultrafast -tune zerolatency``
  with the same keyframe interval, CRF and segment muxing — the child's CPU from its rusage.

A dropped frame is one the recorder was not ready for when the next one arrived (it lost it, like a camera
whose grabber keeps only the newest frame). The run is split into ``--rounds`` that alternate the two sides, so
that load from other processes on the machine hits both alike; the figures are sums over the rounds.

    .venv/bin/python tests/perf/bench_camera.py --seconds 30            # the CI-sized run
    .venv/bin/python tests/perf/bench_camera.py --seconds 600           # the budget's 10 minutes
"""

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from drivers.cameras import Frame, Recorder, RecorderSettings, SegmentInfo, SourceStatus
from drivers.cameras.frames import wall_ms_now
from drivers.cameras.sources import SimKnobs, render_pattern

BUDGET_RATIO = 1.3


class ReplayCamera:
    """A frame source that plays a pool of pictures at ``fps`` in real time, ``total`` frames in all."""

    url = "bench://replay"
    kind = "sim"
    delivers_packets = False

    def __init__(self, pool: list[np.ndarray], fps: float, total: int) -> None:
        self._pool = pool
        self._fps = fps
        self._total = total
        self._t0 = 0.0
        self._next = 0
        self.done = threading.Event()

    def start(self) -> None:
        self._t0 = time.monotonic()

    def close(self) -> None:
        self.done.set()

    def status(self) -> SourceStatus:
        height, width = self._pool[0].shape[:2]
        return SourceStatus(self.url, "sim", True, width, height, self._fps, 0, None)

    def read(self, timeout_s: float) -> Frame | None:
        now = time.monotonic()
        index = max(self._next, int((now - self._t0) * self._fps))  # late: the newest frame, the rest lost
        if index >= self._total:
            self.done.set()
            time.sleep(timeout_s)
            return None
        due = self._t0 + index / self._fps
        if due - now > timeout_s:
            time.sleep(timeout_s)
            return None
        if due > now:
            time.sleep(due - now)
        self._next = index + 1
        # The pool's array is handed over as is: the recorder restores what it overlays.
        return Frame(self._pool[index % len(self._pool)], wall_ms_now(), time.monotonic(), index)


def cpu_s() -> float:
    """User + system CPU seconds of this process (all threads)."""
    times = os.times()
    return times.user + times.system


def run_ours(pool: list[np.ndarray], fps: float, total: int, work: Path, segment_s: float) -> dict[str, object]:
    segments: list[SegmentInfo] = []
    camera = ReplayCamera(pool, fps, total)
    ram = Path(tempfile.mkdtemp(prefix="bench-cam-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    recorder = Recorder(
        camera,
        work / "ours",
        ram_dir=ram,
        segment_s=segment_s,
        encoder="libx264",
        on_segment=segments.append,
        settings=RecorderSettings(storage_min_free_bytes=0),
    )
    recorder.set_overlay(order_id="SO20260205-8821", packer="OP-17", bench="B3")
    cpu0, wall0 = cpu_s(), time.monotonic()
    recorder.start()
    camera.done.wait()
    health = recorder.health_state()
    recorder.stop()
    cpu, wall = cpu_s() - cpu0, time.monotonic() - wall0
    shutil.rmtree(ram, ignore_errors=True)
    encoded = health.frames_encoded
    return {
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "frames_offered": total,
        "frames_encoded": encoded,
        "frames_dropped": health.frames_dropped + (total - health.frames_captured),
        "cpu_ms_per_frame": round(cpu / max(1, encoded) * 1000, 3),
        "segments": len(segments),
        "bytes": sum(segment.bytes for segment in segments),
        # Includes the frame pool (``pool_mb`` in the settings), which a real camera does not need.
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run_ffmpeg(
    pool: list[np.ndarray], fps: float, total: int, work: Path, segment_s: float, keyint: int
) -> dict[str, object]:
    height, width = pool[0].shape[:2]
    out = work / "ffmpeg"
    out.mkdir(parents=True, exist_ok=True)
    command = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "pipe:0",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-crf", "23",
        "-x264-params", f"keyint={keyint}:min-keyint={keyint}:scenecut=0", "-pix_fmt", "yuv420p",
        "-f", "segment", "-segment_time", str(segment_s), "-reset_timestamps", "1", "-segment_format", "mp4",
        "-segment_format_options", "movflags=frag_keyframe+empty_moov+default_base_moof",
        str(out / "seg%05d.mp4"),
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall0 = time.monotonic()
    child = subprocess.Popen(command, stdin=subprocess.PIPE)
    assert child.stdin is not None
    t0 = time.monotonic()
    for index in range(total):
        delay = t0 + index / fps - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        child.stdin.write(pool[index % len(pool)].tobytes())
    child.stdin.close()
    code = child.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code != 0:
        raise SystemExit(f"ffmpeg failed with exit code {code}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    files = sorted(out.glob("seg*.mp4"))
    return {
        "cpu_s": round(cpu, 3),
        "wall_s": round(time.monotonic() - wall0, 3),
        "frames": total,
        "cpu_ms_per_frame": round(cpu / total * 1000, 3),
        "segments": len(files),
        "bytes": sum(path.stat().st_size for path in files),
    }


def _sum(results: list[dict[str, object]], per_frame_of: str) -> dict[str, object]:
    """Add up the rounds of one side (the peak RSS is the largest)."""
    total: dict[str, object] = {}
    for key in results[0]:
        values = [result[key] for result in results]
        if key == "peak_rss_mb":
            total[key] = max(values)  # type: ignore[type-var]
        elif key != "cpu_ms_per_frame":
            total[key] = round(sum(values), 3)  # type: ignore[arg-type]
    frames = int(total[per_frame_of])  # type: ignore[call-overload]
    total["cpu_ms_per_frame"] = round(float(total["cpu_s"]) / max(1, frames) * 1000, 3)  # type: ignore[arg-type]
    return total


def ffmpeg_version() -> str:
    line = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    return line.split(" Copyright")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="recording length (default: 10 minutes)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--segment-s", type=float, default=4.0)
    parser.add_argument("--pool", type=int, default=60, help="distinct pictures, played in a loop")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds the time is split into")
    parser.add_argument("--dir", type=Path, default=None, help="where segments go (default: a temporary folder)")
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        raise SystemExit("ffmpeg is not installed (Debian: apt-get install ffmpeg)")

    knobs = SimKnobs(width=args.width, height=args.height, fps=args.fps)
    pool = [render_pattern(knobs, index, "bench") for index in range(args.pool)]
    per_round = int(args.seconds * args.fps / args.rounds)
    keyint = max(1, round(args.fps * RecorderSettings().keyframe_interval_s))
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench-camera-"))
    rounds: list[tuple[dict[str, object], dict[str, object]]] = []
    try:
        for index in range(args.rounds):
            ours_round = run_ours(pool, args.fps, per_round, work / f"round{index}", args.segment_s)
            ffmpeg_round = run_ffmpeg(pool, args.fps, per_round, work / f"round{index}", args.segment_s, keyint)
            rounds.append((ours_round, ffmpeg_round))
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    ours = _sum([o for o, _ in rounds], per_frame_of="frames_encoded")
    reference = _sum([f for _, f in rounds], per_frame_of="frames")
    ratio = float(ours["cpu_ms_per_frame"]) / float(reference["cpu_ms_per_frame"])  # type: ignore[arg-type]
    result = {
        "benchmark": "camera",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "ffmpeg": ffmpeg_version(),
        "settings": {
            "width": args.width,
            "height": args.height,
            "fps": args.fps,
            "seconds": args.seconds,
            "segment_s": args.segment_s,
            "keyint": keyint,
            "codec": "libx264 preset=ultrafast tune=zerolatency crf=23",
            "overlay": True,
            "pool_mb": round(sum(frame.nbytes for frame in pool) / 2**20, 1),
        },
        "ours": ours,
        "ffmpeg_cli": reference,
        "cpu_ratio_per_round": [
            round(float(o["cpu_ms_per_frame"]) / float(f["cpu_ms_per_frame"]), 3)  # type: ignore[arg-type]
            for o, f in rounds
        ],
        "cpu_ratio": round(ratio, 3),
        "budget": {"cpu_ratio_max": BUDGET_RATIO, "dropped_frames_max": 0},
        "within_budget": ratio <= BUDGET_RATIO and ours["frames_dropped"] == 0,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
