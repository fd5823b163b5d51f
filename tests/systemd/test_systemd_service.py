"""systemd/packing-station.service and systemd/install: the unit is valid and says what the service needs, and the
installer's --dry-run lists the commands it would run (it is never run for real here: the tests may run as root)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

SYSTEMD_DIR = Path(__file__).resolve().parents[2] / "systemd"
UNIT = SYSTEMD_DIR / "packing-station.service"
INSTALL = SYSTEMD_DIR / "install"
CHECKOUT = SYSTEMD_DIR.parent
GROUPS = ("dialout", "video", "lp")
# Reads every keyboard on the machine: scanners get group station from the udev rules instead.
REVOKED_GROUPS = ("input",)


def unit_entries(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for every assignment of a unit file, in order (keys may repeat, unlike INI)."""
    entries: list[tuple[str, str, str]] = []
    section = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if header := re.fullmatch(r"\[([A-Za-z]+)\]", line):
            section = header.group(1)
            continue
        key, sep, value = line.partition("=")
        assert sep, f"line {number}: not key=value: {raw!r}"
        assert section, f"line {number}: assignment before any section"
        assert re.fullmatch(r"[A-Za-z]+", key), f"line {number}: bad key {key!r}"
        entries.append((section, key, value))
    return entries


def values(entries: list[tuple[str, str, str]], section: str, key: str) -> list[str]:
    return [v for s, k, v in entries if s == section and k == key]


def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is missing (Debian: package systemd): run scripts/bootstrap --dev"
    # verify insists that ExecStart's program exists: point it at this checkout's (or any) executable.
    station = Path(sys.executable).with_name("station")
    program = station if station.exists() else Path(sys.executable)
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={program}", UNIT.read_text(), flags=re.MULTILINE)
    unit = tmp_path / UNIT.name
    unit.write_text(text)
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    # An unknown or misspelt key is only a warning (exit status 0): any line about this unit is a failure.
    about_unit = [line for line in output.splitlines() if UNIT.name in line]
    assert result.returncode == 0, output
    assert about_unit == []


def test_the_unit_runs_the_station_as_designed() -> None:
    entries = unit_entries(UNIT.read_text())
    assert {s for s, _k, _v in entries} == {"Unit", "Service", "Install"}

    def one(key: str) -> str:
        found = values(entries, "Service", key)
        assert len(found) == 1, f"{key}: {found}"
        return found[0]

    assert one("Type") == "simple"
    assert one("ExecStart").endswith("/.venv/bin/station run -c /etc/packing-station/station.toml")
    assert one("User") == "station"
    assert one("Group") == "station"
    assert set(one("SupplementaryGroups").split()) == set(GROUPS)
    assert not set(one("SupplementaryGroups").split()) & set(REVOKED_GROUPS)
    assert one("Restart") == "on-failure"
    assert values(entries, "Service", "RemainAfterExit") == []  # with Restart=, a crash would stay "active"
    assert one("StateDirectory") == "packing-station"
    assert one("RuntimeDirectory") == "packing-station"
    assert "STATION_DATA=/var/lib/packing-station" in values(entries, "Service", "Environment")
    # Hardening, but devices plugged in while it runs must still open.
    assert one("NoNewPrivileges") == "yes"
    assert one("ProtectSystem") == "strict"
    assert one("CapabilityBoundingSet") == ""
    for key in ("PrivateDevices", "DevicePolicy", "DeviceAllow", "DynamicUser", "PrivateUsers"):
        assert values(entries, "Service", key) == [], key
    # ProtectClock= also refuses the read-only adjtimex() behind clock_synced; ProcSubset=pid hides the boot id.
    for key in ("ProtectClock", "ProcSubset"):
        assert values(entries, "Service", key) == [], key
    assert one("MemoryDenyWriteExecute") == "yes"
    assert one("ProtectProc") == "invisible"
    assert one("RemoveIPC") == "yes"
    assert one("UMask") == "0077"
    assert one("SystemCallErrorNumber") == "EPERM"  # a refused call fails; it does not kill the bench
    assert values(entries, "Service", "SystemCallFilter")[0] == "@system-service"
    assert set(one("RestrictAddressFamilies").split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert values(entries, "Install", "WantedBy") == ["multi-user.target"]


def _fake_bin(tmp_path: Path, existing: set[str], members: dict[str, str]) -> Path:
    """A `getent` that knows only the users and groups in `existing`, ahead of the real one on PATH; a group
    in `members` is printed as a group(5) line with that member list."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    getent = bin_dir / "getent"
    names = " ".join(sorted(existing)) or "-"
    lines = "".join(f'[ "$2" = "{group}" ] && echo "{group}:x:999:{who}"\n' for group, who in members.items())
    getent.write_text(f'#!/bin/sh\nfor n in {names}; do\n[ "$2" = "$n" ] || continue\n{lines}exit 0\ndone\nexit 2\n')
    getent.chmod(0o755)
    return bin_dir


def dry_run(
    tmp_path: Path, existing: set[str], *args: str, members: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    sh = shutil.which("sh")
    assert sh is not None
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    fake = _fake_bin(tmp_path, existing, members or {})
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "DESTDIR": str(root)}
    return subprocess.run([sh, str(INSTALL), "--dry-run", *args], capture_output=True, text=True, check=False, env=env)


def commands(output: str) -> list[str]:
    return [line for line in output.splitlines() if line and not line.startswith(("#", " ", "write "))]


def test_dry_run_on_a_fresh_machine_lists_every_command_in_order(tmp_path: Path) -> None:
    result = dry_run(tmp_path, set())
    assert result.returncode == 0, result.stderr
    root = tmp_path / "root"
    rules = sorted((SYSTEMD_DIR / "udev").glob("*.rules"))
    assert len(rules) == 2
    expected = [
        "groupadd --system station",
        "useradd --system --gid station --home-dir /var/lib/packing-station --no-create-home "
        "--shell /usr/sbin/nologin --comment 'Packing Station' station",
    ]
    for group in GROUPS:
        expected += [f"groupadd --system {group}", f"usermod --append --groups {group} station"]
    expected += [f"install -m 0644 {r} {root}/etc/udev/rules.d/{r.name}" for r in rules]
    expected += [
        "udevadm control --reload",
        "udevadm trigger --action=add --subsystem-match=input --subsystem-match=tty",
        f"install -d -m 0750 -o root -g station {root}/etc/packing-station",
        f"install -m 0640 -o root -g station {CHECKOUT}/station.example.toml {root}/etc/packing-station/station.toml",
        f"install -m 0644 {UNIT} {root}/etc/systemd/system/packing-station.service",
    ]
    if Path("/opt/packing-station") != CHECKOUT:
        expected.append(f"install -d -m 0755 {root}/etc/systemd/system/packing-station.service.d")
        assert f"ExecStart={CHECKOUT}/.venv/bin/station run -c /etc/packing-station/station.toml" in result.stdout
    expected.append("systemctl daemon-reload")
    assert commands(result.stdout) == expected
    assert list(root.iterdir()) == []  # a dry run changes nothing


def test_dry_run_on_an_installed_machine_keeps_what_is_there(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc" / "udev" / "rules.d").mkdir(parents=True)
    (root / "etc" / "packing-station").mkdir(parents=True)
    for rules in (SYSTEMD_DIR / "udev").glob("*.rules"):
        text = rules.read_text()
        if "scanners" in rules.name:
            text += 'SUBSYSTEM=="input", ATTRS{idVendor}=="0c2e", ENV{PACKING_STATION_SCANNER}="keyboard"\n'
        (root / "etc" / "udev" / "rules.d" / rules.name).write_text(text)
    (root / "etc" / "packing-station" / "station.toml").write_text("[station]\n")
    result = dry_run(tmp_path, {"station", *GROUPS})
    assert result.returncode == 0, result.stderr
    ran = commands(result.stdout)
    assert not [c for c in ran if c.startswith(("groupadd", "useradd"))]
    assert not [c for c in ran if "rules.d" in c or c.endswith("station.toml")]  # site edits are never overwritten
    assert "differs" in result.stdout
    assert "up to date" in result.stdout
    assert [c for c in ran if c.startswith("usermod")] == [f"usermod --append --groups {g} station" for g in GROUPS]
    assert ran[-1] == "systemctl daemon-reload"


def test_an_older_install_loses_group_input(tmp_path: Path) -> None:
    # systemd gives the service the user's own groups too: membership of input from an older install would
    # still let it read every keyboard, whatever SupplementaryGroups= says.
    existing = {"station", "input", *GROUPS}
    result = dry_run(tmp_path, existing, members={"input": "pi,station", "video": "station"})
    assert result.returncode == 0, result.stderr
    ran = commands(result.stdout)
    assert [c for c in ran if c.startswith("gpasswd")] == ["gpasswd --delete station input"]
    assert not [c for c in ran if "--groups input" in c]


def test_group_input_is_left_alone_when_station_is_not_in_it(tmp_path: Path) -> None:
    # "stationx" is another user: only the exact name counts.
    result = dry_run(tmp_path, {"station", "input", *GROUPS}, members={"input": "pi,stationx"})
    assert result.returncode == 0, result.stderr
    assert not [c for c in commands(result.stdout) if c.startswith("gpasswd")]


def test_an_unknown_option_is_refused(tmp_path: Path) -> None:
    result = dry_run(tmp_path, set(), "--force")
    assert result.returncode == 2
    assert "usage" in result.stderr
    assert result.stdout == ""
