"""Shops' own order ids (`#1001`, `ERP/2026/7`, `A?b&c`) travel safely through URLs: the API and the pages find
the order when the id is percent-encoded, as the pages encode it."""

from urllib.parse import quote

import pytest
from apikit import ADMIN, ORDER, Api

from station.orders.intake import intake_order

IDS = ["#1001", "ERP/2026/7", "A?b&c=d", "100%", "100%2F", "<b>x</b>", "a/../b"]


@pytest.mark.parametrize("order_id", IDS)
def test_an_order_with_any_id_is_found_by_its_percent_encoded_url(api: Api, order_id: str) -> None:
    assert intake_order(api.station.store, dict(ORDER, order_id=order_id), ADMIN).ok
    path = quote(order_id, safe="")
    order = api.client.get(f"/api/v1/orders/{path}", headers=api.headers("supervisor"))
    assert order.status_code == 200, order.text
    assert order.json()["order_id"] == order_id
    timeline = api.client.get(f"/api/v1/orders/{path}/timeline", headers=api.headers("supervisor"))
    assert timeline.status_code == 200, timeline.text
    assert api.client.get(f"/orders/{path}").status_code == 200  # the order page (its data comes from the API)


@pytest.mark.parametrize("order_id", [".", ".."])
def test_an_id_that_a_url_would_drop_is_refused_at_intake(api: Api, order_id: str) -> None:
    result = intake_order(api.station.store, dict(ORDER, order_id=order_id), ADMIN)
    assert (result.result, result.reason) == ("refused", "invalid_order")
