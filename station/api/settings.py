"""The `[api]` section: where the HTTP API listens, whether it serves HTTPS, and which proxies it believes."""

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from station.api.client_address import parse_networks
from station.config_section import ConfigSection


class ApiSettings(ConfigSection):
    """Where the HTTP API listens, with which certificate, and how its session cookie is set."""

    host: str = Field(
        "127.0.0.1", description="Listen address. Use 0.0.0.0 to serve PDAs and bench screens on the LAN."
    )
    port: int = Field(8080, ge=1, le=65535, description="Listen port.")
    cookie_secure: bool = Field(
        False,
        description="Mark the supervisor session cookie Secure (set true behind a TLS-terminating reverse proxy; "
        "with tls_cert it is always Secure).",
    )
    tls_cert: Path | None = Field(
        None,
        description="Serve HTTPS with this PEM certificate (its chain may follow it in the file); set tls_key too. "
        "`station tls self-signed` makes a pair for a first install. Not set: plain HTTP.",
    )
    tls_key: Path | None = Field(
        None, description="The PEM private key of tls_cert, unencrypted; readable by the station's user only."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description=(
            "Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For is believed for the per-client "
            "login limits. Empty: the socket's peer address always counts, and the header never does."
        ),
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        try:
            parse_networks(value)
        except ValueError as err:
            raise ValueError(f"not an address or network: {err}") from err
        return value

    @model_validator(mode="after")
    def _cert_with_key(self) -> "ApiSettings":
        # One without the other would silently serve plain HTTP, or fail deep inside the TLS library.
        if (self.tls_cert is None) != (self.tls_key is None):
            given, missing = ("tls_cert", "tls_key") if self.tls_key is None else ("tls_key", "tls_cert")
            raise ValueError(f"{given} is set but {missing} is not: set both (HTTPS) or neither (plain HTTP)")
        return self

    @property
    def https(self) -> bool:
        """True when the station itself serves HTTPS (`tls_cert` and `tls_key` set)."""
        return self.tls_cert is not None and self.tls_key is not None
