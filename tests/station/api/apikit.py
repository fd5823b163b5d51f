"""Helpers for the API tests: the client wrapper with one token per role, and the sample order."""

from dataclasses import dataclass

from fastapi.testclient import TestClient

from station.app import Station
from station.events import Actor

ADMIN = Actor(role="system", id="test")
ORDER = {
    "order_id": "SO20260205-8821",
    "version": 3,
    "carrier": "SF",
    "waybill_no": "SF1234567890123",
    "lines": [{"line_no": 1, "sku": "FOOD", "name": "猫粮", "barcodes": ["FOOD-2KG-BAG"], "qty": 2}],
}
PASSWORD = "correct horse battery"


@dataclass
class Api:
    client: TestClient
    station: Station
    tokens: dict[str, str]  # role (and "revoked", "other_bench") -> bearer secret

    def headers(self, who: str | None, **extra: str) -> dict[str, str]:
        h = dict(extra)
        if who is not None:
            h["Authorization"] = f"Bearer {self.tokens[who]}"
        return h
