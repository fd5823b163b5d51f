"""The host and the emulator across a real pseudo-terminal: pyserial on one end, the pty master on the other,
including an unplug (the pty closed under the host) and a replug on a new pty behind the same symlink."""

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import serial

from firmware_bridge import frames
from firmware_bridge.core import wire
from firmware_bridge.emulator import PtyEmulator
from firmware_bridge.events import BenchEvent, ConnectionChanged, PedalPressed
from firmware_bridge.host import BenchController, LinkTiming

REPO = Path(__file__).resolve().parents[2]
TIMING = LinkTiming(
    heartbeat_s=0.05,
    silence_s=0.5,
    watchdog_ms=400,
    hello_retry_s=0.1,
    hello_attempts=3,
    retransmit_s=0.05,
    reconnect_min_s=0.05,
    reconnect_max_s=0.2,
)


async def until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.01)


def test_controller_over_a_pty_with_unplug_and_replug(tmp_path: Path) -> None:
    link = tmp_path / "usb-bench-io-if00"  # what udev's by-id symlink would be

    async def scenario() -> None:
        device = PtyEmulator(link_path=str(link))
        device.start()
        first_pty = os.readlink(link)
        controller = BenchController(str(link), timing=TIMING)
        events: list[BenchEvent] = []
        controller.on_event(events.append)
        await controller.start()
        try:
            assert await controller.wait_connected(5)
            assert await controller.set_light("green", "steady")
            assert device.emulator.light["green"] == "steady"
            assert await controller.set_buzzer("ok")
            device.emulator.press_pedal()
            await until(lambda: PedalPressed in {type(e) for e in events})

            device.unplug()  # the pty disappears under the open port
            await until(lambda: not controller.connected)
            assert not await controller.set_light("red", "fast_blink")  # remembered for later
            await asyncio.sleep(0.3)  # reopen attempts fail while the device is gone

            device.replug()
            assert os.readlink(link) != first_pty or os.path.exists(first_pty)
            assert await controller.wait_connected(5)
            await until(lambda: device.emulator.light == {"red": "fast_blink", "amber": "off", "green": "off"})
            assert device.emulator.buzzer_log == ["ok"]  # played once; the replugged device never replays it
        finally:
            await controller.stop()
            device.stop()
        changes = [e.connected for e in events if isinstance(e, ConnectionChanged)]
        assert changes == [True, False, True, False]

    async def guarded() -> None:
        async with asyncio.timeout(30):
            await scenario()

    asyncio.run(guarded())


def test_emulator_command_line_serves_a_pty(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-W", "error", "-m", "firmware_bridge.emulator", "--pty"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdin is not None
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/pts/")
        port = serial.Serial(path, timeout=2)
        try:
            port.write(b"\x00" + frames.encode(frames.Hello(0x4242, 2000)))
            decoder = wire.FrameDecoder()
            got: list[frames.Message] = []
            while not any(isinstance(m, frames.HelloAck) for m in got):
                chunk = port.read(1)
                assert chunk, "no answer from the emulator"
                got.extend(frames.message_from_frame(f) for f in decoder.feed(chunk))
            ack = next(m for m in got if isinstance(m, frames.HelloAck))
            assert ack.nonce == 0x4242
            proc.stdin.write("state\n")
            proc.stdin.flush()
            assert "session=True" in proc.stdout.readline()
        finally:
            port.close()
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
