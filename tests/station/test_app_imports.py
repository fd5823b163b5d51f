"""What the service loads: a station without a camera keeps OpenCV and PyAV (~30 MB of RSS) out of memory, and
the signing library (~10 MB) waits for the first evidence bundle."""

import subprocess
import sys
from pathlib import Path

HEAVY = ("av", "cryptography", "cv2", "drivers.cameras")

PROBE = f"""
import sys
from pathlib import Path
from station.app import Station
from station.config import load_settings
settings = load_settings(None, environ={{"STATION_DATA": sys.argv[1], "STATION_DEVICES__CAMERA": sys.argv[2]}})
station = Station.build(settings)
print(station.camera is not None, sorted(m for m in {HEAVY!r} if m in sys.modules))
"""


def _probe(data: Path, camera: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(data), camera], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_the_camera_stack_is_loaded_only_with_a_camera(tmp_path: Path) -> None:
    assert _probe(tmp_path / "a", "") == "False []"
    assert _probe(tmp_path / "b", "sim://bench") == "True ['av', 'cv2', 'drivers.cameras']"
