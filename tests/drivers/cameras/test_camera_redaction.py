"""A camera's password never reaches its health dict or the log, whatever carries it: the URL itself, the name
of a simulated camera, or FFmpeg's error message quoting the URL it could not open."""

import logging

import pytest

from drivers.cameras import CameraHealth, SourceStatus, open_camera
from drivers.cameras.sources.stream import StreamCamera, StreamSettings

SECRET = "hunter2"


def test_a_sim_camera_drops_credentials_from_its_name_and_url() -> None:
    camera = open_camera(f"sim://admin:{SECRET}@B01?width=320&height=240")
    assert camera.url == "sim://B01"
    assert SECRET not in repr(camera.status())


def test_an_rtsp_camera_that_cannot_connect_reports_and_logs_without_its_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Port 1 on loopback refuses at once; FFmpeg's error then quotes the URL, password and token included.
    url = f"rtsp://admin:{SECRET}@127.0.0.1:1/Streaming/Channels/101?token={SECRET}"
    camera = StreamCamera(StreamSettings(url=url, open_timeout_s=2.0, read_timeout_s=2.0))
    with caplog.at_level(logging.DEBUG, logger="drivers"):
        camera.start()
        camera.close()
    status = camera.status()
    assert status.last_error is not None
    assert status.last_error.startswith("open failed")
    assert status.url == "rtsp://admin:***@127.0.0.1:1/Streaming/Channels/101?token=***"
    assert SECRET not in repr(status)
    assert "reconnecting" in caplog.text
    assert SECRET not in caplog.text


def test_the_health_dict_redacts_urls_even_from_a_source_that_leaks_them() -> None:
    leaky = SourceStatus(
        url=f"rtsp://admin:{SECRET}@10.0.0.5/x",
        kind="rtsp",
        connected=False,
        width=0,
        height=0,
        fps=0.0,
        reconnects=3,
        last_error=f"open failed: refused: 'rtsp://admin:{SECRET}@10.0.0.5/x'",
    )
    health = CameraHealth(
        alerts=frozenset(),
        running=True,
        recording=False,
        source=leaky,
        encoder=None,
        latest_frame_age_s=None,
        frozen_for_s=0.0,
        fps=0.0,
        frames_captured=0,
        frames_encoded=0,
        frames_dropped=0,
        segments_stored=0,
        segments_lost=0,
        bytes_stored=0,
        pending_segments=0,
        storage_full_reason=None,
        last_error=f"OSError: rtsp://admin:{SECRET}@10.0.0.5/x",
    )
    shown = health.as_dict()
    assert SECRET not in repr(shown)
    assert shown["source"]["url"] == "rtsp://admin:***@10.0.0.5/x"  # type: ignore[index]
