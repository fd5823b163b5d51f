"""Station configuration: one TOML file plus `STATION_...` environment overrides, validated by a typed schema.

Each section's model lives next to the code that uses it; this module only assembles them. An unknown key,
in the file or in the environment, is an error that names it — a typo must never silently fall back to a
default at a warehouse bench. Precedence: environment > file > embedded defaults.

Environment overrides use `__` between levels: `STATION_WORKFLOW__IDLE_LOCK_S=600`.
`STATION_CONFIG` names the file and `STATION_DATA` the data directory.
"""

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from station.devices import DevicesSettings
from station.scan import ScanRules
from station.workflow.settings import WorkflowSettings

ENV_PREFIX = "STATION_"
# Variables with our prefix that are not config keys.
_NON_KEY_ENV = {"STATION_CONFIG", "STATION_DATA"}


class ConfigError(Exception):
    """The configuration is invalid; the message names every key at fault."""


class StationSection(BaseModel):
    """Who this station is and where it keeps its data."""

    model_config = ConfigDict(extra="forbid")

    site: str = Field("WH1", description="Warehouse site code; part of MQTT topics (wh/v1/{site}/{station}).")
    station_id: str = Field("ST01", description="This station's id, unique within the site.")
    data_dir: Path = Field(
        default_factory=lambda: Path(os.environ.get("STATION_DATA", "station-data")),
        description="Directory for the database, clips and logs (default ./station-data or $STATION_DATA).",
    )

    @property
    def database_path(self) -> Path:
        """The SQLite file."""
        return self.data_dir / "station.db"


class Settings(BaseSettings):
    """The whole configuration (`station.toml`)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    station: StationSection = Field(default_factory=StationSection, description="Identity and data directory.")
    workflow: WorkflowSettings = Field(default_factory=WorkflowSettings, description="Bench rules and timings.")
    scan: ScanRules = Field(default_factory=ScanRules, description="How scanned codes are classified.")
    devices: DevicesSettings = Field(default_factory=DevicesSettings, description="Devices at the bench.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment over file over defaults; no dotenv or secrets directory."""
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def _check_environment(environ: dict[str, str]) -> list[str]:
    sections = set(Settings.model_fields)
    problems = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in _NON_KEY_ENV:
            continue
        head = name[len(ENV_PREFIX) :].split("__", 1)[0].lower()
        if head not in sections:
            problems.append(f"{name}: unknown key (environment); known sections: {', '.join(sorted(sections))}")
    return problems


def _describe(err: ValidationError, origin: str) -> list[str]:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"{origin}: unknown key '{key}'")
        else:
            lines.append(f"{origin}: {key}: {e['msg']}")
    return lines


def load_settings(path: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Load and validate the configuration; raise ConfigError naming every bad key."""
    env = dict(os.environ if environ is None else environ)
    if path is None and env.get("STATION_CONFIG"):
        path = Path(env["STATION_CONFIG"])
    origin = str(path) if path else "embedded defaults"
    problems = _check_environment(env)
    if path is not None:
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError(f"{path}: cannot read: {err.strerror}") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML: {err}") from err
    if problems:
        raise ConfigError("\n".join(problems))
    settings_cls = type("_FileSettings", (Settings,), {"model_config": {**Settings.model_config, "toml_file": path}})
    try:
        return settings_cls()  # type: ignore[no-any-return]
    except ValidationError as err:
        raise ConfigError("\n".join(_describe(err, origin))) from err


def render_example() -> str:
    """The documented example configuration: every key with its default and its description."""
    out = [
        "# Packing Station configuration (station.toml). Every key is optional; shown with its default.",
        "# Unknown keys are an error. Environment overrides: STATION_<SECTION>__<KEY>=value.",
        "",
    ]
    defaults = Settings.model_construct()
    for section_name, section_field in Settings.model_fields.items():
        section = getattr(defaults, section_name)
        out.append(f"# {section_field.description}")
        out.append(f"[{section_name}]")
        for key, field in type(section).model_fields.items():
            value = getattr(section, key)
            out.extend(f"# {line}" for line in (field.description or key).splitlines())
            out.append(_toml_line(key, value))
        out.append("")
    return "\n".join(out)


def _toml_line(key: str, value: Any) -> str:
    if value is None:
        return f"# {key} =  (not set)"
    return f"{key} = {_toml_value(value)}"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path | str):
        return _toml_string(str(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, BaseModel):
        return _toml_value(value.model_dump(mode="json"))
    raise TypeError(f"cannot render {value!r} as TOML")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else _toml_string(key)


def _toml_string(text: str) -> str:
    # TOML literal strings keep regex backslashes readable; fall back to basic strings when needed.
    if "'" not in text and "\n" not in text:
        return f"'{text}'"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
