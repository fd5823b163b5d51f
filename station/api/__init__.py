"""The station's HTTP API: FastAPI routes under /api/v1 and /metrics (`station.api.server.create_api`)."""

API_PREFIX = "/api/v1"
