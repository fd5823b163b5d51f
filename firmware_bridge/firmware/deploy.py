"""Stage the firmware for a board and print (or run) the `mpremote` commands that copy it. Runs on the host.

The board gets the same package paths as the repo, so the firmware imports the protocol core exactly as the host
does (`firmware_bridge.core...`); only `firmware_bridge/__init__.py` is replaced by an empty stub, because the
host package's own `__init__` pulls in asyncio and pyserial:

    /main.py                               <- firmware_bridge/firmware/main.py
    /firmware_bridge/__init__.py           <- stub
    /firmware_bridge/core/*.py             <- firmware_bridge/core/*.py (the shared protocol core)
    /firmware_bridge/firmware/*.py         <- the firmware modules (not main.py, not this file)

    python -m firmware_bridge.firmware.deploy --port /dev/ttyACM0 [--run]
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
FIRMWARE_MODULES = ("__init__.py", "config.py", "hx711.py", "board.py", "app.py")
STUB_INIT = '"""Device-side stub: only the protocol core and the firmware live on the board."""\n'


def device_files() -> list[tuple[Path, str]]:
    """(source file, path on the board) for every file the firmware needs."""
    files = [(PACKAGE_DIR / "firmware" / "main.py", "main.py")]
    for source in sorted((PACKAGE_DIR / "core").glob("*.py")):
        files.append((source, f"firmware_bridge/core/{source.name}"))
    for name in FIRMWARE_MODULES:
        files.append((PACKAGE_DIR / "firmware" / name, f"firmware_bridge/firmware/{name}"))
    return files


def stage(dest: Path) -> list[str]:
    """Lay out the board's filesystem under `dest`; return the board paths written."""
    written = []
    for source, target in device_files():
        path = dest / target
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
        written.append(target)
    (dest / "firmware_bridge" / "__init__.py").write_text(STUB_INIT, encoding="utf-8")
    written.append("firmware_bridge/__init__.py")
    return sorted(written)


def mpremote_commands(staged: Path, port: str) -> list[list[str]]:
    """The mpremote invocations that copy a staged tree to the board and restart it."""
    return [
        ["mpremote", "connect", port, "fs", "mkdir", ":firmware_bridge"],
        ["mpremote", "connect", port, "fs", "cp", "-r", str(staged / "firmware_bridge") + "/", ":firmware_bridge/"],
        ["mpremote", "connect", port, "fs", "cp", str(staged / "main.py"), ":main.py"],
        ["mpremote", "connect", port, "reset"],
    ]


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m firmware_bridge.firmware.deploy", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", default="/dev/ttyACM0", help="the board's serial port")
    parser.add_argument("--stage", type=Path, help="stage into this folder (default: a temporary one)")
    parser.add_argument("--run", action="store_true", help="run the mpremote commands instead of printing them")
    args = parser.parse_args(argv)
    staged = args.stage or Path(tempfile.mkdtemp(prefix="bench-io-fw-"))
    stage(staged)
    for command in mpremote_commands(staged, args.port):
        print(shlex.join(command))
        if args.run:
            # mkdir fails harmlessly when the folder already exists; the copies that follow are what matter.
            result = subprocess.run(command, check=False)  # noqa: S603 - fixed argv built here, no shell
            if result.returncode != 0 and command[4] != "mkdir":
                return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
