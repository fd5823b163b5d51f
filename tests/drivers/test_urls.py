"""Device URLs made safe to show: the password and credential query values go, the device stays recognisable."""

import pytest

from drivers.urls import redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:hunter2@10.0.0.5/stream", "rtsp://admin:***@10.0.0.5/stream"),
        ("rtsp://admin:hunter2@10.0.0.5:554/ch/101?tcp=1", "rtsp://admin:***@10.0.0.5:554/ch/101?tcp=1"),
        # A password with an unescaped "@" is cut off whole; an IPv6 host keeps its brackets.
        ("rtsp://admin:p@ss@[fd00::5]:554/x", "rtsp://admin:***@[fd00::5]:554/x"),
        ("rtsp://cam.local/x?token=s3cret&channel=1", "rtsp://cam.local/x?token=***&channel=1"),
        ("http://cam/x?Password=s3cret&key=k&api_key=a&sig=z", "http://cam/x?Password=***&key=***&api_key=***&sig=***"),
        ("sim://admin:hunter2@B01?width=320", "sim://admin:***@B01?width=320"),
    ],
)
def test_credentials_are_masked_and_the_device_is_kept(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://10.0.0.9/Streaming/Channels/101",
        "rtsp://viewer@10.0.0.9/x",  # a user name alone is no secret, and tells the operator which account
        "sim://B01?width=320&height=240&script=a+b%20c",  # other options stay exactly as written
        "/dev/serial/by-id/usb-bench-controller",
        "tcp://10.0.0.7:9100",
        "",
    ],
)
def test_urls_without_credentials_come_back_unchanged(url: str) -> None:
    assert redact_url(url) == url


def test_an_unparseable_url_shows_its_scheme_only() -> None:
    assert redact_url("rtsp://admin:hunter2@[fd00::5/x") == "rtsp://***"


def test_urls_quoted_in_a_message_are_redacted() -> None:
    message = "open failed: [Errno 111] Connection refused: 'rtsp://admin:hunter2@10.0.0.5:554/x?token=t0k'"
    assert redact_text(message) == (
        "open failed: [Errno 111] Connection refused: 'rtsp://admin:***@10.0.0.5:554/x?token=***'"
    )
    assert redact_text("no URL here: disk full") == "no URL here: disk full"
