"""The protocol core shared by the host and the firmware: plain Python that also runs under MicroPython.

Everything in this package is pure (no I/O, no clock of its own: callers pass `now_ms`) and keeps to the subset
of Python that MicroPython runs: no dataclasses, no enum, no runtime `typing`, no f-strings, positional
`int.to_bytes`. Annotations are fine (MicroPython compiles and ignores them) as long as names that only exist
under CPython stay in strings. Modules import each other relatively, so the folder can be copied to a board
unchanged (see `firmware_bridge/firmware/deploy.py`).
"""
