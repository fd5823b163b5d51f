"""KeyDecoder: US layout tables, modifiers, GS both ways, repeats, terminators, unknown keys, lost events."""

import logging
import string

import pytest
from evdev import InputEvent
from evdev import ecodes as e
from hypothesis import given
from hypothesis import strategies as st
from scanner_testkit import (
    KEYPAD,
    Typist,
    alt_numpad,
    chord,
    down,
    ev,
    syn,
    tap,
    up,
)

from drivers.scanners import KeyDecoder, keycodes
from drivers.scanners.decoder import SUBSTITUTE


def decode(events: list[InputEvent], decoder: KeyDecoder | None = None) -> list[bytes]:
    """Feed every event; return the codes completed along the way."""
    decoder = decoder or KeyDecoder()
    return [code for event in events if (code := decoder.feed(event)) is not None]


def test_key_numbers_match_the_kernel_abi_as_evdev_knows_it() -> None:
    values = {"KEY_UP", "KEY_DOWN", "KEY_REPEAT"}  # key event values, not key codes
    names = [name for name in dir(keycodes) if name.startswith(("KEY_", "EV_", "SYN_")) and name not in values]
    assert len(names) > 80
    for name in names:
        assert getattr(keycodes, name) == getattr(e, name), name


@pytest.mark.parametrize("char", list(string.printable[:95]))
@pytest.mark.parametrize("caps", [False, True], ids=["caps-off", "caps-on"])
def test_every_printable_ascii_character(char: str, caps: bool) -> None:
    typist = Typist()
    events = typist.toggle_caps() if caps else []
    events += typist.char(char) + tap(e.KEY_ENTER)
    assert decode(events) == [char.encode()]


@pytest.mark.parametrize("shift", [e.KEY_LEFTSHIFT, e.KEY_RIGHTSHIFT])
def test_shift_from_either_side_and_capslock_only_flips_letters(shift: int) -> None:
    typist = Typist()
    events = typist.toggle_caps()
    events += tap(e.KEY_A) + tap(e.KEY_1) + tap(e.KEY_SLASH)
    events += chord(shift, tap(e.KEY_A), tap(e.KEY_1), tap(e.KEY_SLASH))
    events += typist.toggle_caps() + tap(e.KEY_A) + tap(e.KEY_ENTER)
    assert decode(events) == [b"A1/a!?a"]


def test_releasing_one_shift_while_the_other_is_held_keeps_shift() -> None:
    events = down(e.KEY_LEFTSHIFT) + down(e.KEY_RIGHTSHIFT) + up(e.KEY_LEFTSHIFT) + tap(e.KEY_B)
    events += up(e.KEY_RIGHTSHIFT) + tap(e.KEY_B) + tap(e.KEY_ENTER)
    assert decode(events) == [b"Bb"]


@pytest.mark.parametrize("ctrl", [e.KEY_LEFTCTRL, e.KEY_RIGHTCTRL])
def test_group_separator_from_ctrl_right_bracket(ctrl: int) -> None:
    events = tap(e.KEY_0) + tap(e.KEY_1) + chord(ctrl, tap(e.KEY_RIGHTBRACE)) + tap(e.KEY_1) + tap(e.KEY_0)
    assert decode(events + tap(e.KEY_ENTER)) == [b"01\x1d10"]


@pytest.mark.parametrize("alt", [e.KEY_LEFTALT, e.KEY_RIGHTALT])
@pytest.mark.parametrize("width", [4, 2], ids=["0029", "29"])
def test_group_separator_from_alt_numpad(alt: int, width: int) -> None:
    events = tap(e.KEY_2) + alt_numpad(29, width=width, alt=alt) + tap(e.KEY_3) + tap(e.KEY_ENTER)
    assert decode(events) == [b"2\x1d3"]


def test_alt_numpad_gives_any_byte_and_refuses_values_above_255() -> None:
    events = alt_numpad(65) + alt_numpad(200, width=3) + alt_numpad(300) + tap(e.KEY_ENTER)
    decoder = KeyDecoder()
    assert decode(events, decoder) == [b"A\xc8" + bytes([SUBSTITUTE])]
    assert decoder.unknown_keys == 1


def test_control_characters_from_ctrl_keys() -> None:
    typist = Typist()
    events = typist.ctrl(0x04) + typist.ctrl(0x1E) + typist.ctrl(0x1F) + typist.ctrl(0x00) + typist.ctrl(0x1C)
    assert decode(events + tap(e.KEY_ENTER)) == [b"\x04\x1e\x1f\x00\x1c"]


def test_key_repeats_are_ignored() -> None:
    events = tap(e.KEY_A, repeats=5) + chord(e.KEY_LEFTSHIFT, tap(e.KEY_B, repeats=3)) + tap(e.KEY_ENTER)
    events = [*down(e.KEY_LEFTCTRL), ev(e.KEY_LEFTCTRL, 2), *up(e.KEY_LEFTCTRL), *events]
    assert decode(events) == [b"aB"]


def test_an_autorepeating_modifier_stays_held() -> None:
    events = [*down(e.KEY_LEFTSHIFT), ev(e.KEY_LEFTSHIFT, 2), *tap(e.KEY_A), ev(e.KEY_LEFTSHIFT, 2), *tap(e.KEY_1)]
    events += up(e.KEY_LEFTSHIFT) + down(e.KEY_RIGHTALT) + [ev(e.KEY_RIGHTALT, 2)] + tap(e.KEY_KP6)
    events += [ev(e.KEY_RIGHTALT, 2), *tap(e.KEY_KP6), *up(e.KEY_RIGHTALT), *tap(e.KEY_ENTER)]
    assert decode(events) == [b"A!B"]


def test_a_held_enter_ends_only_one_code() -> None:
    assert decode(tap(e.KEY_X) + tap(e.KEY_ENTER, repeats=4) + tap(e.KEY_Y) + tap(e.KEY_ENTER)) == [b"x", b"y"]


def test_keypad_enter_ends_a_code_and_keypad_keys_type_their_characters() -> None:
    events = [event for char in "0123456789*-+./" for event in tap(KEYPAD[char])] + tap(e.KEY_KPENTER)
    assert decode(events) == [b"0123456789*-+./"]


def test_tab_is_data_unless_configured_to_end_a_code() -> None:
    events = tap(e.KEY_A) + tap(e.KEY_TAB) + tap(e.KEY_B) + tap(e.KEY_ENTER)
    assert decode(events) == [b"a\tb"]
    assert decode(events, KeyDecoder(tab_terminates=True)) == [b"a", b"b"]


def test_enter_with_nothing_typed_is_not_a_code() -> None:
    assert decode(tap(e.KEY_ENTER) + tap(e.KEY_KPENTER)) == []


def test_unknown_keys_become_sub_so_the_code_cannot_match_by_accident(caplog: pytest.LogCaptureFixture) -> None:
    decoder = KeyDecoder(device="bench-1")
    events = tap(e.KEY_1) + tap(e.KEY_F5) + tap(e.KEY_2) + chord(e.KEY_LEFTALT, tap(e.KEY_A)) + tap(e.KEY_ENTER)
    with caplog.at_level(logging.WARNING, logger="drivers.scanners.decoder"):
        assert decode(events, decoder) == [b"1\x1a2\x1a"]
    assert decoder.unknown_keys == 2
    assert any("bench-1" in r.getMessage() and "2 unknown key" in r.getMessage() for r in caplog.records)


def test_unknown_keys_can_be_dropped_instead() -> None:
    decoder = KeyDecoder(unknown_key="drop")
    events = tap(e.KEY_F12) + tap(e.KEY_1) + tap(e.KEY_BACKSPACE) + tap(e.KEY_2) + tap(e.KEY_ENTER)
    assert decode(events, decoder) == [b"12"]
    assert decoder.unknown_keys == 2


def test_a_code_of_only_unknown_keys_is_still_delivered_to_be_refused() -> None:
    assert decode(tap(e.KEY_UP) + tap(e.KEY_ENTER)) == [bytes([SUBSTITUTE])]


def test_lock_and_meta_keys_are_silent() -> None:
    events = tap(e.KEY_NUMLOCK) + tap(e.KEY_SCROLLLOCK) + tap(e.KEY_LEFTMETA) + tap(e.KEY_Q) + tap(e.KEY_ENTER)
    decoder = KeyDecoder()
    assert decode(events, decoder) == [b"q"]
    assert decoder.unknown_keys == 0


def test_syn_dropped_discards_the_partial_code_and_events_until_the_next_report() -> None:
    decoder = KeyDecoder()
    events = tap(e.KEY_A) + down(e.KEY_LEFTSHIFT)
    events += [ev(e.SYN_DROPPED, 0, e.EV_SYN), ev(e.KEY_B, 1), ev(e.KEY_ENTER, 1), syn()]
    # The shift release was among the lost events: the decoder must not type capitals forever.
    events += tap(e.KEY_C) + tap(e.KEY_ENTER)
    assert decode(events, decoder) == [b"c"]


def test_reset_discards_the_partial_code_but_keeps_capslock() -> None:
    decoder = KeyDecoder()
    decode(tap(e.KEY_CAPSLOCK) + tap(e.KEY_A), decoder)
    assert decoder.pending
    assert decoder.reset() == b"A"
    assert not decoder.pending
    assert decode(tap(e.KEY_B) + tap(e.KEY_ENTER), decoder) == [b"B"]


def test_non_key_events_are_ignored() -> None:
    events = [ev(0, 5, e.EV_REL), ev(e.LED_CAPSL, 1, e.EV_LED), *tap(e.KEY_Z), *tap(e.KEY_ENTER)]
    assert decode(events) == [b"z"]


# ---------------------------------------------------------------------------------------------- property


@st.composite
def typed_text(draw: st.DrawFn) -> tuple[bytes, list[InputEvent]]:
    """Any ASCII string, each character typed one of the ways a scanner may type it."""
    text = draw(st.text(st.characters(min_codepoint=0, max_codepoint=127), min_size=1, max_size=40))
    typist = Typist()
    events: list[InputEvent] = []
    for char in text:
        if draw(st.booleans()) and draw(st.booleans()):
            events += typist.toggle_caps()
        code = ord(char)
        ways = ["alt"]
        if 0x20 <= code < 0x7F or char == "\t":
            ways.append("plain")
        if code < 0x20:
            ways.append("ctrl")
        if char in KEYPAD:
            ways.append("keypad")
        way = draw(st.sampled_from(ways))
        if way == "alt":
            width = draw(st.integers(min_value=len(str(code)), max_value=4))
            alt = draw(st.sampled_from([e.KEY_LEFTALT, e.KEY_RIGHTALT]))
            events += alt_numpad(code, width=width, alt=alt)
        elif way == "ctrl":
            events += typist.ctrl(code, ctrl_key=draw(st.sampled_from([e.KEY_LEFTCTRL, e.KEY_RIGHTCTRL])))
        else:
            shift = draw(st.sampled_from([e.KEY_LEFTSHIFT, e.KEY_RIGHTSHIFT]))
            events += typist.char(char, shift_key=shift, keypad=way == "keypad")
        if draw(st.integers(0, 9)) == 0:
            # An autorepeat of the key just released must not type anything.
            events.append(ev(e.KEY_A, 2))
    events += tap(draw(st.sampled_from([e.KEY_ENTER, e.KEY_KPENTER])))
    return text.encode("ascii"), events


@given(typed_text())
def test_any_ascii_string_typed_any_way_decodes_back_exactly(case: tuple[bytes, list[InputEvent]]) -> None:
    expected, events = case
    decoder = KeyDecoder()
    assert decode(events, decoder) == [expected]
    assert decoder.unknown_keys == 0
    assert not decoder.pending
