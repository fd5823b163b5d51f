"""Turns the key events of one keyboard-wedge scanner back into the bytes it meant to type.

Pure state machine: no I/O, no clock. Feed it every event of one device (one decoder per device, so two
scanners typing at the same time never mix their keystrokes) and it returns the code when the end-of-code key
arrives.

What it understands, all by integer key code on a US layout:

- digits, letters, punctuation and space; Shift (either side); CapsLock, which flips letters only;
- Ctrl + a key whose character is in ``@ A..Z [ \\ ] ^ _`` gives the control character ``char & 0x1F``,
  so Ctrl+] is GS (0x1D), the GS1 field separator;
- Alt held while decimal digits are typed on the keypad gives that byte when Alt is released
  (Alt + 0 0 2 9 is GS; any value 0-255; larger values are refused);
- keypad digits and operators as characters (NumLock is assumed on: the device is grabbed, so no console
  NumLock state applies to it);
- Enter and keypad Enter end the code; Tab too when configured, otherwise Tab is data (0x09);
- key repeats (value 2) are ignored: a scanner never holds a key on purpose;
- ``SYN_DROPPED`` (the kernel lost events) discards the partial code and the modifier state, and events up
  to the next ``SYN_REPORT``, as the evdev protocol asks.

Any other key (F-keys, arrows, Backspace, Alt + a non-keypad key...) is unknown: counted, logged, and by
default replaced by SUB (0x1A). Dropping it silently could turn an unreadable code into a different, valid
one (a missing digit of an item code can be another item); with SUB the code can match nothing, so the core
refuses it as ``unknown_code``. ``unknown_key="drop"`` ignores such keys instead, for scanners configured to
send a key the decoder does not know as a prefix.
"""

import logging
from typing import Literal, Protocol

from drivers.scanners import keycodes as k

logger = logging.getLogger(__name__)

#: ASCII SUB, "substitute character", stands in for a key that could not be translated.
SUBSTITUTE: int = 0x1A

#: Largest value Alt + keypad digits can give (one byte).
_MAX_ALT_CODE = 255

UnknownKeyPolicy = Literal["substitute", "drop"]


class KeyEventLike(Protocol):
    """The fields of an ``evdev.InputEvent`` the decoder reads."""

    @property
    def type(self) -> int:
        """Event type (``EV_KEY``, ``EV_SYN``...)."""
        ...

    @property
    def code(self) -> int:
        """Key code for ``EV_KEY`` events."""
        ...

    @property
    def value(self) -> int:
        """0 up, 1 down, 2 repeat."""
        ...


class KeyDecoder:
    """Decode one device's key events into codes; see the module docstring for the rules."""

    def __init__(
        self,
        *,
        tab_terminates: bool = False,
        unknown_key: UnknownKeyPolicy = "substitute",
        device: str = "keyboard",
    ) -> None:
        """Create a decoder with no keys held, CapsLock off and nothing typed.

        ``device`` only names the device in log lines.
        """
        self._tab_terminates = tab_terminates
        self._unknown_key = unknown_key
        self._device = device
        self._buffer = bytearray()
        self._held: set[int] = set()  # modifier keys currently down
        self._caps_lock = False
        self._alt_digits: list[int] = []
        self._skip_until_report = False
        self._unknown_in_code: list[str] = []
        #: Unknown key presses since the decoder was made.
        self.unknown_keys = 0

    @property
    def pending(self) -> bool:
        """True when part of a code has been typed but its end-of-code key has not arrived."""
        return bool(self._buffer or self._alt_digits or self._unknown_in_code)

    def peek(self) -> bytes:
        """The partial code typed so far (for log lines)."""
        return bytes(self._buffer)

    def reset(self) -> bytes:
        """Discard the partial code and return it. Held modifiers and CapsLock stay as they are."""
        partial = bytes(self._buffer)
        self._buffer.clear()
        self._alt_digits.clear()
        self._unknown_in_code.clear()
        return partial

    def feed(self, event: KeyEventLike) -> bytes | None:
        """Take one event; return the finished code when it ends one, else None.

        An end-of-code key with nothing typed before it returns None (an empty code is not a scan).
        """
        if event.type == k.EV_SYN:
            self._handle_syn(event.code)
            return None
        if event.type != k.EV_KEY or self._skip_until_report:
            return None
        code, value = event.code, event.value
        if value == k.KEY_REPEAT:
            return None
        if code in k.MODIFIER_KEYS:
            self._handle_modifier(code, value)
            return None
        if value != k.KEY_DOWN:
            return None  # releasing an ordinary key carries no information
        if code == k.KEY_CAPSLOCK:
            self._caps_lock = not self._caps_lock
            return None
        if code in k.LOCK_KEYS:
            return None
        if code in k.ENTER_KEYS or (code == k.KEY_TAB and self._tab_terminates):
            return self._finish()
        if self._held & k.ALT_KEYS:
            digit = k.KEYPAD_DIGITS.get(code)
            if digit is None:
                self._unknown(f"Alt+key {code}")
            else:
                self._alt_digits.append(digit)
            return None
        byte = self._translate(code)
        if byte is None:
            self._unknown(f"Ctrl+key {code}" if self._held & k.CTRL_KEYS else f"key {code}")
        else:
            self._buffer.append(byte)
        return None

    def _handle_syn(self, code: int) -> None:
        if code == k.SYN_DROPPED:
            partial = self.reset()
            # Releases may have been among the lost events: assume nothing is held rather than shift forever.
            self._held.clear()
            self._skip_until_report = True
            logger.warning("%s: kernel dropped input events; partial code %r discarded", self._device, partial)
        elif code == k.SYN_REPORT:
            self._skip_until_report = False

    def _handle_modifier(self, code: int, value: int) -> None:
        if value == k.KEY_DOWN:
            self._held.add(code)
            return
        self._held.discard(code)
        if code in k.ALT_KEYS and not self._held & k.ALT_KEYS:
            self._finish_alt_code()

    def _finish_alt_code(self) -> None:
        if not self._alt_digits:
            return
        value = int("".join(str(d) for d in self._alt_digits))
        self._alt_digits.clear()
        if value > _MAX_ALT_CODE:
            logger.warning("%s: Alt + keypad code %d is not a byte; treated as an unknown key", self._device, value)
            self._unknown(f"Alt+{value}")
        else:
            self._buffer.append(value)

    def _translate(self, code: int) -> int | None:
        """The byte a key gives with the current modifiers, or None if it gives none."""
        shift = bool(self._held & k.SHIFT_KEYS)
        letter = k.LETTER_KEYS.get(code)
        if letter is not None:
            char = letter.upper() if shift != self._caps_lock else letter
        elif code in k.SYMBOL_KEYS:
            char = k.SYMBOL_KEYS[code][1 if shift else 0]
        elif code in k.KEYPAD_DIGITS:
            char = str(k.KEYPAD_DIGITS[code])
        elif code in k.KEYPAD_SYMBOLS:
            char = k.KEYPAD_SYMBOLS[code]
        elif code == k.KEY_TAB:
            char = "\t"
        else:
            return None
        if not self._held & k.CTRL_KEYS:
            return ord(char)
        # Ctrl maps the column 0x40-0x5F of ASCII onto the control characters 0x00-0x1F (Ctrl+] -> GS),
        # whatever the case of a letter.
        upper = char.upper()
        if "@" <= upper <= "_":
            return ord(upper) & 0x1F
        return None

    def _unknown(self, what: str) -> None:
        self.unknown_keys += 1
        self._unknown_in_code.append(what)
        logger.debug("%s: unknown %s", self._device, what)
        if self._unknown_key == "substitute":
            self._buffer.append(SUBSTITUTE)

    def _finish(self) -> bytes | None:
        if self._alt_digits:
            logger.warning(
                "%s: end of code while Alt was held; keypad digits %s ignored", self._device, self._alt_digits
            )
        unknown = list(self._unknown_in_code)
        data = self.reset()
        if unknown:
            logger.warning(
                "%s: code %r had %d unknown key(s) %s (%s)",
                self._device,
                data,
                len(unknown),
                unknown,
                "replaced by SUB" if self._unknown_key == "substitute" else "dropped",
            )
        if not data:
            logger.debug("%s: end-of-code key with nothing typed", self._device)
            return None
        return data
