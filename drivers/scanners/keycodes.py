"""Linux input key codes and the US keyboard layout that keyboard-wedge scanners type in.

The numbers are the kernel's ABI (``linux/input-event-codes.h``); they are written out here rather than taken
from ``evdev.ecodes`` so that the decoder runs (and is tested) without the evdev C extension, and a test
checks them against ``evdev.ecodes`` wherever evdev is installed. Translation is always by these integers,
never by key names, because names depend on the evdev build while codes are fixed by the kernel.
"""

from typing import Final

EV_SYN: Final = 0
EV_KEY: Final = 1
SYN_REPORT: Final = 0
SYN_DROPPED: Final = 3

KEY_UP: Final = 0
KEY_DOWN: Final = 1
KEY_REPEAT: Final = 2

KEY_ESC: Final = 1
KEY_1: Final = 2
KEY_2: Final = 3
KEY_3: Final = 4
KEY_4: Final = 5
KEY_5: Final = 6
KEY_6: Final = 7
KEY_7: Final = 8
KEY_8: Final = 9
KEY_9: Final = 10
KEY_0: Final = 11
KEY_MINUS: Final = 12
KEY_EQUAL: Final = 13
KEY_BACKSPACE: Final = 14
KEY_TAB: Final = 15
KEY_Q: Final = 16
KEY_W: Final = 17
KEY_E: Final = 18
KEY_R: Final = 19
KEY_T: Final = 20
KEY_Y: Final = 21
KEY_U: Final = 22
KEY_I: Final = 23
KEY_O: Final = 24
KEY_P: Final = 25
KEY_LEFTBRACE: Final = 26
KEY_RIGHTBRACE: Final = 27
KEY_ENTER: Final = 28
KEY_LEFTCTRL: Final = 29
KEY_A: Final = 30
KEY_S: Final = 31
KEY_D: Final = 32
KEY_F: Final = 33
KEY_G: Final = 34
KEY_H: Final = 35
KEY_J: Final = 36
KEY_K: Final = 37
KEY_L: Final = 38
KEY_SEMICOLON: Final = 39
KEY_APOSTROPHE: Final = 40
KEY_GRAVE: Final = 41
KEY_LEFTSHIFT: Final = 42
KEY_BACKSLASH: Final = 43
KEY_Z: Final = 44
KEY_X: Final = 45
KEY_C: Final = 46
KEY_V: Final = 47
KEY_B: Final = 48
KEY_N: Final = 49
KEY_M: Final = 50
KEY_COMMA: Final = 51
KEY_DOT: Final = 52
KEY_SLASH: Final = 53
KEY_RIGHTSHIFT: Final = 54
KEY_KPASTERISK: Final = 55
KEY_LEFTALT: Final = 56
KEY_SPACE: Final = 57
KEY_CAPSLOCK: Final = 58
KEY_F1: Final = 59
KEY_NUMLOCK: Final = 69
KEY_SCROLLLOCK: Final = 70
KEY_KP7: Final = 71
KEY_KP8: Final = 72
KEY_KP9: Final = 73
KEY_KPMINUS: Final = 74
KEY_KP4: Final = 75
KEY_KP5: Final = 76
KEY_KP6: Final = 77
KEY_KPPLUS: Final = 78
KEY_KP1: Final = 79
KEY_KP2: Final = 80
KEY_KP3: Final = 81
KEY_KP0: Final = 82
KEY_KPDOT: Final = 83
KEY_F12: Final = 88
KEY_KPENTER: Final = 96
KEY_RIGHTCTRL: Final = 97
KEY_KPSLASH: Final = 98
KEY_RIGHTALT: Final = 100
KEY_KPEQUAL: Final = 117
KEY_KPCOMMA: Final = 121
KEY_LEFTMETA: Final = 125
KEY_RIGHTMETA: Final = 126

SHIFT_KEYS: Final = frozenset({KEY_LEFTSHIFT, KEY_RIGHTSHIFT})
CTRL_KEYS: Final = frozenset({KEY_LEFTCTRL, KEY_RIGHTCTRL})
# Right Alt is AltGr on other layouts; on the US layout scanners use it as a plain Alt.
ALT_KEYS: Final = frozenset({KEY_LEFTALT, KEY_RIGHTALT})
META_KEYS: Final = frozenset({KEY_LEFTMETA, KEY_RIGHTMETA})
MODIFIER_KEYS: Final = SHIFT_KEYS | CTRL_KEYS | ALT_KEYS | META_KEYS

#: Keys that end a scan.
ENTER_KEYS: Final = frozenset({KEY_ENTER, KEY_KPENTER})

#: Lock keys with no character. CapsLock is handled by the decoder; NumLock is assumed on (see the decoder).
LOCK_KEYS: Final = frozenset({KEY_NUMLOCK, KEY_SCROLLLOCK})

#: Letter keys, in alphabetical order: CapsLock applies to these and nothing else.
LETTER_KEYS: Final[dict[int, str]] = {
    KEY_A: "a",
    KEY_B: "b",
    KEY_C: "c",
    KEY_D: "d",
    KEY_E: "e",
    KEY_F: "f",
    KEY_G: "g",
    KEY_H: "h",
    KEY_I: "i",
    KEY_J: "j",
    KEY_K: "k",
    KEY_L: "l",
    KEY_M: "m",
    KEY_N: "n",
    KEY_O: "o",
    KEY_P: "p",
    KEY_Q: "q",
    KEY_R: "r",
    KEY_S: "s",
    KEY_T: "t",
    KEY_U: "u",
    KEY_V: "v",
    KEY_W: "w",
    KEY_X: "x",
    KEY_Y: "y",
    KEY_Z: "z",
}

#: Non-letter keys of the main block: (character without Shift, character with Shift).
SYMBOL_KEYS: Final[dict[int, tuple[str, str]]] = {
    KEY_1: ("1", "!"),
    KEY_2: ("2", "@"),
    KEY_3: ("3", "#"),
    KEY_4: ("4", "$"),
    KEY_5: ("5", "%"),
    KEY_6: ("6", "^"),
    KEY_7: ("7", "&"),
    KEY_8: ("8", "*"),
    KEY_9: ("9", "("),
    KEY_0: ("0", ")"),
    KEY_MINUS: ("-", "_"),
    KEY_EQUAL: ("=", "+"),
    KEY_LEFTBRACE: ("[", "{"),
    KEY_RIGHTBRACE: ("]", "}"),
    KEY_SEMICOLON: (";", ":"),
    KEY_APOSTROPHE: ("'", '"'),
    KEY_GRAVE: ("`", "~"),
    KEY_BACKSLASH: ("\\", "|"),
    KEY_COMMA: (",", "<"),
    KEY_DOT: (".", ">"),
    KEY_SLASH: ("/", "?"),
    KEY_SPACE: (" ", " "),
}

#: Keypad digits, used both as digits and for Alt + keypad decimal code entry.
KEYPAD_DIGITS: Final[dict[int, int]] = {
    KEY_KP0: 0,
    KEY_KP1: 1,
    KEY_KP2: 2,
    KEY_KP3: 3,
    KEY_KP4: 4,
    KEY_KP5: 5,
    KEY_KP6: 6,
    KEY_KP7: 7,
    KEY_KP8: 8,
    KEY_KP9: 9,
}

#: Keypad operators; Shift does not change them.
KEYPAD_SYMBOLS: Final[dict[int, str]] = {
    KEY_KPSLASH: "/",
    KEY_KPASTERISK: "*",
    KEY_KPMINUS: "-",
    KEY_KPPLUS: "+",
    KEY_KPDOT: ".",
    KEY_KPEQUAL: "=",
    KEY_KPCOMMA: ",",
}
