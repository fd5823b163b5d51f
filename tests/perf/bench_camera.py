"""Benchmark: continuous recording of the sim camera with overlay, against the ffmpeg command line, in one run.

BENCHMARKS.md ("Budgets") and issue #7: 720p30 from the ``sim://`` source recorded with overlay for 10 minutes
— dropped frames (target 0), CPU seconds per recorded minute as a ratio to the Debian ``ffmpeg`` command line
encoding the same raw frames with the same settings in the same run (target ≤ 1.3), and the peak RSS of our
recorder process.

Both sides run **at the same time**, paced in real time at the camera rate, so that load from other jobs on the
machine hits both alike:

- ours: a separate Python process (so that its peak RSS is the recorder's and nothing else's) with the real
  ``sim://bench`` camera → :class:`Recorder` (overlay burned in, libx264 ultrafast/zerolatency, fragmented-MP4
  segments in a RAM directory, hashed, checked and moved to storage). Its CPU is the process's CPU from the
  recorder's start to its stop, minus the CPU the simulator spends drawing its pictures (measured as the
  recorder thread's CPU time inside ``read``): a real camera hands over frames it did not cost us to draw.
- ffmpeg: this process draws the same pictures (``render_pattern`` is a function of the frame number) and burns
  in the same overlay with the same painter, outside the measurement, and writes them to
  ``ffmpeg -f rawvideo -pix_fmt bgr24 ... -c:v libx264 -preset ultrafast -tune zerolatency -crf 23`` with the
  same keyframe interval and the same fragmented-MP4 segment muxing. Its CPU and peak RSS come from its rusage.

A dropped frame is one the recorder never received (the simulator, like a camera whose grabber keeps only the
newest frame, moves on when the reader is late: ``dropped_reader_late``), one its frame queue let go
(``dropped_queue_full``), or one received but not encoded. Unlike a USB camera, the simulator has no kernel
buffer queue, so on an overloaded machine a late reader thread loses frames that a real camera would still
hold. The 1-minute load average is sampled every 5 s during the run and reported with the figures.

    .venv/bin/python tests/perf/bench_camera.py --seconds 30            # a quick run
    .venv/bin/python tests/perf/bench_camera.py                         # the budget's 10 minutes
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import av

from drivers.cameras import Frame, Overlay, OverlayPainter, Recorder, RecorderSettings, SourceStatus, open_camera
from drivers.cameras.frames import wall_ms_now
from drivers.cameras.sources import FrameSource, SimKnobs, render_pattern

BUDGET_RATIO = 1.3
SIM_NAME = "bench"
OVERLAY = Overlay(order_id="SO20260205-8821", packer="OP-17", bench="B3")
CODEC = {"preset": "ultrafast", "tune": "zerolatency", "crf": "23"}


def status_kb(field: str) -> int:
    """A number field of /proc/self/status (VmRSS and VmHWM in kB, Threads)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def process_cpu_s() -> float:
    """User + system CPU seconds of this process, all threads."""
    times = os.times()
    return times.user + times.system


class MeteredSim:
    """The sim camera, ending after ``total`` frames, with the CPU its ``read`` spends drawing pictures."""

    def __init__(self, inner: FrameSource, total: int) -> None:
        self._inner = inner
        self._total = total
        self.draw_cpu_s = 0.0
        self.received = 0
        self.skipped = 0  # frames the simulator moved past because its reader came late
        self._last_seq = -1
        self.done = threading.Event()

    @property
    def url(self) -> str:
        return self._inner.url

    @property
    def kind(self) -> Any:
        return self._inner.kind

    @property
    def delivers_packets(self) -> bool:
        return False

    def start(self) -> None:
        self._inner.start()

    def close(self) -> None:
        self._inner.close()
        self.done.set()

    def status(self) -> SourceStatus:
        return self._inner.status()

    def read(self, timeout_s: float) -> Frame | None:
        if self.done.is_set():
            time.sleep(timeout_s)
            return None
        cpu0 = time.thread_time()  # waiting for a frame's due time costs no CPU; drawing it does
        frame = self._inner.read(timeout_s)
        self.draw_cpu_s += time.thread_time() - cpu0
        if frame is None:
            return None
        if frame.seq >= self._total:
            self.done.set()
            return None
        self.received += 1
        self.skipped += frame.seq - self._last_seq - 1
        self._last_seq = frame.seq
        return frame


def child_main(args: argparse.Namespace) -> None:
    """Our side, in its own process: record ``--seconds`` of the sim camera and print the figures as JSON."""
    total = round(args.seconds * args.fps)
    rss_after_imports_mb = status_kb("VmRSS") / 1024
    camera = open_camera(f"sim://{SIM_NAME}?width={args.width}&height={args.height}&fps={args.fps}")
    # The simulator builds its colour bars and OpenCV its font tables on the first picture (~60 ms together):
    # a cost of the test pattern, not of recording, which would otherwise lose frame 1 on a busy machine.
    render_pattern(SimKnobs(width=args.width, height=args.height, fps=args.fps), 0, SIM_NAME)
    assert isinstance(camera, FrameSource)
    source = MeteredSim(camera, total)
    work = Path(args.child_dir)
    ram = Path(tempfile.mkdtemp(prefix="bench-cam-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    segments: list[Any] = []
    recorder = Recorder(
        source,
        work / "ours",
        ram_dir=ram,
        segment_s=args.segment_s,
        encoder="libx264",
        on_segment=segments.append,
        settings=RecorderSettings(storage_min_free_bytes=0),
    )
    recorder.set_overlay(order_id=OVERLAY.order_id, packer=OVERLAY.packer, bench=OVERLAY.bench)
    rss_by_minute: list[float] = []
    threads_max = 0
    cpu0 = process_cpu_s()
    recorder.start()
    print("ready", flush=True)
    started = time.monotonic()
    while not source.done.wait(1.0):
        elapsed = time.monotonic() - started
        threads_max = max(threads_max, status_kb("Threads"))
        if elapsed >= 60 * (len(rss_by_minute) + 1):
            rss_by_minute.append(round(status_kb("VmRSS") / 1024, 1))
        if elapsed > args.seconds + 60 or not recorder.running:
            break  # the recorder failed: report what it did
    health = recorder.health_state()
    recorder.stop()
    cpu_total = process_cpu_s() - cpu0
    shutil.rmtree(ram, ignore_errors=True)
    encoded = health.frames_encoded
    net = cpu_total - source.draw_cpu_s
    result = {
        "frames_offered": total,
        "frames_received": source.received,
        "frames_encoded": encoded,
        "frames_dropped": (total - source.received) + (source.received - encoded),
        "dropped_reader_late": source.skipped,
        "dropped_queue_full": source.received - health.frames_captured,
        "cpu_total_s": round(cpu_total, 3),
        "cpu_sim_drawing_s": round(source.draw_cpu_s, 3),
        "cpu_s": round(net, 3),
        "cpu_s_per_recorded_min": round(net / max(1e-9, encoded / args.fps / 60), 3),
        "segments": len(segments),
        "segments_lost": health.segments_lost,
        "bytes": sum(segment.bytes for segment in segments),
        "rss_after_imports_mb": round(rss_after_imports_mb, 1),
        "rss_by_minute_mb": rss_by_minute,
        "peak_rss_mb": round(status_kb("VmHWM") / 1024, 1),
        "threads_max": threads_max,
    }
    print(json.dumps(result), flush=True)


class LoadSampler(threading.Thread):
    """The 1-minute load average every ``every_s`` seconds while the benchmark runs."""

    def __init__(self, every_s: float = 5.0) -> None:
        super().__init__(name="load-sampler", daemon=True)
        self.samples: list[float] = []
        self._every_s = every_s
        self._finished = threading.Event()

    def run(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._finished.wait(self._every_s):
                return

    def finish(self) -> dict[str, object]:
        self._finished.set()
        self.join()
        samples = self.samples or [os.getloadavg()[0]]
        return {
            "min": round(min(samples), 2),
            "mean": round(sum(samples) / len(samples), 2),
            "max": round(max(samples), 2),
            "samples": len(samples),
        }


def ffmpeg_command(args: argparse.Namespace, keyint: int, out: Path) -> list[str]:
    return [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{args.width}x{args.height}", "-r", str(args.fps),
        "-i", "pipe:0",
        "-c:v", "libx264", "-preset", CODEC["preset"], "-tune", CODEC["tune"], "-crf", CODEC["crf"],
        "-x264-params", f"keyint={keyint}:min-keyint={keyint}:scenecut=0", "-pix_fmt", "yuv420p",
        "-f", "segment", "-segment_time", str(args.segment_s), "-reset_timestamps", "1", "-segment_format", "mp4",
        "-segment_format_options", "movflags=frag_keyframe+empty_moov+default_base_moof",
        str(out / "seg%05d.mp4"),
    ]  # fmt: skip


def feed_ffmpeg(child: subprocess.Popen[bytes], args: argparse.Namespace, total: int) -> dict[str, object]:
    """Draw the sim's pictures with the overlay and write them to ffmpeg in real time (not part of its CPU)."""
    assert child.stdin is not None
    knobs = SimKnobs(width=args.width, height=args.height, fps=args.fps)
    painter = OverlayPainter(args.width, args.height)
    late = 0
    t0 = time.monotonic()
    for index in range(total):
        delay = t0 + index / args.fps - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1 / args.fps:
            late += 1
        image = render_pattern(knobs, index, SIM_NAME)
        painter.paint(image, OVERLAY, wall_ms_now())
        child.stdin.write(image.data)
    child.stdin.close()
    return {"frames_fed": total, "frames_fed_late": late, "feed_s": round(time.monotonic() - t0, 3)}


def count_frames(files: list[Path]) -> int:
    frames = 0
    for path in files:
        with av.open(str(path)) as container:
            frames += sum(1 for packet in container.demux(container.streams.video[0]) if packet.size)
    return frames


def wait_for(child: subprocess.Popen[bytes]) -> tuple[int, Any]:
    """Reap ``child`` with its resource usage (CPU, peak RSS)."""
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, usage


def machine() -> dict[str, object]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "pyav": av.__version__,
        "ffmpeg_in_pyav": av.ffmpeg_version_info,
    }


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
    parser.add_argument("--dir", type=Path, default=None, help="where segments go (default: a temporary folder)")
    parser.add_argument("--child-dir", help=argparse.SUPPRESS)  # set when this script runs our side
    args = parser.parse_args()
    if args.child_dir:
        child_main(args)
        return
    if shutil.which("ffmpeg") is None:
        raise SystemExit("ffmpeg is not installed (Debian: apt-get install ffmpeg)")

    total = round(args.seconds * args.fps)
    keyint = max(1, round(args.fps * RecorderSettings().keyframe_interval_s))
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench-camera-"))
    out = work / "ffmpeg"
    out.mkdir(parents=True, exist_ok=True)
    load = LoadSampler()
    load_before = os.getloadavg()
    ours_argv = [sys.executable, __file__, "--child-dir", str(work), "--seconds", str(args.seconds)]
    ours_argv += ["--width", str(args.width), "--height", str(args.height), "--fps", str(args.fps)]
    ours_argv += ["--segment-s", str(args.segment_s)]
    children: list[subprocess.Popen[bytes]] = []
    try:
        ours_proc = subprocess.Popen(ours_argv, stdout=subprocess.PIPE)
        children.append(ours_proc)
        assert ours_proc.stdout is not None
        if ours_proc.stdout.readline().strip() != b"ready":
            raise SystemExit("the recorder process did not start")
        load.start()
        ffmpeg_proc = subprocess.Popen(ffmpeg_command(args, keyint, out), stdin=subprocess.PIPE)
        children.append(ffmpeg_proc)
        feed = feed_ffmpeg(ffmpeg_proc, args, total)
        code, ffmpeg_usage = wait_for(ffmpeg_proc)
        if code != 0:
            raise SystemExit(f"ffmpeg failed with exit code {code}")
        ours_out = ours_proc.stdout.read()
        code, ours_usage = wait_for(ours_proc)
        if code != 0:
            raise SystemExit(f"the recorder process failed with exit code {code}")
        load_figures = load.finish()
        files = sorted(out.glob("seg*.mp4"))
        ffmpeg_frames = count_frames(files)
        ffmpeg_bytes = sum(path.stat().st_size for path in files)
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                child.wait()
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)

    ours = json.loads(ours_out.decode().strip().splitlines()[-1])
    ours["peak_rss_mb_rusage"] = round(ours_usage.ru_maxrss / 1024, 1)
    ffmpeg_cpu = ffmpeg_usage.ru_utime + ffmpeg_usage.ru_stime
    reference = {
        "frames": ffmpeg_frames,
        "cpu_s": round(ffmpeg_cpu, 3),
        "cpu_s_per_recorded_min": round(ffmpeg_cpu / max(1e-9, ffmpeg_frames / args.fps / 60), 3),
        "segments": len(files),
        "bytes": ffmpeg_bytes,
        "peak_rss_mb": round(ffmpeg_usage.ru_maxrss / 1024, 1),
        **feed,
    }
    ratio = float(ours["cpu_s_per_recorded_min"]) / float(reference["cpu_s_per_recorded_min"])
    result = {
        "benchmark": "camera",
        "machine": machine(),
        "ffmpeg": ffmpeg_version(),
        "settings": {
            "width": args.width,
            "height": args.height,
            "fps": args.fps,
            "seconds": args.seconds,
            "segment_s": args.segment_s,
            "keyint": keyint,
            "codec": "libx264 " + " ".join(f"{key}={value}" for key, value in CODEC.items()),
            "overlay": True,
            "ffmpeg_command": " ".join(ffmpeg_command(args, keyint, Path("OUT"))),
        },
        "load_1min": {"before": round(load_before[0], 2), **load_figures, "after": round(os.getloadavg()[0], 2)},
        "ours": ours,
        "ffmpeg_cli": reference,
        "cpu_ratio": round(ratio, 3),
        "budget": {"cpu_ratio_max": BUDGET_RATIO, "dropped_frames_max": 0},
        "within_budget": ratio <= BUDGET_RATIO and ours["frames_dropped"] == 0,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
