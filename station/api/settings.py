"""The `[api]` section: where the HTTP API listens, and which proxies it believes."""

from pydantic import Field, field_validator

from station.api.client_address import parse_networks
from station.config_section import ConfigSection


class ApiSettings(ConfigSection):
    """Where the HTTP API listens and how its session cookie is set."""

    host: str = Field(
        "127.0.0.1", description="Listen address. Use 0.0.0.0 to serve PDAs and bench screens on the LAN."
    )
    port: int = Field(8080, ge=1, le=65535, description="Listen port.")
    cookie_secure: bool = Field(
        False, description="Mark the supervisor session cookie Secure (set true when served behind HTTPS)."
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
