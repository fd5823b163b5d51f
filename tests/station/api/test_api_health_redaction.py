"""`GET /api/v1/health` is open to every bench token: a camera configured with credentials shows without them."""

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from videokit import VideoStation, video_station, wait

SECRET = "hunter2"


@pytest.fixture
def video(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[VideoStation]:
    caplog.set_level(logging.DEBUG)  # from the start: the camera's own start-up lines count too
    yield from video_station(tmp_path, f"sim://admin:{SECRET}@B01?width=320&height=240&fps=10")


def test_health_and_logs_show_the_camera_without_its_password(
    video: VideoStation, caplog: pytest.LogCaptureFixture
) -> None:
    assert video.station.camera is not None
    recorder = video.station.camera.recorder
    wait(lambda: recorder.latest_frame() is not None)  # connected and recording: every start-up line is logged
    response = video.client.get("/api/v1/health", headers=video.bench)
    assert response.status_code == 200, response.text
    camera = response.json()["parts"]["camera"]
    assert camera["source"]["url"] == "sim://B01"  # still the device the operator knows
    assert SECRET not in json.dumps(response.json())
    assert SECRET not in caplog.text
