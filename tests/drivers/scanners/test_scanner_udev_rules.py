"""The udev rules in systemd/udev: verified by udevadm where it can, parsed and evaluated here always.

``udevadm verify`` exists from systemd 254; Debian bookworm ships 252, so on a bench image and in most CI
containers the syntax is checked by the small parser below instead, and a tiny evaluator runs the rules
against the properties of a scanner and a controller to check what they do.
"""

import fnmatch
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

RULES_DIR = Path(__file__).resolve().parents[3] / "systemd" / "udev"
RULE_FILES = sorted(RULES_DIR.glob("*.rules"))

MATCH_KEYS = {
    "ACTION",
    "DEVPATH",
    "KERNEL",
    "KERNELS",
    "SUBSYSTEM",
    "SUBSYSTEMS",
    "DRIVER",
    "DRIVERS",
    "ATTR",
    "ATTRS",
    "ENV",
    "TAG",
    "TAGS",
    "TEST",
    "PROGRAM",
    "RESULT",
    "NAME",
    "SYMLINK",
    "CONST",
}
ASSIGN_KEYS = {
    "ENV",
    "GROUP",
    "OWNER",
    "MODE",
    "SYMLINK",
    "TAG",
    "RUN",
    "IMPORT",
    "OPTIONS",
    "GOTO",
    "LABEL",
    "ATTR",
    "NAME",
}
TOKEN = re.compile(r'\s*([A-Z_]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|-=|:=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')


@dataclass
class Assignment:
    key: str
    attr: str | None
    op: str
    value: str


@dataclass
class Rule:
    line: int
    matches: list[Assignment] = field(default_factory=list)
    actions: list[Assignment] = field(default_factory=list)


def parse(text: str) -> list[Rule]:
    """Parse a rules file strictly; raise ValueError with the line number on anything udev would reject."""
    rules: list[Rule] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if raw.endswith("\\"):
            raise ValueError(f"line {number}: continuation lines are not used in these files")
        rule, pos = Rule(number), 0
        while pos < len(line):
            token = TOKEN.match(line, pos)
            if token is None:
                raise ValueError(f"line {number}: cannot parse at {line[pos:]!r}")
            key, attr, op, value, _sep = token.groups()
            item = Assignment(key, attr, op, value)
            if op in ("==", "!="):
                if key not in MATCH_KEYS:
                    raise ValueError(f"line {number}: {key} is not a match key")
                rule.matches.append(item)
            else:
                if key not in ASSIGN_KEYS:
                    raise ValueError(f"line {number}: {key} cannot be assigned")
                if key in ("GOTO", "LABEL") and op != "=":
                    raise ValueError(f"line {number}: {key} takes '='")
                rule.actions.append(item)
            if key in ("ENV", "ATTR", "ATTRS", "IMPORT") and not attr:
                raise ValueError(f"line {number}: {key} needs {{name}}")
            pos = token.end()
        rules.append(rule)
    labels = {a.value for r in rules for a in r.actions if a.key == "LABEL"}
    for rule in rules:
        for action in rule.actions:
            if action.key == "GOTO" and action.value not in labels:
                raise ValueError(f"line {rule.line}: GOTO to missing LABEL {action.value}")
    return rules


@dataclass
class Device:
    """The properties a rule can look at; ``attrs`` are those of the device and its parents."""

    subsystem: str
    kernel: str
    attrs: dict[str, str]
    action: str = "add"
    env: dict[str, str] = field(default_factory=dict)
    group: str = "root"
    mode: str = "0600"
    symlinks: list[str] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)


def _glob(pattern: str, value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, alternative) for alternative in pattern.split("|"))


def _matches(device: Device, item: Assignment) -> bool:
    values = {
        "ACTION": device.action,
        "SUBSYSTEM": device.subsystem,
        "KERNEL": device.kernel,
        "ATTRS": device.attrs.get(item.attr or "", ""),
        "ENV": device.env.get(item.attr or "", ""),
    }
    if item.key not in values:
        raise NotImplementedError(f"evaluator does not know {item.key}")
    result = _glob(item.value, values[item.key])
    return result if item.op == "==" else not result


def evaluate(rules: list[Rule], device: Device) -> Device:
    """Run ``rules`` in order on ``device`` (the subset of udev these files use)."""
    index = 0
    while index < len(rules):
        rule = rules[index]
        index += 1
        if not all(_matches(device, item) for item in rule.matches):
            continue
        for action in rule.actions:
            if action.key == "ENV":
                device.env[action.attr or ""] = action.value
            elif action.key == "GROUP":
                device.group = action.value
            elif action.key == "MODE":
                device.mode = action.value
            elif action.key == "SYMLINK":
                device.symlinks.append(action.value)
            elif action.key == "TAG":
                device.tags.add(action.value)
            elif action.key == "GOTO":
                index = next(
                    i
                    for i, r in enumerate(rules)
                    if any(a.key == "LABEL" and a.value == action.value for a in r.actions)
                )
                break
    return device


def rules_of(name: str, *, enable_examples: bool = False) -> list[Rule]:
    text = (RULES_DIR / name).read_text(encoding="utf-8")
    if enable_examples:
        # What step 2 of the header asks a site to do: uncomment an example line.
        text = re.sub(r"^#(SUBSYSTEM==)", r"\1", text, flags=re.MULTILINE)
    return parse(text)


def test_there_are_rule_files() -> None:
    assert [path.name for path in RULE_FILES] == [
        "70-packing-station-controller.rules",
        "70-packing-station-scanners.rules",
    ]


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rules_parse_and_explain_how_to_add_a_device(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    assert parse(text)
    header = text.split("\n\n", 1)[0]
    for needed in ("lsusb", "vendor", "product", "udevadm control --reload", "station"):
        assert needed in header, needed


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rules_pass_udevadm_verify(path: Path) -> None:
    udevadm = shutil.which("udevadm")
    if udevadm is None:
        pytest.skip("udevadm is not installed here; the syntax is checked by test_rules_parse_... instead")
    probe = subprocess.run([udevadm, "verify", "--help"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("this udevadm has no 'verify' verb (needs systemd >= 254; bookworm ships 252)")
    result = subprocess.run(
        [udevadm, "verify", "--resolve-names=never", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "bad",
    [
        'SUBSYSTEM="input", GROUP="station"',  # assignment where a match was meant
        'KERNEL=="event*" GROUP="station',  # unterminated value
        'ENV=="1", GROUP="station"',  # ENV without a name
        'ACTION=="remove", GOTO="nowhere"',  # missing label
    ],
)
def test_the_parser_rejects_broken_rules(bad: str) -> None:
    with pytest.raises(ValueError, match="line 1"):
        parse(bad)


SCANNER_KBD = {"idVendor": "0c2e", "idProduct": "0b61"}


def test_a_listed_keyboard_scanner_is_ignored_by_libinput_and_readable_by_the_station() -> None:
    device = evaluate(
        rules_of("70-packing-station-scanners.rules", enable_examples=True), Device("input", "event5", SCANNER_KBD)
    )
    assert device.env["LIBINPUT_IGNORE_DEVICE"] == "1"
    assert (device.group, device.mode) == ("station", "0660")


def test_an_unlisted_keyboard_is_left_alone() -> None:
    device = evaluate(
        rules_of("70-packing-station-scanners.rules", enable_examples=True),
        Device("input", "event2", {"idVendor": "046d", "idProduct": "c31c"}),
    )
    assert "LIBINPUT_IGNORE_DEVICE" not in device.env
    assert device.group == "root"


# What 60-input-id.rules (input_id builtin) sets on a keyboard's event node before these rules run.
KEYBOARD_ENV = {"ID_INPUT": "1", "ID_INPUT_KEY": "1", "ID_INPUT_KEYBOARD": "1"}
SCANNER_VENDORS = ["05e0", "0c2e", "0536", "05f9", "065a", "1eab"]
# Ordinary keyboards: Logitech, Dell, Microsoft, Lenovo, Cherry, Holtek (the Raspberry Pi keyboard's chip).
KEYBOARDS = ["046d:c31c", "413c:2113", "045e:0750", "17ef:6047", "046a:0011", "04d9:0007"]
GENERIC_SCANNER = {"idVendor": "1a86", "idProduct": "e026"}  # a no-name scanner on a generic chip id


def keyboard_node(ids: dict[str, str], kernel: str = "event3") -> Device:
    return Device("input", kernel, dict(ids), env=dict(KEYBOARD_ENV))


def test_shipped_rules_touch_no_other_vendors_scanner_until_a_site_lists_it() -> None:
    device = evaluate(rules_of("70-packing-station-scanners.rules"), keyboard_node(GENERIC_SCANNER))
    assert "LIBINPUT_IGNORE_DEVICE" not in device.env
    assert (device.group, device.mode) == ("root", "0600")


@pytest.mark.parametrize("vendor", SCANNER_VENDORS)
def test_a_scanner_vendors_keyboard_wedge_is_the_stations_without_site_edits(vendor: str) -> None:
    device = evaluate(rules_of("70-packing-station-scanners.rules"), keyboard_node({"idVendor": vendor}))
    assert (device.group, device.mode) == ("station", "0660")
    assert device.env["LIBINPUT_IGNORE_DEVICE"] == "1"
    assert "packing_station_scanner" in device.tags


@pytest.mark.parametrize("ids", KEYBOARDS)
@pytest.mark.parametrize("enable_examples", [False, True], ids=["shipped", "site-lines-on"])
def test_an_ordinary_keyboard_is_never_given_to_the_station(ids: str, enable_examples: bool) -> None:
    # The service is not in group input any more: a keyboard these rules do not list stays unreadable to it.
    vendor, product = ids.split(":")
    device = evaluate(
        rules_of("70-packing-station-scanners.rules", enable_examples=enable_examples),
        keyboard_node({"idVendor": vendor, "idProduct": product}),
    )
    assert device.group == "root"
    assert "LIBINPUT_IGNORE_DEVICE" not in device.env
    assert "PACKING_STATION_SCANNER" not in device.env
    assert device.tags == set()


def test_a_scanner_vendors_node_that_is_not_a_keyboard_is_left_alone() -> None:
    # e.g. a pointer or a HID-POS node of the same scanner: the station reads key events only.
    device = evaluate(
        rules_of("70-packing-station-scanners.rules"),
        Device("input", "event7", {"idVendor": "05e0", "idProduct": "1200"}, env={"ID_INPUT_MOUSE": "1"}),
    )
    assert device.group == "root"
    assert "LIBINPUT_IGNORE_DEVICE" not in device.env


def test_a_scanner_vendors_serial_port_is_the_stations_without_site_edits() -> None:
    device = evaluate(
        rules_of("70-packing-station-scanners.rules"),
        Device("tty", "ttyACM2", {"idVendor": "05f9", "idProduct": "4204"}),
    )
    assert (device.group, device.mode) == ("station", "0660")
    assert device.env["ID_MM_DEVICE_IGNORE"] == "1"


def test_a_site_line_adds_a_scanner_of_another_vendor() -> None:
    # Step 2 of the header for the no-name scanner: one line in the SITE section.
    text = (RULES_DIR / "70-packing-station-scanners.rules").read_text(encoding="utf-8")
    site = (
        'SUBSYSTEM=="input", ATTRS{idVendor}=="1a86", ATTRS{idProduct}=="e026", ENV{PACKING_STATION_SCANNER}="keyboard"'
    )
    marker = "# ---- SITE: serial scanners"
    assert marker in text
    text = text.replace(marker, site + "\n\n" + marker)
    device = evaluate(parse(text), keyboard_node(GENERIC_SCANNER))
    assert (device.group, device.mode) == ("station", "0660")
    assert device.env["LIBINPUT_IGNORE_DEVICE"] == "1"


def test_a_listed_serial_scanner_gets_the_group_and_modemmanager_keeps_off() -> None:
    device = evaluate(
        rules_of("70-packing-station-scanners.rules", enable_examples=True),
        Device("tty", "ttyACM1", {"idVendor": "05f9", "idProduct": "4204"}),
    )
    assert device.env["ID_MM_DEVICE_IGNORE"] == "1"
    assert (device.group, device.mode) == ("station", "0660")
    assert "LIBINPUT_IGNORE_DEVICE" not in device.env


def test_the_controller_gets_its_fixed_name() -> None:
    rules = rules_of("70-packing-station-controller.rules")
    device = evaluate(rules, Device("tty", "ttyACM0", {"idVendor": "2e8a", "idProduct": "0005"}))
    assert device.symlinks == ["packing-station-controller"]
    assert device.env["ID_MM_DEVICE_IGNORE"] == "1"
    assert (device.group, device.mode) == ("station", "0660")
    other = evaluate(rules, Device("tty", "ttyACM1", {"idVendor": "2341", "idProduct": "0043"}))
    assert other.symlinks == []


def test_remove_events_are_skipped() -> None:
    for name in ("70-packing-station-scanners.rules", "70-packing-station-controller.rules"):
        device = evaluate(
            rules_of(name, enable_examples=True),
            Device("tty", "ttyACM0", {"idVendor": "2e8a", "idProduct": "0005"}, action="remove"),
        )
        assert device.env == {}
        assert device.symlinks == []
