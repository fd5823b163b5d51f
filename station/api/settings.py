"""The `[api]` section: where the HTTP API listens."""

from pydantic import Field

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
