"""`SyncSettings` (the [sync] section): typo-proof, documented, and consistent."""

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from cloud_sync.mapping import MappingSettings, MappingTable
from cloud_sync.settings import SyncSettings


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for f in model.model_fields.values():
        ann = f.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            found += _models(ann)
    return found


def test_defaults_mean_sync_off() -> None:
    s = SyncSettings()
    assert not s.enabled
    assert s.effective_port == 1883
    assert SyncSettings(broker="mq.local", tls=True).effective_port == 8883
    assert SyncSettings(broker="mq.local", tls=True, port=9999).effective_port == 9999


@pytest.mark.parametrize("model", _models(SyncSettings), ids=lambda m: m.__name__)
def test_every_field_documented_and_unknown_keys_refused(model: type[BaseModel]) -> None:
    for name, f in model.model_fields.items():
        assert f.description, f"{model.__name__}.{name} has no description"
    assert model.model_config.get("extra") == "forbid"


def test_typo_is_an_error() -> None:
    with pytest.raises(ValidationError, match="brokr"):
        SyncSettings.model_validate({"brokr": "x"})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tls": True, "cert_file": Path("c.pem")}, "cert_file and key_file go together"),
        ({"ca_file": Path("ca.pem")}, "tls = false"),
        ({"password": "secret"}, "without username"),
        ({"backoff_min_s": 10, "backoff_max_s": 1}, "backoff_max_s"),
        ({"keepalive_s": 1}, "greater than or equal to 2"),
    ],
)
def test_inconsistent_settings_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SyncSettings(broker="mq", **fields)  # type: ignore[arg-type]


def test_password_is_secret() -> None:
    s = SyncSettings(broker="mq", username="st01", password="hunter2")  # type: ignore[arg-type]
    assert "hunter2" not in repr(s)
    assert s.password is not None
    assert s.password.get_secret_value() == "hunter2"


def test_mapping_must_name_canonical_statuses() -> None:
    with pytest.raises(ValidationError, match="unknown canonical statuses"):
        MappingSettings(inbound=MappingTable(status={"2": "waiting"}))
    with pytest.raises(ValidationError, match="from unknown canonical"):
        MappingSettings(outbound=MappingTable(status={"shipped": "3"}))
    ok = SyncSettings.model_validate({"mapping": {"inbound": {"status": {"2": "pending", "shipped": "labeled"}}}})
    assert ok.mapping.inbound.status["2"] == "pending"
