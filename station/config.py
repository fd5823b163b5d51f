"""Station configuration: one TOML file plus `STATION_...` environment overrides, validated by a typed schema.

Each section's model lives next to the code that uses it; this module only assembles them. An unknown key,
in the file or in the environment, is an error that names it — a typo must never silently fall back to a
default at a warehouse bench. Precedence: command-line flags (`overrides`, e.g. `station run --port`) >
environment > file > embedded defaults.

Environment overrides use `__` between levels: `STATION_WORKFLOW__IDLE_LOCK_S=600`.
`STATION_CONFIG` names the file and `STATION_DATA` the data directory.
"""

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from cloud_sync.settings import SyncSettings
from station.api.settings import ApiSettings
from station.config_section import ConfigSection
from station.devices.settings import DevicesSettings
from station.printing.settings import PrintingSettings
from station.priority.rules import PrioritySettings
from station.scan import ScanRules
from station.video.settings import VideoSettings
from station.workflow.settings import WorkflowSettings

ENV_PREFIX = "STATION_"
# Variables with our prefix that are not config keys.
_NON_KEY_ENV = {"STATION_CONFIG", "STATION_DATA"}


class ConfigError(Exception):
    """The configuration is invalid; the message names every key at fault."""


class StationSection(ConfigSection):
    """Who this station is and where it keeps its data."""

    site: str = Field("WH1", description="Warehouse site code; part of MQTT topics (wh/v1/{site}/{station}).")
    station_id: str = Field("ST01", description="This station's id, unique within the site.")
    data_dir: Path = Field(
        Path("station-data"),
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
    printing: PrintingSettings = Field(
        default_factory=PrintingSettings,
        description="Label printing: auto-print, template, Chinese text, the print queue.",
    )
    api: ApiSettings = Field(default_factory=ApiSettings, description="The HTTP API.")
    sync: SyncSettings = Field(
        default_factory=SyncSettings, description="The MQTT link to the hub; no broker = sync off, events wait."
    )
    priority: PrioritySettings = Field(
        default_factory=PrioritySettings, description="Priority levels, SLA colours, the PDA queue and alerts."
    )
    video: VideoSettings = Field(
        default_factory=VideoSettings,
        description="Packing video (with [devices] camera): segments, clip pre/post-roll, photos, retention.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Command-line overrides (the init arguments) over environment over file over defaults; no dotenv or
        secrets directory. pydantic-settings merges the sources key by key, so `--port` leaves `[api] host`."""
        environ: dict[str, str] = settings_cls.model_config.get("environ", {})  # type: ignore[assignment]
        return (init_settings, _EnvironSource(settings_cls, environ), TomlConfigSettingsSource(settings_cls))


class _EnvironSource(PydanticBaseSettingsSource):
    """`STATION_SECTION__KEY=value` from an explicit mapping (so tests and tools need not touch os.environ).

    Values that look like JSON arrays or objects are decoded, for list and table keys.
    """

    def __init__(self, settings_cls: type[BaseSettings], environ: dict[str, str]) -> None:
        super().__init__(settings_cls)
        self._environ = environ

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        """Unused: `__call__` builds the whole mapping at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        """The nested mapping of every config key set in the environment."""
        out: dict[str, Any] = {}
        if self._environ.get("STATION_DATA"):
            out["station"] = {"data_dir": self._environ["STATION_DATA"]}
        for name, raw in self._environ.items():
            if not name.startswith(ENV_PREFIX) or name in _NON_KEY_ENV or "__" not in name:
                continue
            section, key = name[len(ENV_PREFIX) :].lower().split("__", 1)
            value: Any = raw
            if raw.lstrip().startswith(("[", "{")):
                try:
                    value = json.loads(raw)
                except json.JSONDecodeError:
                    value = raw
            out.setdefault(section, {})[key] = value
        return out


def _check_environment(environ: dict[str, str]) -> list[str]:
    problems = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in _NON_KEY_ENV:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        section_field = Settings.model_fields.get(section)
        if section_field is None or not key:
            known = ", ".join(Settings.model_fields)
            problems.append(f"{name}: unknown key '{section}' (environment); sections: {known}")
            continue
        model = section_field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel) and key not in model.model_fields:
            problems.append(f"{name}: unknown key '{section}.{key}' (environment)")
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


def load_settings(
    path: Path | None = None,
    environ: dict[str, str] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> Settings:
    """Load and validate the configuration; raise ConfigError naming every bad key.

    `overrides` (`{"api": {"port": 9000}}`: section, key, value) win over the environment and the file; the
    command line passes its flags here, already checked, so that one place decides the precedence.
    """
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
    config = {**Settings.model_config, "toml_file": path, "environ": env}
    settings_cls = type("_LoadedSettings", (Settings,), {"model_config": config})
    try:
        return settings_cls(**(overrides or {}))  # type: ignore[no-any-return]
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
    if isinstance(value, list | tuple) and value and all(isinstance(v, BaseModel) for v in value):
        return "[\n" + "".join(f"  {_toml_value(v)},\n" for v in value) + "]"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, BaseModel):
        return _toml_value(value.model_dump(mode="json", exclude_defaults=True))
    raise TypeError(f"cannot render {value!r} as TOML")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else _toml_string(key)


def _toml_string(text: str) -> str:
    # TOML literal strings keep regex backslashes readable; fall back to basic strings when needed.
    if "'" not in text and "\n" not in text:
        return f"'{text}'"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
