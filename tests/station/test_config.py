"""Configuration: typed, unknown keys named, environment overrides, and the shipped example in sync."""

from pathlib import Path

import pytest

from station.config import ConfigError, load_settings, render_example

EXAMPLE = Path(__file__).resolve().parents[2] / "station.example.toml"


def test_embedded_defaults() -> None:
    settings = load_settings(None, environ={})
    assert settings.workflow.idle_lock_s == 900
    assert settings.station.database_path == Path("station-data/station.db")


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text("[workflow]\nidle_lock = 30\n")
    with pytest.raises(ConfigError, match=r"unknown key 'workflow\.idle_lock'"):
        load_settings(path, environ={})


def test_unknown_section_is_named(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text("[workfow]\nidle_lock_s = 30\n")
    with pytest.raises(ConfigError, match="unknown key 'workfow'"):
        load_settings(path, environ={})


def test_bad_value_is_named(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text("[workflow]\nidle_lock_s = 'soon'\n")
    with pytest.raises(ConfigError, match=r"workflow\.idle_lock_s"):
        load_settings(path, environ={})


def test_not_toml(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text("[workflow\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path, environ={})


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text("[workflow]\nidle_lock_s = 30\n")
    settings = load_settings(path, environ={"STATION_WORKFLOW__IDLE_LOCK_S": "45", "STATION_DATA": str(tmp_path)})
    assert settings.workflow.idle_lock_s == 45
    assert settings.station.data_dir == tmp_path


@pytest.mark.parametrize("name", ["STATION_WORKFLOW__IDLE_LOK_S", "STATION_WORKFOW__IDLE_LOCK_S"])
def test_unknown_environment_key_is_named(name: str) -> None:
    with pytest.raises(ConfigError, match=name.split("__", maxsplit=1)[0] if "WORKFOW" in name else "idle_lok_s"):
        load_settings(None, environ={name: "1"})


def test_shipped_example_is_current_and_loads() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == render_example(), "run: station config example > station.example.toml"
    settings = load_settings(EXAMPLE, environ={})
    assert settings.model_dump() == load_settings(None, environ={}).model_dump()


def test_bad_scan_pattern_is_named(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text("[scan]\norder_patterns = ['(unclosed']\n")
    with pytest.raises(ConfigError, match=r"scan\.order_patterns"):
        load_settings(path, environ={})
