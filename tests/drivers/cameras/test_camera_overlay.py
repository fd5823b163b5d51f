"""The overlay burned into recorded frames and photos: present where it should be, and only there."""

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from camera_testkit import Recording, first_frame

from drivers.cameras import Frame, Overlay, OverlayPainter
from drivers.cameras.overlay import find_cjk_font, format_wall_time, transliterate
from drivers.cameras.photos import write_photo
from drivers.cameras.sources import SimKnobs, render_pattern


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))


def test_overlay_band_is_in_the_recording_and_the_rest_is_untouched(
    recording: Recording, plain_recording: Recording
) -> None:
    with_overlay = first_frame(recording.segments[0].path)
    without = first_frame(plain_recording.segments[0].path)
    band = OverlayPainter(320, 240).band_rows
    # Both runs start at sim frame 0, so outside the band the pictures agree up to coding noise ...
    assert _diff(with_overlay[band + 4 : 150], without[band + 4 : 150]) < 6
    # ... and inside it the darkened band with white text is far from the plain picture.
    assert _diff(with_overlay[:band], without[:band]) > 25


def test_recording_without_overlay_matches_the_pattern(plain_recording: Recording) -> None:
    decoded = first_frame(plain_recording.segments[0].path)
    expected = render_pattern(SimKnobs(width=320, height=240, fps=15), 0, "main")
    assert _diff(decoded, expected) < 6


def test_painter_darkens_the_band_and_writes_text() -> None:
    image = np.full((240, 320, 3), 200, dtype=np.uint8)
    painter = OverlayPainter(320, 240)
    painter.paint(image, Overlay(order_id="SO1", packer="OP-7", bench="B3"), 1_770_000_000_000)
    band = image[: painter.band_rows]
    assert (band == 100).any()  # darkened background
    assert (band > 200).any()  # white text
    assert (image[painter.band_rows :] == 200).all()


def test_label_text_changes_the_picture() -> None:
    painter = OverlayPainter(320, 240)
    first = np.full((240, 320, 3), 128, dtype=np.uint8)
    second = first.copy()
    painter.paint(first, Overlay(order_id="SO-AAAA"), 0)
    painter.paint(second, Overlay(order_id="SO-BBBB"), 0)
    assert not np.array_equal(first, second)


def test_label_lists_what_is_set() -> None:
    assert Overlay(order_id="SO1", packer="OP-7", bench="B3").label() == "BENCH B3  PACKER OP-7  ORDER SO1"
    assert Overlay(order_id="SO1").label() == "ORDER SO1"
    assert Overlay().label() == ""


def test_time_stamp_is_local_time_with_its_offset() -> None:
    stamp = format_wall_time(1_770_000_000_999)
    assert stamp == time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(1_770_000_000))
    assert stamp.split()[2][0] in "+-"


def test_transliteration_keeps_ascii_and_marks_the_rest() -> None:
    assert transliterate("José 张三 OP-7") == "Jose ?? OP-7"


def test_chinese_without_a_font_falls_back_to_question_marks() -> None:
    painter = OverlayPainter(320, 240, cjk=False)
    chinese, fallback = (np.zeros((240, 320, 3), dtype=np.uint8) for _ in range(2))
    painter.paint(chinese, Overlay(packer="张三"), 0)
    OverlayPainter(320, 240).paint(fallback, Overlay(packer="??"), 0)
    assert np.array_equal(chinese, fallback)


def test_chinese_is_drawn_with_pillow_when_a_font_exists() -> None:
    font = find_cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (fonts-noto-cjk or fonts-wqy-microhei)")
    chinese, fallback = (np.zeros((240, 320, 3), dtype=np.uint8) for _ in range(2))
    OverlayPainter(320, 240, font_path=font).paint(chinese, Overlay(packer="张三"), 0)
    OverlayPainter(320, 240).paint(fallback, Overlay(packer="??"), 0)
    assert not np.array_equal(chinese, fallback)
    assert (chinese[: OverlayPainter(320, 240).band_rows] > 128).any()


def test_photo_has_the_overlay_burned_in(tmp_path: Path) -> None:
    raw = render_pattern(SimKnobs(width=320, height=240, fps=15), 3)
    frame = Frame(raw.copy(), 1_770_000_000_000, 0.0, 3)
    photo = write_photo(frame, tmp_path / "p.jpg", Overlay(order_id="SO1", packer="OP-7"))
    image = cv2.imread(str(photo.path))
    band = OverlayPainter(320, 240).band_rows
    assert _diff(image[:band], raw[:band]) > 25
    assert _diff(image[band + 4 :], raw[band + 4 :]) < 6
    assert np.array_equal(frame.image, raw)  # the frame itself is untouched
    assert photo.wall_ms == frame.wall_ms
