"""Shared recordings for the camera tests, and the test kit on sys.path.

Recording takes real time (the simulated camera runs on the wall clock), so one recording is made per session
and read by many tests; each test that needs a special condition (a frozen camera, a full disk) records its
own few seconds.
"""

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from camera_testkit import Recording, record  # noqa: E402 - needs the sys.path entry above


@pytest.fixture(scope="session")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """About 5 s of sim://, 320x240 @ 15 fps, 2-s segments, overlay set: three segments."""
    root = tmp_path_factory.mktemp("rec-overlay")
    return record(
        root,
        "sim://main?width=320&height=240&fps=15",
        seconds=5.0,
        overlay={"order_id": "SO20260205-8821", "packer": "OP-17", "bench": "B3"},
        photo=True,
    )


@pytest.fixture(scope="session")
def plain_recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """The same camera recorded without overlay, for comparison."""
    root = tmp_path_factory.mktemp("rec-plain")
    return record(root, "sim://main?width=320&height=240&fps=15", seconds=2.5, burn_overlay=False)
