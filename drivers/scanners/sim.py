"""The simulated scanner: codes from a script, a FIFO or the API, with the faults real scanners have.

It is part of the product (``station demo`` and most tests run on it), so it behaves like the real sources:
codes arrive on the loop, ``connected`` drops when it is "unplugged", and codes sent while unplugged are lost.

Fault knobs:

- ``unplug_after=N``: after N delivered codes the scanner unplugs itself, and comes back after
  ``replug_after_s`` (0 = only when :meth:`SimScanner.replug` is called); the count restarts at each replug;
- ``garbage_rate``: the fraction of codes replaced by random printable bytes of the same length (a misread);
- ``double_read``: each code is delivered a second time ``double_read_gap_ms`` later (a bounce);
- ``slow_ms``: each code is delivered this long after it was fed (a sluggish USB stack).

Script format (a file, or a list of ``(delay_s, code)`` pairs): one code per line, optionally preceded by
``+SECONDS`` to wait before it; blank lines and lines starting with ``#`` are skipped::

    # packer logs in, opens an order, scans one item
    OP-0001
    +0.5 SO20260205-8821
    +1.2 ]E06901234567892
"""

import asyncio
import collections
import contextlib
import logging
import os
import random
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import Field

from drivers.options import DeviceOptions
from drivers.scanners.base import ScanSink, deliver, make_scan, wire_logger
from drivers.scanners.errors import ScannerConfigError, ScannerStateError
from drivers.scanners.framing import LineFramer

logger = logging.getLogger(__name__)

ScriptStep = tuple[float, str]


class SimOptions(DeviceOptions):
    """Options of the simulated scanner (URL query parameters or keyword arguments)."""

    script: str | list[ScriptStep] | None = Field(
        None, description="A script file path, or a list of (delay_s, code) pairs, played after start."
    )
    fifo: str | None = Field(None, description="A FIFO path (created if missing); each line written is a code.")
    unplug_after: int | None = Field(None, ge=1, description="Unplug after this many delivered codes.")
    replug_after_s: float = Field(1.0, ge=0, description="Come back this long after unplugging; 0 = never.")
    garbage_rate: float = Field(0.0, ge=0, le=1, description="Fraction of codes turned into garbage.")
    double_read: bool = Field(False, description="Deliver every code twice, double_read_gap_ms apart.")
    double_read_gap_ms: float = Field(20.0, ge=0, description="Gap before the second copy of a double read.")
    slow_ms: float = Field(0.0, ge=0, description="Delay between feeding a code and its delivery.")
    seed: int | None = Field(None, description="Seed of the garbage generator, for reproducible runs.")


def parse_script(text: str) -> list[ScriptStep]:
    """Parse the script format of the module docstring into ``(delay_s, code)`` pairs."""
    steps: list[ScriptStep] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        delay_s = 0.0
        if line.startswith("+"):
            head, _, rest = line.partition(" ")
            try:
                delay_s = float(head[1:])
            except ValueError:
                raise ScannerConfigError(f"script line {number}: bad delay {head!r}") from None
            if delay_s < 0 or not rest.strip():
                raise ScannerConfigError(f"script line {number}: expected '+SECONDS CODE'")
            line = rest.strip()
        steps.append((delay_s, line))
    return steps


@dataclass(slots=True)
class _Pending:
    data: bytes
    symbology: str | None
    counts: bool  # False for the echo of a double read, which must not advance unplug_after


class SimScanner:
    """A simulated scan source; see the module docstring."""

    def __init__(self, *, name: str = "sim", options: SimOptions | None = None) -> None:
        """Prepare the source; a script file is read now so that a bad one fails at configuration time."""
        self.name = name
        self._options = options or SimOptions()
        script = self._options.script
        if isinstance(script, str):
            try:
                with open(script, encoding="utf-8") as handle:
                    script = parse_script(handle.read())
            except OSError as err:
                raise ScannerConfigError(f"sim scanner {name}: cannot read script {script}: {err}") from err
        self._script: list[ScriptStep] = list(script or [])
        # Not for security: a reproducible stream of misreads.
        self._rng = random.Random(self._options.seed)  # noqa: S311
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sink: ScanSink | None = None
        self._plugged = False
        self._queue: collections.deque[_Pending] = collections.deque()
        self._timers: dict[object, asyncio.TimerHandle] = {}
        self._replug_handle: asyncio.TimerHandle | None = None
        self._script_task: asyncio.Task[None] | None = None
        self._fifo_fd: int | None = None
        self._fifo_framer = LineFramer("any", device=name)
        self._since_plug = 0
        #: Codes handed to the sink (double-read echoes included).
        self.delivered = 0
        #: Codes fed while unplugged, and therefore lost.
        self.lost = 0

    @property
    def connected(self) -> bool:
        """True while started and not unplugged."""
        return self._loop is not None and self._plugged

    @property
    def script_done(self) -> bool:
        """True once the whole script has been fed (or there was none)."""
        return self._script_task is None or self._script_task.done()

    async def start(self, sink: ScanSink) -> None:
        """Plug in, open the FIFO if configured and start playing the script."""
        if self._loop is not None:
            raise ScannerStateError(f"scanner {self.name} is already started")
        self._loop = asyncio.get_running_loop()
        self._sink = sink
        self._plugged = True
        if self._options.fifo is not None:
            self._open_fifo(self._options.fifo)
        if self._script:
            self._script_task = self._loop.create_task(self._play(self._script), name=f"sim-scanner-{self.name}")

    async def stop(self) -> None:
        """Stop the script, close the FIFO and forget codes in flight."""
        if self._script_task is not None:
            self._script_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._script_task
            self._script_task = None
        if self._fifo_fd is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._fifo_fd)
            os.close(self._fifo_fd)
            self._fifo_fd = None
        self._cancel_timers()
        if self._replug_handle is not None:
            self._replug_handle.cancel()
            self._replug_handle = None
        self._plugged = False
        self._loop = None
        self._sink = None

    def feed(self, code: str | bytes, symbology: str | None = None) -> bool:
        """Scan ``code`` now, as if the packer pulled the trigger. Call it on the loop's thread.

        Returns False when the scanner is unplugged and the code is lost, as with a real one.
        """
        if self._loop is None:
            raise ScannerStateError(f"scanner {self.name} is not started")
        data = code.encode() if isinstance(code, str) else bytes(code)
        wire_logger.debug("%s < %r", self.name, data)
        if not self._plugged:
            self.lost += 1
            logger.info("sim scanner %s: %r lost, scanner unplugged", self.name, data)
            return False
        if self._options.garbage_rate and self._rng.random() < self._options.garbage_rate:
            data = bytes(self._rng.randrange(0x21, 0x7F) for _ in range(max(len(data), 1)))
            logger.info("sim scanner %s: misread, delivering %r", self.name, data)
        delay_s = self._options.slow_ms / 1000
        self._schedule(_Pending(data, symbology, counts=True), delay_s)
        if self._options.double_read:
            self._schedule(_Pending(data, symbology, counts=False), delay_s + self._options.double_read_gap_ms / 1000)
        return True

    def unplug(self) -> None:
        """Pull the cable: codes in flight are lost, ``connected`` goes False."""
        if not self._plugged:
            return
        self._plugged = False
        self._cancel_timers()
        logger.warning("sim scanner %s: unplugged", self.name)
        if self._loop is not None and self._options.replug_after_s > 0:
            self._replug_handle = self._loop.call_later(self._options.replug_after_s, self.replug)

    def replug(self) -> None:
        """Plug the cable back in."""
        if self._replug_handle is not None:
            self._replug_handle.cancel()
            self._replug_handle = None
        if self._plugged or self._loop is None:
            return
        self._plugged = True
        self._since_plug = 0
        logger.info("sim scanner %s: plugged in", self.name)

    def _schedule(self, pending: _Pending, delay_s: float) -> None:
        assert self._loop is not None
        # Each timer delivers the oldest pending code, so codes keep their order even when timers due at
        # the same instant fire in another order.
        self._queue.append(pending)
        token = object()
        self._timers[token] = self._loop.call_later(delay_s, self._deliver_next, token)

    def _deliver_next(self, token: object) -> None:
        self._timers.pop(token, None)
        if not self._queue or not self._plugged or self._sink is None:
            return
        pending = self._queue.popleft()
        self.delivered += 1
        deliver(self._sink, make_scan(pending.data, self.name, pending.symbology))
        if pending.counts:
            self._since_plug += 1
            if self._options.unplug_after is not None and self._since_plug >= self._options.unplug_after:
                self.unplug()

    def _cancel_timers(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._queue.clear()

    async def _play(self, steps: Sequence[ScriptStep]) -> None:
        for delay_s, code in steps:
            if delay_s:
                await asyncio.sleep(delay_s)
            self.feed(code)
        logger.info("sim scanner %s: script finished (%d codes)", self.name, len(steps))

    def _open_fifo(self, path: str) -> None:
        assert self._loop is not None
        try:
            if not os.path.exists(path):
                os.mkfifo(path, 0o660)
            elif not stat.S_ISFIFO(os.stat(path).st_mode):
                raise ScannerConfigError(f"sim scanner {self.name}: {path} exists and is not a FIFO")
            # Opened read-write so that the FIFO always has a writer: with O_RDONLY, the moment the last
            # writer closed, the fd would read EOF forever and spin the loop.
            fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        except OSError as err:
            raise ScannerConfigError(f"sim scanner {self.name}: cannot open FIFO {path}: {err}") from err
        self._fifo_fd = fd
        self._loop.add_reader(fd, self._handle_fifo_readable)
        logger.info("sim scanner %s: reading codes from FIFO %s", self.name, path)

    def _handle_fifo_readable(self) -> None:
        assert self._fifo_fd is not None
        try:
            data = os.read(self._fifo_fd, 4096)
        except BlockingIOError:
            return
        for frame in self._fifo_framer.feed(data):
            self.feed(frame)
